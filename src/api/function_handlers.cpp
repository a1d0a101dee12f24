// A site's functions (issue 11, items 6 and 7; shapes in docs/api.md, "Functions"):
//   GET /api/v1/sites/{site}/functions[?deploy_id=]   the deploy's functions with their routes,
//       runtime, bundle size and the last hour's calls, errors and p50/p99 duration
//   GET /api/v1/sites/{site}/functions/{name}/log[?deploy_id=&since=&limit=]   log lines
//   GET /api/v1/sites/{site}/functions/{name}/log/stream[?deploy_id=]   the same, live (WebSocket)
// The deploy is the site's published one unless deploy_id names another deploy of the site. The
// site's owner only: another user's site (or a deploy of another site) is 404.
#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <limits>

#include "api/app.hpp"
#include "api/errors.hpp"
#include "api/function_log_stream.hpp"
#include "api/json_input.hpp"

namespace replideploy::api {

namespace json = boost::json;

namespace {

constexpr int kDefaultLogLines = 100;
constexpr int kMaxLogLines = 1000;
constexpr std::chrono::hours kStatsWindow{1};

// The deploy whose functions the request is about.
Result<deploys::Deploy> FunctionsDeploy(App& app, const std::string& user_id,
                                        const http::Request& req, const deploys::Site& site) {
  std::string deploy_id = req.QueryParam("deploy_id").value_or("");
  if (deploy_id.empty()) {
    if (!site.published_deploy_id || site.published_deploy_id->empty()) {
      return MakeError(ErrorCode::kNotFound, "the site has no published deploy");
    }
    deploy_id = *site.published_deploy_id;
  }
  RD_TRY(deploys::Deploy deploy, app.deploys().Get(user_id, deploy_id));
  if (deploy.site_id != site.id) return MakeError(ErrorCode::kNotFound, "deploy not found");
  return deploy;
}

Result<int> NumberParam(const http::Request& req, std::string_view name, int fallback, int low,
                        int high) {
  const auto text = req.QueryParam(name);
  if (!text) return fallback;
  int n = 0;
  const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), n);
  if (ec != std::errc() || end != text->data() + text->size() || n < low || n > high) {
    return MakeError(ErrorCode::kBadRequest, std::string(name) + " must be a number from " +
                                                 std::to_string(low) + " to " +
                                                 std::to_string(high));
  }
  return n;
}

json::array RoutesJson(const std::string& name, const deploys::FunctionEntry& fn) {
  json::array routes;
  if (fn.routes.empty()) {
    routes.push_back(json::value("/.netlify/functions/" + name));
    routes.push_back(json::value("/api/" + name));
  }
  for (const auto& r : fn.routes) routes.push_back(json::value(r.pattern.source()));
  return routes;
}

Result<http::Response> ListFunctions(App& app, http::Request& req) {
  RD_TRY(auth::User user, app.Authenticate(req, auth::Scope::kRead));
  RD_TRY(deploys::Site site, app.sites().Get(user.id, req.path_params["site_id"]));
  json::object out{{"site_id", site.id}, {"window_seconds", 3600}};
  auto deploy = FunctionsDeploy(app, user.id, req, site);
  if (!deploy.ok()) {
    // No published deploy yet: nothing to list (a named deploy that is not there stays 404).
    if (req.QueryParam("deploy_id") || deploy.error().code != ErrorCode::kNotFound) {
      return std::move(deploy).error();
    }
    out["deploy_id"] = nullptr;
    out["functions"] = json::array{};
    return JsonResponse(200, out);
  }
  RD_TRY(auto manifest, app.deploys().Manifest(deploy->id));
  RD_TRY(auto stats, app.function_stats().ForDeploy(deploy->id, kStatsWindow));
  std::vector<std::string> names;
  for (const auto& [name, fn] : manifest->functions) names.push_back(name);
  std::sort(names.begin(), names.end());
  json::array functions;
  for (const std::string& name : names) {
    const deploys::FunctionEntry& fn = manifest->functions.at(name);
    auto size = app.blobs().Size(fn.sha256, store::Variant::kIdentity);
    const deploys::FunctionCallStats s =
        stats.count(name) ? stats.at(name) : deploys::FunctionCallStats{};
    functions.push_back(json::object{{"name", name},
                                     {"routes", RoutesJson(name, fn)},
                                     {"runtime", fn.runtime.empty() ? "js" : fn.runtime},
                                     {"sha256", fn.sha256},
                                     {"size", size.ok() ? static_cast<std::int64_t>(*size) : 0},
                                     {"invocations", s.invocations},
                                     {"errors", s.errors},
                                     {"p50_ms", s.p50_ms},
                                     {"p99_ms", s.p99_ms}});
  }
  out["deploy_id"] = deploy->id;
  out["functions"] = std::move(functions);
  return JsonResponse(200, out);
}

// The deploy and function a log request is about, checked.
struct LogTarget {
  std::string deploy_id;
  std::string function_name;
};

Result<LogTarget> FindLogTarget(App& app, const std::string& user_id, http::Request& req) {
  RD_TRY(deploys::Site site, app.sites().Get(user_id, req.path_params["site_id"]));
  RD_TRY(deploys::Deploy deploy, FunctionsDeploy(app, user_id, req, site));
  RD_TRY(auto manifest, app.deploys().Manifest(deploy.id));
  const std::string name = req.path_params["name"];
  if (manifest->FindFunction(name) == nullptr) {
    return MakeError(ErrorCode::kNotFound, "the deploy has no function " + name);
  }
  return LogTarget{deploy.id, name};
}

Result<http::Response> FunctionLog(App& app, http::Request& req) {
  RD_TRY(auth::User user, app.Authenticate(req, auth::Scope::kRead));
  RD_TRY(LogTarget target, FindLogTarget(app, user.id, req));
  RD_TRY(int limit, NumberParam(req, "limit", kDefaultLogLines, 1, kMaxLogLines));
  std::vector<deploys::FunctionLogLine> lines;
  std::int64_t next = 0;
  if (req.QueryParam("since")) {
    RD_TRY(int since, NumberParam(req, "since", 0, 0, std::numeric_limits<int>::max()));
    next = since;
    RD_TRY(lines, app.function_logs().Read(target.deploy_id, target.function_name, since, limit));
  } else {
    RD_TRY(lines, app.function_logs().Tail(target.deploy_id, target.function_name, limit));
  }
  json::array out;
  for (const auto& l : lines) {
    out.push_back(json::object{{"n", l.seq},
                               {"ts", core::FormatIso8601(l.ts)},
                               {"stream", l.stream},
                               {"request_id", l.request_id},
                               {"line", l.line}});
  }
  if (!lines.empty()) next = lines.back().seq + 1;
  return JsonResponse(200, json::object{{"deploy_id", target.deploy_id},
                                        {"function", target.function_name},
                                        {"lines", std::move(out)},
                                        {"next_since", next}});
}

}  // namespace

void AddFunctionRoutes(http::Router& router, App& app) {
  router.Add("GET", "/api/v1/sites/{site_id}/functions",
             Handle([&app](http::Request& req) { return ListFunctions(app, req); }));
  router.Add("GET", "/api/v1/sites/{site_id}/functions/{name}/log",
             Handle([&app](http::Request& req) { return FunctionLog(app, req); }));
  // Like the build log's stream: the token may come as a subprotocol "bearer.<token>" next to
  // "replideploy.log.v1"; refusals go over the socket (4401, 4404).
  router.Add(
      "GET", "/api/v1/sites/{site_id}/functions/{name}/log/stream", [&app](http::Request& req) {
        if (!http::IsWebSocketUpgrade(req)) {
          return http::Response::Error(426, "upgrade_required",
                                       "this is a WebSocket endpoint; GET "
                                       "/api/v1/sites/{site}/functions/{name}/log returns the log");
        }
        auto accept = std::make_shared<http::WebSocketAccept>();
        std::string token;
        for (const auto& protocol : http::WebSocketProtocols(req)) {
          if (protocol == "replideploy.log.v1") accept->protocol = protocol;
          if (protocol.starts_with("bearer.")) token = protocol.substr(7);
        }
        auto who = token.empty() ? app.Authorize(req, auth::Scope::kRead)
                                 : app.AuthorizeBearer(token, auth::Scope::kRead);
        std::uint16_t refusal = 0;
        LogTarget target;
        if (!who.ok()) {
          refusal = 4401;
        } else if (auto found = FindLogTarget(app, who->user.id, req); found.ok()) {
          target = std::move(found).value();
        } else {
          refusal = 4404;
        }
        accept->on_open = [&app, refusal, target](std::shared_ptr<http::WebSocket> socket) {
          if (refusal == 4401) return socket->Close(4401, "not authenticated");
          if (refusal == 4404) return socket->Close(4404, "function not found");
          app.function_log_streams().Add(target.deploy_id, target.function_name, std::move(socket));
        };
        http::Response response;
        response.websocket = std::move(accept);
        return response;
      });
}

}  // namespace replideploy::api
