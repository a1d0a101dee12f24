#include "api/app.hpp"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "api/errors.hpp"
#include "http/client_address.hpp"

namespace replideploy::api {

namespace json = boost::json;

App::App(ApiServices services, ApiOptions options)
    : services_(std::move(services)),
      options_(std::move(options)),
      log_streams_(services_.build_logs, services_.deploys, services_.build_queue,
                   options_.log_stream_poll),
      function_log_streams_(services_.function_logs, options_.log_stream_poll) {
  AddHealthRoutes(router_, *this);
  AddAuthRoutes(router_, *this);
  AddSessionRoutes(router_, *this);
  AddSiteRoutes(router_, *this);
  AddDeployRoutes(router_, *this);
  AddAccountRoutes(router_, *this);
  AddGitRemoteRoutes(router_, *this);
  AddEnvRoutes(router_, *this);
  AddGithubRoutes(router_, *this);
  AddLogStreamRoutes(router_, *this);
  AddRulesRoutes(router_, *this);
  AddHostedOnlyRoutes(router_, *this);
  AddDomainRoutes(router_, *this);
  AddAnalyticsRoutes(router_, *this);
  AddFunctionRoutes(router_, *this);
  auto dashboard = DashboardFiles::Load(options_.dashboard_dir);
  if (!dashboard.ok()) spdlog::error("dashboard: {}", dashboard.error().message);
  dashboard_ = dashboard.ok() ? std::move(dashboard).value() : DashboardFiles::Load("").value();
}

App::~App() { ShutdownLogStreams(); }

void App::ShutdownLogStreams() {
  log_streams_.Shutdown();
  function_log_streams_.Shutdown();
}

std::string App::PublicUrl(std::string_view path) const {
  if (options_.public_url.empty()) return ControlUrl(path);
  std::string base = options_.public_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + std::string(path);
}

bool App::IsControlHost(std::string_view host) const {
  return host.empty() || host == "localhost" || host == "127.0.0.1" || host == "::1" ||
         (!options_.admin_host.empty() && host == options_.admin_host);
}

std::string App::SiteUrl(std::string_view label) const {
  const std::uint16_t port = public_port_;
  std::string url = "http://" + std::string(label) + "." + options_.base_domain;
  if (port != 80) url += ":" + std::to_string(port);
  return url;
}

std::string App::ControlUrl(std::string_view path) const {
  const std::uint16_t port = public_port_;
  const std::string host = options_.admin_host.empty() ? "localhost" : options_.admin_host;
  std::string url = "http://" + host;
  if (port != 80) url += ":" + std::to_string(port);
  return url + std::string(path);
}

std::string App::ClientAddress(const http::Request& request) const {
  return http::ClientAddress(request, options_.trusted_proxies);
}

Result<auth::Principal> App::AuthorizeBearer(std::string_view bearer, auth::Scope scope) {
  auto principal = services_.users.Authenticate(bearer);
  if (!principal.ok()) {
    const Error& e = principal.error();
    // The precise reason (bad signature, unknown token) is for the log, not the client; an
    // ended session or an expired token says so, as its holder can do something about it.
    if (e.code == ErrorCode::kUnauthenticated && e.detail_code.empty()) {
      spdlog::info("authentication refused: {}", e.message);
      return MakeError(ErrorCode::kUnauthenticated, "invalid or expired credentials");
    }
    return principal;
  }
  if (!principal->Allows(scope)) {
    return MakeError(ErrorCode::kForbidden, "insufficient_scope",
                     "this API token lacks the \"" + std::string(auth::ScopeName(scope)) +
                         "\" scope that this request needs");
  }
  return principal;
}

Result<auth::Principal> App::Authorize(const http::Request& request, auth::Scope scope) {
  std::string_view header = request.Header("Authorization");
  constexpr std::string_view kScheme = "bearer ";
  if (header.size() <= kScheme.size() ||
      !std::equal(kScheme.begin(), kScheme.end(), header.begin(), [](char a, char b) {
        return a == std::tolower(static_cast<unsigned char>(b));
      })) {
    return MakeError(ErrorCode::kUnauthenticated,
                     "missing or malformed Authorization header; expected 'Bearer <token>'");
  }
  header.remove_prefix(kScheme.size());
  while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
  return AuthorizeBearer(header, scope);
}

Result<auth::User> App::Authenticate(const http::Request& request, auth::Scope scope) {
  RD_TRY(auth::Principal principal, Authorize(request, scope));
  return std::move(principal.user);
}

audit::ClientInfo App::Client(const http::Request& request) const {
  return {ClientAddress(request), std::string(request.Header("User-Agent"))};
}

void App::RecordAudit(const auth::Principal& principal, const http::Request& request,
                      std::string action, std::string target, const json::object& details) {
  Status recorded = services_.audit.Record(audit::Event{principal.user.id, action,
                                                        std::move(target), json::serialize(details),
                                                        principal.ActorFrom(Client(request))});
  if (!recorded.ok()) {
    spdlog::error("request {}: audit event {} not recorded: {}", request.request_id, action,
                  recorded.error().message);
  }
}

http::Resolver App::Resolver() {
  return [this](const http::Request& head) -> http::Dispatch {
    http::RouteMatch match = router_.Match(head.method, head.path);
    switch (match.kind) {
      case http::RouteMatch::Kind::kFound: {
        http::Dispatch found{*match.handler, match.options.body_limit, std::move(match.params),
                             match.options.pool};
        if (match.options.never_blocks) {
          found.fast_handler = [handler = *match.handler](http::Request& r) {
            return std::optional<http::Response>(handler(r));
          };
        }
        return found;
      }
      case http::RouteMatch::Kind::kMethodNotAllowed: {
        std::string allow;
        for (const auto& m : match.allowed_methods) allow += (allow.empty() ? "" : ", ") + m;
        return {[allow](http::Request&) {
                  http::Response r = http::Response::Error(405, "method_not_allowed",
                                                           "method not allowed; allowed: " + allow);
                  r.headers.Set("Allow", allow);
                  return r;
                },
                http::kDefaultBodyLimit,
                {}};
      }
      case http::RouteMatch::Kind::kNotFound:
        break;
    }
    // What no API route takes is the dashboard's, for reads.
    const bool api_path = head.path.starts_with("/api/") || head.path.starts_with("/auth/");
    if (!api_path && (head.method == "GET" || head.method == "HEAD")) {
      return {
          [this](http::Request& r) { return dashboard_->Serve(r); }, http::kDefaultBodyLimit, {}};
    }
    return {[](http::Request& r) {
              return http::Response::Error(404, "not_found",
                                           "no route for " + r.method + " " + r.path);
            },
            http::kDefaultBodyLimit,
            {}};
  };
}

http::Handler Handle(std::function<Result<http::Response>(http::Request&)> body) {
  return [body = std::move(body)](http::Request& request) -> http::Response {
    auto result = body(request);
    if (!result.ok()) return ErrorResponse(result.error(), request.request_id);
    return std::move(result).value();
  };
}

void AddHealthRoutes(http::Router& router, App& app) {
  // Answered on the I/O thread: however busy the handler pools are, the process says it is up.
  router.Add("GET", "/healthz",
             [](http::Request&) { return http::Response::Json(200, R"({"status":"ok"})"); },
             {.never_blocks = true});
  router.Add("GET", "/readyz", [&app](http::Request& request) {
    Status ping = app.Ready();
    if (!ping.ok()) {
      return ErrorResponse(MakeError(ErrorCode::kUnavailable, ping.error().message),
                           request.request_id);
    }
    return http::Response::Json(200, R"({"status":"ready","database":"ok"})");
  });
}

}  // namespace replideploy::api
