// GitHub: connecting an account (OAuth), listing repositories, detecting build settings,
// creating sites that build from a repository (with their webhook), and receiving webhook
// deliveries at /api/hooks/deploy. Also the site creation shared by every source.
#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include "api/app.hpp"
#include "api/errors.hpp"
#include "api/json_input.hpp"
#include "builder/build_config.hpp"
#include "builder/detect.hpp"
#include "builder/git_source.hpp"
#include "git/github_client.hpp"
#include "git/webhook.hpp"
#include "git/webhook_deliveries.hpp"

namespace replideploy::api {

namespace json = boost::json;

namespace {

constexpr std::string_view kDefaultReturn = "/new/";

std::string UrlEncode(std::string_view s) {
  return boost::urls::encode(s, boost::urls::unreserved_chars);
}

// Only paths of our own dashboard: no scheme, no "//host", no backslashes.
std::string SafeReturnPath(std::string_view path) {
  if (path.empty() || path.front() != '/' || path.starts_with("//") ||
      path.find_first_of("\\\r\n") != std::string_view::npos || path.size() > 512) {
    return std::string(kDefaultReturn);
  }
  return std::string(path);
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
  auto secret = app.github().WebhookSecret(site.id);
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
  git::WebhookDeliveries deliveries(app.database(), app.clock());
  RD_TRY(bool first, deliveries.RecordDelivery(delivery, site.id));
  if (!first) {
    return JsonResponse(200,
                        json::object{{"ok", true}, {"duplicate", true}, {"delivery", delivery}});
  }
  git::SiteGitSettings settings;
  settings.repo_full_name = site.build_settings.repo_path;
  settings.production_branch =
      site.build_settings.repo_branch.empty() ? "main" : site.build_settings.repo_branch;
  settings.branch_deploys = site.build_settings.branch_deploys;
  settings.deploy_previews = site.build_settings.deploy_previews;
  git::BuildDecision decision = git::DecideBuild(parsed, settings);
  const auto answer = [&](int status, json::object extra) {
    extra["action"] = std::string(git::BuildActionName(decision.action));
    extra["reason"] = decision.reason;
    return JsonResponse(status, extra);
  };
  switch (decision.action) {
    case git::BuildAction::kNone:
      return answer(200, {});
    case git::BuildAction::kStopPreviews: {
      RD_TRY_STATUS(app.database().Exec(
          "INSERT INTO closed_pull_requests (site_id, number, closed_at) VALUES (?, ?, ?) "
          "ON CONFLICT (site_id, number) DO NOTHING",
          {site.id, decision.pr_number, app.clock().NowMillis()}));
      RD_TRY(auto canceled, app.build_queue().CancelQueuedPreviews(site.id, decision.pr_number));
      for (const auto& job_id : canceled) {
        auto job = app.build_queue().Get(job_id);
        if (job.ok()) (void)app.deploys().FailDeploy(job->deploy_id, "the pull request was closed");
      }
      return answer(200, {{"canceled", static_cast<std::int64_t>(canceled.size())}});
    }
    case git::BuildAction::kDeployPreview: {
      if (parsed.pull_request.action == "reopened") {
        RD_TRY_STATUS(
            app.database().Exec("DELETE FROM closed_pull_requests WHERE site_id = ? AND number = ?",
                                {site.id, decision.pr_number}));
      } else {
        RD_TRY(db::Rows closed,
               app.database().Exec(
                   "SELECT 1 FROM closed_pull_requests WHERE site_id = ? AND number = ?",
                   {site.id, decision.pr_number}));
        if (!closed.empty()) {
          decision.action = git::BuildAction::kNone;
          decision.reason = "pull request #" + std::to_string(decision.pr_number) + " is closed";
          return answer(200, {});
        }
      }
      break;
    }
    case git::BuildAction::kProductionDeploy:
    case git::BuildAction::kBranchDeploy:
      break;
  }
  BuildRequest build;
  build.branch = decision.branch;
  build.commit_sha = decision.commit_sha;
  build.title = decision.commit_message;
  build.context = decision.context;
  build.allow_secrets = decision.allow_secrets;
  if (decision.action == git::BuildAction::kDeployPreview) build.review_id = decision.pr_number;
  auto deploy = app.QueueBuild(site, build);
  if (!deploy.ok()) {
    // Let GitHub's redelivery try again.
    (void)app.database().Exec(
        "DELETE FROM webhook_deliveries WHERE site_id = ? AND delivery_id = ?",
        {site.id, delivery});
    return std::move(deploy).error();
  }
  return answer(
      202, {{"deploy_id", deploy->id}, {"state", deploy->state}, {"context", deploy->context}});
}

}  // namespace

Status RemoveGithubHook(App& app, const deploys::Site& site) {
  if (site.build_settings.provider != "github") return {};
  RD_TRY(std::optional<std::int64_t> hook, app.github().HookId(site.id));
  if (!hook) return {};
  auto token = app.github().Token(site.owner_user_id);
  if (!token.ok()) {
    spdlog::warn("site {}: GitHub hook {} left in place: {}", site.name, *hook,
                 token.error().message);
    return {};
  }
  Status st = app.github().client().DeleteHook(*token, site.build_settings.repo_path, *hook);
  // A revoked token must not keep the site alive; the hook then fails its deliveries (404).
  if (!st.ok()) {
    spdlog::warn("site {}: cannot delete GitHub hook {}: {}", site.name, *hook, st.error().message);
  }
  return {};
}

Result<deploys::Site> CreateSite(App& app, const auth::User& user,
                                 const deploys::SitePatch& patch) {
  deploys::BuildSettings settings;
  settings.cmd = patch.cmd.value_or("");
  settings.dir = patch.dir.value_or("");
  settings.base = patch.base.value_or("");
  settings.repo_url = patch.repo_url.value_or("");
  settings.repo_branch = patch.repo_branch.value_or("");
  settings.functions_dir = patch.functions_dir.value_or("");
  settings.provider = patch.provider.value_or("");
  settings.repo_path = patch.repo_path.value_or("");
  settings.branch_deploys = patch.branch_deploys.value_or(false);
  settings.deploy_previews = patch.deploy_previews.value_or(true);
  const std::string branch = settings.repo_branch.empty() ? "main" : settings.repo_branch;

  std::string token;
  std::string head;  // the production branch's commit, when known now
  if (settings.provider == "github") {
    if (!git::IsValidRepoFullName(settings.repo_path)) {
      return Unprocessable("invalid_repo", "repo must be a GitHub repository as \"owner/name\"");
    }
    RD_TRY(token, app.github().Token(user.id));
    // Always the configured GitHub's: a user-given URL could point anywhere.
    settings.repo_url = app.GithubRepoPrefix() + settings.repo_path + ".git";
  } else if (settings.provider == "git") {
    RD_TRY_STATUS(builder::CheckGitUrl(settings.repo_url));
    builder::GitSource git{settings.repo_url, "", app.options().allow_private_git};
    RD_TRY(head, builder::RemoteHead(git, branch));
    settings.repo_path.clear();
  } else if (!settings.provider.empty()) {
    return Unprocessable("invalid_provider", "repo.provider must be \"github\" or \"git\"");
  }

  RD_TRY(deploys::Site site, app.sites().Create(user.id, user.account_id, patch.name, settings));
  if (settings.provider == "github") {
    // The hook, or no site at all.
    auto created = [&]() -> Status {
      RD_TRY(std::string secret, app.github().NewWebhookSecret(site.id));
      RD_TRY(std::int64_t hook_id,
             app.github().client().CreateHook(token, settings.repo_path,
                                              app.PublicUrl("/api/hooks/deploy?site_id=" + site.id),
                                              secret));
      return app.github().SetHookId(site.id, hook_id);
    }();
    if (!created.ok()) {
      (void)app.sites().Delete(user.id, site.id);
      return std::move(created).error();
    }
  }
  if (!settings.provider.empty()) {
    if (!head.empty()) {
      (void)app.database().Exec("UPDATE sites SET polled_sha = ? WHERE id = ?", {head, site.id});
    }
    BuildRequest build;
    build.branch = branch;
    build.commit_sha = head;
    auto first = app.QueueBuild(site, build);
    if (!first.ok()) {
      // Visible in the deploy list, not only in the server's log.
      spdlog::warn("site {}: first build not started: {}", site.name, first.error().message);
      deploys::NewDeploy spec;
      spec.branch = branch;
      spec.deploy_source = "git";
      spec.context = "production";
      auto failed = app.deploys().CreateForBuild(site.id, spec);
      if (failed.ok()) {
        (void)app.deploys().FailDeploy(failed->id,
                                       "the first build could not start: " + first.error().message);
      }
    }
  }
  return site;
}

void AddGithubRoutes(http::Router& router, App& app) {
  router.Add("GET", "/api/v1/github/account",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::User user, app.Authenticate(req));
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
               RD_TRY(auth::User user, app.Authenticate(req));
               RD_TRY_STATUS(app.github().Disconnect(user.id));
               http::Response r;
               r.status = 204;
               return r;
             }));

  router.Add(
      "GET", "/api/v1/github/connect", Handle([&app](http::Request& req) -> Result<http::Response> {
        RD_TRY(auth::User user, app.Authenticate(req));
        if (!app.github().client().configured()) {
          return MakeError(ErrorCode::kUnprocessable, "github_not_configured",
                           "this server has no GitHub OAuth app: set github-client-id "
                           "and github-client-secret");
        }
        const std::string state = app.github().SignState(
            user.id, SafeReturnPath(req.QueryParam("return_to").value_or("")));
        const std::string url =
            app.github().client().AuthorizeUrl(state, app.PublicUrl("/api/v1/github/callback"));
        if (req.Header("Accept").find("application/json") != std::string_view::npos) {
          return JsonResponse(200, json::object{{"authorize_url", url}});
        }
        return Redirect(url);
      }));

  // GitHub sends the browser here: no bearer token, the signed state says who it is.
  router.Add("GET", "/api/v1/github/callback", [&app](http::Request& req) -> http::Response {
    auto state = app.github().VerifyState(req.QueryParam("state").value_or(""));
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
  });

  router.Add("GET", "/api/v1/github/repos",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::User user, app.Authenticate(req));
               RD_TRY(std::string token, app.github().Token(user.id));
               RD_TRY(auto repos, app.github().client().ListRepos(token));
               json::array out;
               for (const auto& r : repos) out.push_back(RepoJson(r));
               return JsonResponse(200, out);
             }));

  router.Add("GET", "/api/v1/github/repos/{owner}/{repo}/detect",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::User user, app.Authenticate(req));
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
             }));

  router.Add("POST", "/api/hooks/deploy",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               return ReceiveDelivery(app, req);
             }),
             {git::kMaxWebhookBodyBytes});
}

}  // namespace replideploy::api
