// GitHub: connecting an account (OAuth), listing repositories, detecting build settings,
// creating sites that build from a repository (with their webhook), and receiving webhook
// deliveries at /api/hooks/deploy. Also the site creation shared by every source.
#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "api/app.hpp"
#include "api/errors.hpp"
#include "api/json_input.hpp"
#include "api/return_path.hpp"
#include "builder/build_config.hpp"
#include "builder/detect.hpp"
#include "core/text.hpp"
#include "git/github_client.hpp"
#include "git/webhook.hpp"

namespace replideploy::api {

namespace json = boost::json;

namespace {

constexpr std::string_view kDefaultReturn = "/new/";

using core::UrlEncode;

// The browser that starts an OAuth flow keeps its nonce here; only the callback sees it.
constexpr std::string_view kOAuthCookie = "rd_github_oauth";
constexpr std::string_view kOAuthCookiePath = "/api/v1/github/callback";

std::string OAuthCookie(const App& app, std::string_view value, std::int64_t max_age_seconds) {
  std::string cookie = std::string(kOAuthCookie) + "=" + std::string(value) +
                       "; Path=" + std::string(kOAuthCookiePath) +
                       "; Max-Age=" + std::to_string(max_age_seconds) + "; HttpOnly; SameSite=Lax";
  if (app.options().public_url.starts_with("https://")) cookie += "; Secure";
  return cookie;
}

// The return path the dashboard asked for; the default when none; kBadRequest for one that is
// not a path of ours.
Result<std::string> ReturnPath(const http::Request& req) {
  const std::string asked = req.QueryParam("return_to").value_or("");
  if (asked.empty()) return std::string(kDefaultReturn);
  auto path = SameOriginPath(asked);
  if (!path) {
    return MakeError(ErrorCode::kBadRequest, "invalid_return_to",
                     "return_to must be a path of this dashboard, such as /new/");
  }
  return *path;
}

http::Response Redirect(const std::string& location) {
  http::Response r;
  r.status = 302;
  r.headers.Set("Location", location);
  r.headers.Set("Cache-Control", "no-store");
  return r;
}

std::string WithQuery(const std::string& path, std::string_view key, std::string_view value) {
  return path + (path.find('?') == std::string::npos ? "?" : "&") + std::string(key) + "=" +
         UrlEncode(value);
}

json::object RepoJson(const git::GithubRepo& r) {
  return json::object{
      {"id", r.id},
      {"full_name", r.full_name},
      {"name", r.name},
      {"owner", r.owner},
      {"description", r.description},
      {"private", r.is_private},
      {"default_branch", r.default_branch},
      {"html_url", r.html_url},
      {"clone_url", r.clone_url},
      {"pushed_at", r.pushed_at.empty() ? json::value(nullptr) : json::value(r.pushed_at)}};
}

// Where GitHub sends the browser back: the public URL when configured (it must match the OAuth
// app's callback), else the host the browser is using, so the session (kept per origin) is
// still there when it comes back.
std::string CallbackUrl(App& app, const http::Request& req) {
  const std::string host(req.Header("Host"));
  if (!app.options().public_url.empty() || host.empty() ||
      host.find_first_of("/\\@ ") != std::string::npos) {
    return app.PublicUrl("/api/v1/github/callback");
  }
  return "http://" + host + "/api/v1/github/callback";
}

// The webhook: verify, dedupe, decide, queue.
Result<http::Response> ReceiveDelivery(App& app, http::Request& req) {
  const std::string site_id = req.QueryParam("site_id").value_or("");
  const std::string event = std::string(req.Header("X-GitHub-Event"));
  const std::string delivery = std::string(req.Header("X-GitHub-Delivery"));
  if (site_id.empty()) {
    return MakeError(ErrorCode::kBadRequest, "the hook URL must name the site (?site_id=...)");
  }
  RD_TRY(deploys::Site site, app.sites().GetById(site_id));
  auto secret = app.builds().WebhookSecret(site.id);
  if (!secret.ok() ||
      !git::VerifyGithubSignature(req.body, req.Header("X-Hub-Signature-256"), *secret)) {
    return MakeError(ErrorCode::kUnauthenticated, "invalid_signature",
                     "X-Hub-Signature-256 is missing or does not match the site's webhook secret");
  }
  if (event.empty()) return MakeError(ErrorCode::kBadRequest, "missing X-GitHub-Event header");
  RD_TRY(git::WebhookEvent parsed, git::ParseGithubEvent(event, req.body));
  if (parsed.kind == git::EventKind::kPing) {
    return JsonResponse(200, json::object{{"ok", true}, {"event", "ping"}});
  }
  RD_TRY(builder::DeliveryOutcome outcome, app.builds().OnGithubDelivery(site, parsed, delivery));
  if (outcome.duplicate) {
    return JsonResponse(200,
                        json::object{{"ok", true}, {"duplicate", true}, {"delivery", delivery}});
  }
  json::object extra;
  if (outcome.canceled) extra["canceled"] = *outcome.canceled;
  if (outcome.deploy) {
    extra["deploy_id"] = outcome.deploy->id;
    extra["state"] = outcome.deploy->state;
    extra["context"] = outcome.deploy->context;
  }
  extra["action"] = std::string(git::BuildActionName(outcome.decision.action));
  extra["reason"] = outcome.decision.reason;
  return JsonResponse(outcome.deploy ? 202 : 200, extra);
}

// The callback's work; the caller clears the flow's cookie on every outcome.
http::Response FinishConnect(App& app, const http::Request& req) {
  const std::string nonce(http::CookieValue(req.Header("Cookie"), kOAuthCookie).value_or(""));
  auto state = app.github().FinishOAuth(req.QueryParam("state").value_or(""), nonce);
  if (!state.ok()) return ErrorResponse(state.error(), req.request_id);
  const auto& [user_id, return_to] = *state;
  if (auto denied = req.QueryParam("error")) {
    return Redirect(WithQuery(return_to, "github_error",
                              req.QueryParam("error_description").value_or(*denied)));
  }
  const std::string code = req.QueryParam("code").value_or("");
  if (code.empty() || code.size() > 256) {
    return Redirect(WithQuery(return_to, "github_error", "GitHub sent no authorization code"));
  }
  auto account = app.github().Connect(user_id, code, CallbackUrl(app, req));
  if (!account.ok()) {
    spdlog::warn("GitHub connect for user {} failed: {}", user_id, account.error().message);
    return Redirect(WithQuery(return_to, "github_error", account.error().message));
  }
  return Redirect(WithQuery(return_to, "github", "connected"));
}

}  // namespace

Result<deploys::Site> CreateSite(App& app, const auth::User& user,
                                 const deploys::SitePatch& patch) {
  return app.builds().CreateSite(user.id, user.account_id, patch,
                                 app.PublicUrl("/api/hooks/deploy"));
}

void AddGithubRoutes(http::Router& router, App& app) {
  router.Add("GET", "/api/v1/github/account",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::User user, app.Authenticate(req, auth::Scope::kRead));
               RD_TRY(auto account, app.github().Account(user.id));
               if (!account) {
                 return JsonResponse(
                     200, json::object{{"connected", false},
                                       {"configured", app.github().client().configured()}});
               }
               return JsonResponse(200, json::object{{"connected", true},
                                                     {"configured", true},
                                                     {"login", account->login},
                                                     {"avatar_url", account->avatar_url},
                                                     {"html_url", account->html_url}});
             }));

  router.Add("DELETE", "/api/v1/github/account",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::User user, app.Authenticate(req, auth::Scope::kAccount));
               RD_TRY_STATUS(app.github().Disconnect(user.id));
               http::Response r;
               r.status = 204;
               return r;
             }));

  router.Add(
      "GET", "/api/v1/github/connect", Handle([&app](http::Request& req) -> Result<http::Response> {
        RD_TRY(auth::User user, app.Authenticate(req, auth::Scope::kAccount));
        if (!app.github().client().configured()) {
          return MakeError(ErrorCode::kUnprocessable, "github_not_configured",
                           "this server has no GitHub OAuth app: set github-client-id "
                           "and github-client-secret");
        }
        RD_TRY(std::string return_to, ReturnPath(req));
        RD_TRY(git::OAuthStart start, app.github().StartOAuth(user.id, return_to));
        const std::string url =
            app.github().client().AuthorizeUrl(start.state, CallbackUrl(app, req));
        http::Response response =
            req.Header("Accept").find("application/json") != std::string_view::npos
                ? JsonResponse(200, json::object{{"authorize_url", url}})
                : Redirect(url);
        response.headers.Set(
            "Set-Cookie",
            OAuthCookie(app, start.nonce, git::GithubConnections::kStateLifetimeMillis / 1000));
        response.headers.Set("Cache-Control", "no-store");
        return response;
      }));

  // GitHub sends the browser here: no bearer token. The state says whose flow it is, and the
  // cookie set when it started says this is the browser that started it.
  router.Add(
      "GET", "/api/v1/github/callback",
      [&app](http::Request& req) -> http::Response {
        http::Response response = FinishConnect(app, req);
        response.headers.Set("Set-Cookie", OAuthCookie(app, "", 0));
        return response;
      },
      kSlowRoute);

  router.Add("GET", "/api/v1/github/repos",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::User user, app.Authenticate(req, auth::Scope::kRead));
               RD_TRY(std::string token, app.github().Token(user.id));
               RD_TRY(auto repos, app.github().client().ListRepos(token));
               json::array out;
               for (const auto& r : repos) out.push_back(RepoJson(r));
               return JsonResponse(200, out);
             }),
             kSlowRoute);

  router.Add("GET", "/api/v1/github/repos/{owner}/{repo}/detect",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::User user, app.Authenticate(req, auth::Scope::kRead));
               const std::string full = req.path_params["owner"] + "/" + req.path_params["repo"];
               if (!git::IsValidRepoFullName(full))
                 return Unprocessable("invalid_repo", "not a repository name");
               RD_TRY(std::string token, app.github().Token(user.id));
               const std::string ref = req.QueryParam("ref").value_or("");
               const auto& gh = app.github().client();
               builder::ProjectFiles files;
               RD_TRY(auto package_json, gh.GetFile(token, full, "package.json", ref));
               files.package_json = package_json.value_or("");
               if (package_json) {
                 for (auto [name, flag] : {std::pair{"package-lock.json", &files.has_package_lock},
                                           {"yarn.lock", &files.has_yarn_lock},
                                           {"pnpm-lock.yaml", &files.has_pnpm_lock}}) {
                   auto lock = gh.GetFile(token, full, name, ref);
                   // A lockfile too large to inline still exists.
                   *flag = (lock.ok() && lock->has_value()) ||
                           (!lock.ok() && lock.error().detail_code == "github_file_too_large");
                 }
               }
               RD_TRY(builder::DetectedBuild detected, builder::DetectBuild(files));
               json::object out{{"framework", detected.framework},
                                {"package_manager", detected.package_manager},
                                {"cmd", detected.build_command},
                                {"dir", detected.publish == "." ? "" : detected.publish},
                                {"base", ""},
                                {"netlify_toml", false}};
               RD_TRY(auto toml, gh.GetFile(token, full, "netlify.toml", ref));
               if (toml) {
                 auto config = builder::ReadBuildConfig(*toml);
                 if (config.ok()) {
                   out["netlify_toml"] = true;
                   if (config->command) out["cmd"] = *config->command;
                   if (config->publish) out["dir"] = *config->publish;
                   if (config->base) out["base"] = *config->base;
                 }
               }
               return JsonResponse(200, out);
             }),
             kSlowRoute);

  router.Add("POST", "/api/hooks/deploy",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               return ReceiveDelivery(app, req);
             }),
             {git::kMaxWebhookBodyBytes});
}

}  // namespace replideploy::api
