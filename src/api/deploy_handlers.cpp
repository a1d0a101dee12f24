// Deploys in Netlify's API shape, the subset netlify-cli's `deploy` uses, plus rollback/lock.
#include <algorithm>
#include <boost/json.hpp>

#include "api/app.hpp"
#include "api/errors.hpp"
#include "api/json_input.hpp"
#include "core/clock.hpp"
#include "deploys/cron.hpp"
#include "deploys/file_batch.hpp"

namespace replideploy::api {

namespace json = boost::json;

namespace {

constexpr std::size_t kMaxFileUpload = std::size_t{256} << 20;  // per file
constexpr std::size_t kMaxFileList = std::size_t{64} << 20;     // the PUT with every digest
constexpr std::size_t kMaxFileBatch = std::size_t{64} << 20;    // our CLI's batched upload

json::value OptionalTime(const std::optional<std::int64_t>& t) {
  return t ? json::value(core::FormatIso8601(*t)) : json::value(nullptr);
}

json::array Strings(const std::vector<std::string>& v) {
  json::array out;
  for (const auto& s : v) out.emplace_back(s);
  return out;
}

// Reads a {"name": "digest"} object.
Result<std::map<std::string, std::string>> DigestMap(const json::object& body,
                                                     std::string_view field) {
  std::map<std::string, std::string> out;
  RD_TRY(const json::object* obj, OptionalObject(body, field));
  if (obj == nullptr) return out;
  for (const auto& [key, value] : *obj) {
    if (!value.is_string()) {
      return MakeError(ErrorCode::kBadRequest,
                       std::string(field) + "['" + std::string(key) + "'] must be a string");
    }
    out.emplace(std::string(key), std::string(value.as_string()));
  }
  return out;
}

// An optional array of strings (absent or null: empty).
Result<std::vector<std::string>> StringArray(const json::object& body, std::string_view field) {
  std::vector<std::string> out;
  const json::value* value = body.if_contains(field);
  if (value == nullptr || value->is_null()) return out;
  if (!value->is_array()) {
    return MakeError(ErrorCode::kBadRequest, std::string(field) + " must be an array of strings");
  }
  for (const json::value& item : value->as_array()) {
    if (!item.is_string()) {
      return MakeError(ErrorCode::kBadRequest, std::string(field) + " must hold only strings");
    }
    out.emplace_back(item.as_string());
  }
  return out;
}

// netlify-cli's `functions_config`: function name -> its config object (routes of
// `export const config = { path }`), kept as JSON text for the deploys service to check.
Result<std::map<std::string, std::string>> FunctionConfigs(const json::object& body) {
  std::map<std::string, std::string> out;
  RD_TRY(const json::object* obj, OptionalObject(body, "functions_config"));
  if (obj != nullptr) {
    for (const auto& [key, value] : *obj) {
      if (!value.is_object()) {
        return MakeError(ErrorCode::kBadRequest,
                         "functions_config['" + std::string(key) + "'] must be an object");
      }
      out.emplace(std::string(key), json::serialize(value));
    }
  }
  // netlify-cli sends the cron expressions of scheduled functions apart:
  // `function_schedules: [{"name", "cron"}]`; they join the function's config entry.
  const json::value* schedules = body.if_contains("function_schedules");
  if (schedules == nullptr || schedules->is_null()) return out;
  if (!schedules->is_array()) {
    return MakeError(ErrorCode::kBadRequest, "function_schedules must be an array");
  }
  for (const json::value& item : schedules->as_array()) {
    const json::object* entry = item.if_object();
    const json::value* name = entry != nullptr ? entry->if_contains("name") : nullptr;
    const json::value* cron = entry != nullptr ? entry->if_contains("cron") : nullptr;
    if (name == nullptr || !name->is_string() || cron == nullptr || !cron->is_string()) {
      return MakeError(ErrorCode::kBadRequest,
                       "function_schedules must hold {\"name\", \"cron\"} strings");
    }
    json::object config;
    if (auto it = out.find(std::string(name->as_string())); it != out.end()) {
      config = json::parse(it->second).as_object();
    }
    config["schedule"] = cron->as_string();
    out[std::string(name->as_string())] = json::serialize(config);
  }
  return out;
}

// Netlify's deploy summary: {"status": ..., "messages": [{"type", "title", "description",
// "details"}]}, each message also naming the file and line it is about (when it is about one).
json::object SummaryJson(const deploys::Deploy& d) {
  json::array messages;
  for (const auto& m : d.messages) {
    json::object o{{"type", m.type},
                   {"title", m.title},
                   {"description", m.description},
                   {"details", m.details}};
    if (!m.file.empty()) o["file"] = m.file;
    if (m.line > 0) o["line"] = m.line;
    messages.push_back(std::move(o));
  }
  return json::object{{"status", d.state}, {"messages", std::move(messages)}};
}

constexpr std::string_view kEdgeFunctionsUnsupported =
    "edge functions are a Netlify-hosted feature and are not supported; deploy without "
    "netlify/edge-functions (serverless functions in netlify/functions are supported)";

// netlify-cli lists a deploy's edge function bundles as {"edge_functions": {format: sha}}.
bool DeclaresEdgeFunctions(const json::object& body) {
  const json::value* v = body.if_contains("edge_functions");
  if (v == nullptr || v->is_null()) return false;
  return !(v->is_object() && v->as_object().empty()) && !(v->is_array() && v->as_array().empty());
}

}  // namespace

// The web page of a GitHub site's repository ("https://github.com/owner/name"), else "".
std::string RepoWebUrl(const deploys::Site& site) {
  if (site.build_settings.provider != "github") return "";
  std::string url = site.build_settings.repo_url;
  if (url.ends_with(".git")) url.resize(url.size() - 4);
  return url;
}

json::object DeployJson(const App& app, const deploys::Deploy& d,
                        std::string_view repo_web_url = {}) {
  const std::string site_url = app.SiteUrl(d.site_name);
  const std::string deploy_url = app.SiteUrl(d.id + "--" + d.site_name);
  json::object o{
      {"id", d.id},
      {"site_id", d.site_id},
      {"build_id", nullptr},
      {"state", d.state},
      {"name", d.site_name},
      {"url", site_url},
      {"ssl_url", site_url},
      {"admin_url", app.ControlUrl("/sites/" + d.site_name)},
      {"deploy_url", deploy_url},
      {"deploy_ssl_url", deploy_url},
      {"user_id", d.user_id},
      {"error_message",
       d.error_message.empty() ? json::value(nullptr) : json::value(d.error_message)},
      {"required", Strings(d.required)},
      {"required_functions", Strings(d.required_functions)},
      {"commit_ref", d.commit_ref.empty() ? json::value(nullptr) : json::value(d.commit_ref)},
      {"review_id", d.review_id ? json::value(*d.review_id) : json::value(nullptr)},
      {"branch", d.branch.empty() ? json::value(nullptr) : json::value(d.branch)},
      {"context", d.context},
      {"title", d.title.empty() ? json::value(nullptr) : json::value(d.title)},
      {"draft", d.draft},
      {"deploy_source", d.deploy_source},
      {"file_count", d.file_count},
      {"locked", d.site_locked},
      {"published", d.published},
      {"skipped", nullptr},
      {"created_at", core::FormatIso8601(d.created_at)},
      {"updated_at", core::FormatIso8601(d.updated_at)},
      {"published_at", OptionalTime(d.published_at)},
      {"ready_at", OptionalTime(d.ready_at)},
      {"summary", SummaryJson(d)},
  };
  json::object links{{"permalink", deploy_url}};
  if (d.context == "deploy-preview" && d.review_id) {
    links["alias"] =
        app.SiteUrl("deploy-preview-" + std::to_string(*d.review_id) + "--" + d.site_name);
  } else if (!d.branch.empty() && d.context != "production") {
    links["alias"] = app.SiteUrl(d.branch + "--" + d.site_name);
  }
  // As Netlify: a branch deploy, a deploy preview and `netlify deploy --alias` are reached at
  // their alias; the deploy's own URL stays in links.permalink.
  if (const json::value* alias = links.if_contains("alias")) {
    o["deploy_url"] = *alias;
    o["deploy_ssl_url"] = *alias;
  }
  const std::string repo(repo_web_url);
  o["commit_url"] = repo.empty() || d.commit_ref.empty()
                        ? json::value(nullptr)
                        : json::value(repo + "/commit/" + d.commit_ref);
  o["review_url"] = repo.empty() || !d.review_id
                        ? json::value(nullptr)
                        : json::value(repo + "/pull/" + std::to_string(*d.review_id));
  o["deploy_time"] =
      d.ready_at ? json::value((*d.ready_at - d.created_at) / 1000) : json::value(nullptr);
  o["links"] = std::move(links);
  return o;
}

void AddDeployRoutes(http::Router& router, App& app) {
  auto create = Handle([&app](http::Request& req) -> Result<http::Response> {
    RD_TRY(auth::User user, app.Authenticate(req, auth::Scope::kDeploy));
    RD_TRY(json::object body, ParseJsonObject(req.body, /*empty_ok=*/true));
    if (DeclaresEdgeFunctions(body)) return NotImplementedResponse(kEdgeFunctionsUnsupported);
    deploys::NewDeploy spec;
    RD_TRY(std::optional<bool> draft, OptionalBool(body, "draft"));
    spec.draft = draft.value_or(false);
    RD_TRY(auto branch, OptionalString(body, "branch"));
    RD_TRY(auto title, OptionalString(body, "title"));
    RD_TRY(auto source, OptionalString(body, "deploy_source"));
    spec.branch = branch.value_or("");
    // netlify-cli's `deploy --message` sends the title as a query parameter.
    spec.title = title ? *title : req.QueryParam("title").value_or("");
    spec.deploy_source = source.value_or("api");
    RD_TRY(deploys::Deploy deploy, app.deploys().Create(user.id, req.path_params["site_id"], spec));
    // A body may already carry the file list (Netlify's single-call digest deploy).
    if (body.contains("files") || body.contains("functions")) {
      RD_TRY(auto files, DigestMap(body, "files"));
      RD_TRY(auto functions, DigestMap(body, "functions"));
      RD_TRY(auto configs, FunctionConfigs(body));
      RD_TRY(deploy, app.deploys().SetFiles(user.id, deploy.id, files, functions, configs));
    }
    return JsonResponse(200, DeployJson(app, deploy));
  });
  router.Add("POST", "/api/v1/sites/{site_id}/deploys", create, {kMaxFileList});

  router.Add("GET", "/api/v1/sites/{site_id}/deploys",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::User user, app.Authenticate(req, auth::Scope::kRead));
               int limit = 100;
               if (auto per_page = req.QueryParam("per_page")) limit = std::atoi(per_page->c_str());
               RD_TRY(auto list, app.deploys().List(user.id, req.path_params["site_id"], limit));
               auto site = app.sites().Get(user.id, req.path_params["site_id"]);
               const std::string repo = site.ok() ? RepoWebUrl(*site) : "";
               json::array out;
               for (const auto& d : list) out.push_back(DeployJson(app, d, repo));
               return JsonResponse(200, out);
             }));

  auto set_files = Handle([&app](http::Request& req) -> Result<http::Response> {
    RD_TRY(auth::User user, app.Authenticate(req, auth::Scope::kDeploy));
    RD_TRY(json::object body, ParseJsonObject(req.body));
    if (DeclaresEdgeFunctions(body)) return NotImplementedResponse(kEdgeFunctionsUnsupported);
    RD_TRY(auto files, DigestMap(body, "files"));
    RD_TRY(auto functions, DigestMap(body, "functions"));
    RD_TRY(auto configs, FunctionConfigs(body));
    RD_TRY(deploys::Deploy current, app.deploys().Get(user.id, req.path_params["deploy_id"]));
    if (req.path_params.contains("site_id")) {
      RD_TRY(deploys::Site site, app.sites().Get(user.id, req.path_params["site_id"]));
      if (site.id != current.site_id) return MakeError(ErrorCode::kNotFound, "deploy not found");
    }
    RD_TRY(deploys::Deploy deploy,
           app.deploys().SetFiles(user.id, current.id, files, functions, configs));
    return JsonResponse(200, DeployJson(app, deploy));
  });
  router.Add("PUT", "/api/v1/sites/{site_id}/deploys/{deploy_id}", set_files, {kMaxFileList});
  router.Add("PUT", "/api/v1/deploys/{deploy_id}", set_files, {kMaxFileList});

  // Ours (docs/api.md): the file list as changes to a ready deploy of the site. A route of its
  // own, not a field of the PUT above: a server without it answers 404 and `replideploy
  // deploy` sends the whole list, where a field would be ignored and the deploy left with only
  // the changed files.
  router.Add("PUT", "/api/v1/deploys/{deploy_id}/file_changes",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::User user, app.Authenticate(req, auth::Scope::kDeploy));
               RD_TRY(json::object body, ParseJsonObject(req.body));
               if (DeclaresEdgeFunctions(body))
                 return NotImplementedResponse(kEdgeFunctionsUnsupported);
               RD_TRY(std::string base, RequiredString(body, "base_deploy_id"));
               RD_TRY(auto files, DigestMap(body, "files"));
               RD_TRY(auto deleted, StringArray(body, "deleted"));
               RD_TRY(auto functions, DigestMap(body, "functions"));
               RD_TRY(auto configs, FunctionConfigs(body));
               RD_TRY(deploys::Deploy deploy,
                      app.deploys().SetFilesRelative(user.id, req.path_params["deploy_id"], base,
                                                     files, deleted, functions, configs));
               return JsonResponse(200, DeployJson(app, deploy));
             }),
             {kMaxFileList});

  auto get = Handle([&app](http::Request& req) -> Result<http::Response> {
    RD_TRY(auth::User user, app.Authenticate(req, auth::Scope::kRead));
    RD_TRY(deploys::Deploy deploy, app.deploys().Get(user.id, req.path_params["deploy_id"]));
    // The deploy's site, which the path may name too (it must be the same).
    RD_TRY(deploys::Site site, req.path_params.contains("site_id")
                                   ? app.sites().Get(user.id, req.path_params["site_id"])
                                   : app.sites().GetById(deploy.site_id));
    if (site.id != deploy.site_id) return MakeError(ErrorCode::kNotFound, "deploy not found");
    return JsonResponse(200, DeployJson(app, deploy, RepoWebUrl(site)));
  });
  router.Add("GET", "/api/v1/sites/{site_id}/deploys/{deploy_id}", get);
  router.Add("GET", "/api/v1/deploys/{deploy_id}", get);

  // A deploy's functions (docs/api.md): name, runtime, whether it is a background function, and
  // a scheduled function's cron expression with its next run (UTC; a schedule runs only while
  // its deploy is the site's published one, see `published`).
  router.Add(
      "GET", "/api/v1/deploys/{deploy_id}/functions",
      Handle([&app](http::Request& req) -> Result<http::Response> {
        RD_TRY(auth::User user, app.Authenticate(req, auth::Scope::kRead));
        RD_TRY(deploys::Deploy deploy, app.deploys().Get(user.id, req.path_params["deploy_id"]));
        RD_TRY(auto manifest, app.deploys().Manifest(deploy.id));
        std::vector<std::string> names;
        for (const auto& [name, entry] : manifest->functions) names.push_back(name);
        std::sort(names.begin(), names.end());
        const std::int64_t now = app.clock().NowMillis() / 1000;
        json::array out;
        for (const std::string& name : names) {
          const deploys::FunctionEntry& f = manifest->functions.at(name);
          json::object o{{"name", name},        {"runtime", f.runtime},
                         {"sha256", f.sha256},  {"background", name.ends_with("-background")},
                         {"schedule", nullptr}, {"next_run", nullptr}};
          if (!f.schedule.empty()) {
            o["schedule"] = f.schedule;
            auto cron = deploys::CronSchedule::Parse(f.schedule);
            if (auto next = cron.ok() ? cron->NextAfter(now) : std::nullopt) {
              o["next_run"] = core::FormatIso8601(*next * 1000);
            }
          }
          out.push_back(std::move(o));
        }
        return JsonResponse(200, out);
      }));

  router.Add("PUT", "/api/v1/deploys/{deploy_id}/files/{path...}",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::User user, app.Authenticate(req, auth::Scope::kDeploy));
               RD_TRY(deploys::UploadedFile file,
                      app.deploys().UploadFile(user.id, req.path_params["deploy_id"],
                                               req.path_params["path"], req.body));
               return JsonResponse(200, json::object{{"id", file.path},
                                                     {"path", file.path},
                                                     {"sha", file.sha1},
                                                     {"mime_type", file.content_type},
                                                     {"size", file.size}});
             }),
             {kMaxFileUpload});

  // Our CLI's batched upload of small files (deploys/file_batch.hpp); not Netlify's API.
  router.Add("POST", "/api/v1/deploys/{deploy_id}/files",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::User user, app.Authenticate(req, auth::Scope::kDeploy));
               RD_TRY(std::vector<deploys::BatchFile> batch, deploys::ParseFileBatch(req.body));
               RD_TRY(std::vector<deploys::UploadedFile> files,
                      app.deploys().UploadFiles(user.id, req.path_params["deploy_id"], batch));
               return JsonResponse(
                   200, json::object{{"uploaded", static_cast<std::int64_t>(files.size())}});
             }),
             {kMaxFileBatch});

  router.Add("PUT", "/api/v1/deploys/{deploy_id}/functions/{name}",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::User user, app.Authenticate(req, auth::Scope::kDeploy));
               const std::string runtime = req.QueryParam("runtime").value_or("js");
               RD_TRY(deploys::Deploy deploy,
                      app.deploys().UploadFunction(user.id, req.path_params["deploy_id"],
                                                   req.path_params["name"], req.body, runtime));
               return JsonResponse(200, json::object{{"id", req.path_params["name"]},
                                                     {"name", req.path_params["name"]},
                                                     {"deploy_id", deploy.id}});
             }),
             {kMaxFileUpload});

  router.Add("PUT", "/api/v1/deploys/{deploy_id}/edge_functions/{sha}",
             [](http::Request&) { return NotImplementedResponse(kEdgeFunctionsUnsupported); });

  router.Add(
      "GET", "/api/v1/deploys/{deploy_id}/log",
      Handle([&app](http::Request& req) -> Result<http::Response> {
        RD_TRY(auth::User user, app.Authenticate(req, auth::Scope::kRead));
        RD_TRY(deploys::Deploy deploy, app.deploys().Get(user.id, req.path_params["deploy_id"]));
        RD_TRY(auto stored, app.build_logs().Read(deploy.id));
        json::array lines;
        for (const auto& l : stored) {
          lines.push_back(json::object{{"n", l.seq},
                                       {"ts", core::FormatIso8601(l.ts)},
                                       {"stream", l.stream},
                                       {"line", l.line}});
        }
        return JsonResponse(
            200, json::object{{"deploy_id", deploy.id}, {"state", deploy.state}, {"lines", lines}});
      }));

  router.Add("POST", "/api/v1/deploys/{deploy_id}/cancel",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::User user, app.Authenticate(req, auth::Scope::kDeploy));
               RD_TRY(auto deploy, app.deploys().Cancel(user.id, req.path_params["deploy_id"]));
               RD_TRY_STATUS(app.build_queue().CancelForDeploy(deploy.id));
               return JsonResponse(200, DeployJson(app, deploy));
             }));

  router.Add("POST", "/api/v1/sites/{site_id}/deploys/{deploy_id}/restore",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::Principal who, app.Authorize(req, auth::Scope::kDeploy));
               RD_TRY(auto deploy, app.deploys().Restore(who.user.id, req.path_params["site_id"],
                                                         req.path_params["deploy_id"],
                                                         who.ActorFrom(app.Client(req))));
               return JsonResponse(200, DeployJson(app, deploy));
             }));

  router.Add("POST", "/api/v1/deploys/{deploy_id}/lock",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::Principal who, app.Authorize(req, auth::Scope::kDeploy));
               RD_TRY(auto deploy, app.deploys().Lock(who.user.id, req.path_params["deploy_id"],
                                                      who.ActorFrom(app.Client(req))));
               return JsonResponse(200, DeployJson(app, deploy));
             }));
  router.Add("POST", "/api/v1/deploys/{deploy_id}/unlock",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::Principal who, app.Authorize(req, auth::Scope::kDeploy));
               RD_TRY(auto deploy, app.deploys().Unlock(who.user.id, req.path_params["deploy_id"],
                                                        who.ActorFrom(app.Client(req))));
               return JsonResponse(200, DeployJson(app, deploy));
             }));
}

// Live log: a WebSocket. Browsers cannot set headers on one, so the token may come as a
// subprotocol "bearer.<token>" next to "replideploy.log.v1" (as Kubernetes does it).
void AddLogStreamRoutes(http::Router& router, App& app) {
  router.Add("GET", "/api/v1/deploys/{deploy_id}/log/stream", [&app](http::Request& req) {
    if (!http::IsWebSocketUpgrade(req)) {
      return http::Response::Error(426, "upgrade_required",
                                   "this is a WebSocket endpoint; GET /api/v1/deploys/{id}/log "
                                   "returns the log as JSON");
    }
    auto accept = std::make_shared<http::WebSocketAccept>();
    std::string token;
    for (const auto& protocol : http::WebSocketProtocols(req)) {
      if (protocol == "replideploy.log.v1") accept->protocol = protocol;
      if (protocol.starts_with("bearer.")) token = protocol.substr(7);
    }
    auto who = token.empty() ? app.Authorize(req, auth::Scope::kRead)
                             : app.AuthorizeBearer(token, auth::Scope::kRead);
    // Refusals go over the socket, where a browser can read the code.
    std::uint16_t refusal = 0;
    std::string deploy_id;
    if (!who.ok()) {
      refusal = 4401;
    } else {
      auto deploy = app.deploys().Get(who->user.id, req.path_params["deploy_id"]);
      if (deploy.ok()) {
        deploy_id = deploy->id;
      } else {
        refusal = 4404;
      }
    }
    accept->on_open = [&app, refusal, deploy_id](std::shared_ptr<http::WebSocket> socket) {
      if (refusal == 4401) return socket->Close(4401, "not authenticated");
      if (refusal == 4404) return socket->Close(4404, "deploy not found");
      app.log_streams().Add(deploy_id, std::move(socket));
    };
    http::Response response;
    response.websocket = std::move(accept);
    return response;
  });
}

}  // namespace replideploy::api
