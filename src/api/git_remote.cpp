// The platform's own git remote: `git push http://127.0.0.1:8080/git/<site>.git main` with an
// API token as the password. Git's smart HTTP protocol is served by `git http-backend` (CGI);
// after a push, every updated branch gets a build.
#include <spdlog/spdlog.h>

#include <filesystem>
#include <map>
#include <sstream>
#include <thread>

#include "api/app.hpp"
#include "api/errors.hpp"
#include "core/crypto.hpp"
#include "core/subprocess.hpp"

namespace replideploy::api {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kMaxPush = std::size_t{512} << 20;

http::Response AskForCredentials() {
  http::Response r =
      http::Response::Text(401, "Authentication required: use an API token as the password\n");
  r.headers.Set("WWW-Authenticate", "Basic realm=\"RepliDeploy\"");
  return r;
}

// "refs/heads/main" -> commit, for every branch of a bare repository.
std::map<std::string, std::string> Branches(const std::string& repo) {
  std::map<std::string, std::string> out;
  auto run = core::RunProcess({.argv = {"git", "--git-dir=" + repo, "for-each-ref",
                                        "--format=%(refname) %(objectname)", "refs/heads"},
                               .extra_env = {"GIT_CONFIG_NOSYSTEM=1"}});
  if (!run.ok() || !run->Succeeded()) return out;
  std::istringstream lines(run->out);
  for (std::string s; std::getline(lines, s);) {
    const auto space = s.find(' ');
    if (space != std::string::npos) out[s.substr(0, space)] = s.substr(space + 1);
  }
  return out;
}

}  // namespace

void AddGitRemoteRoutes(http::Router& router, App& app) {
  auto serve = [&app](http::Request& req) -> http::Response {
    std::string repo_name = req.path_params["repo"];
    if (!repo_name.ends_with(".git")) repo_name += ".git";
    const std::string site_ref = repo_name.substr(0, repo_name.size() - 4);
    // Git sends the token as the password of Basic credentials.
    const auto credentials = http::BasicCredentials(req.Header("Authorization"));
    const std::string token = credentials ? credentials->second : "";
    if (token.empty()) return AskForCredentials();
    auto who = app.AuthorizeBearer(token, auth::Scope::kDeploy);
    if (!who.ok()) {
      // A wrong token asks again; anything else (a scope, the database) is said as it is.
      if (who.error().code != ErrorCode::kUnauthenticated)
        return ErrorResponse(who.error(), req.request_id);
      return AskForCredentials();
    }
    auto site = app.sites().Get(who->user.id, site_ref);
    if (!site.ok()) return ErrorResponse(site.error(), req.request_id);

    const std::string repos_dir = app.options().repos_dir;
    const std::string repo = repos_dir + "/" + site->id + ".git";
    std::error_code ec;
    if (!fs::exists(repo + "/HEAD", ec)) {
      fs::create_directories(repos_dir, ec);
      auto init = core::RunProcess({.argv = {"git", "init", "--quiet", "--bare", repo}});
      auto config = init.ok() && init->Succeeded()
                        ? core::RunProcess({.argv = {"git", "--git-dir=" + repo, "config",
                                                     "http.receivepack", "true"}})
                        : init;
      if (!config.ok() || !config->Succeeded()) {
        return ErrorResponse(MakeError(ErrorCode::kInternal, "cannot create " + repo),
                             req.request_id);
      }
    }
    const bool push = req.method == "POST" && req.path_params["rest"] == "git-receive-pack";
    const auto before = push ? Branches(repo) : std::map<std::string, std::string>{};

    const auto q = req.target.find('?');
    std::vector<std::string> env = {
        "GIT_PROJECT_ROOT=" + repos_dir,
        "GIT_HTTP_EXPORT_ALL=1",
        "PATH_INFO=/" + site->id + ".git/" + req.path_params["rest"],
        "REQUEST_METHOD=" + req.method,
        "QUERY_STRING=" + (q == std::string::npos ? std::string() : req.target.substr(q + 1)),
        "CONTENT_TYPE=" + std::string(req.Header("Content-Type")),
        "CONTENT_LENGTH=" + std::to_string(req.body.size()),
        "REMOTE_USER=" + who->user.email,
        "REMOTE_ADDR=" + req.remote_address,
        "PATH=/usr/bin:/bin",
        "GIT_CONFIG_NOSYSTEM=1",
        "HOME=" + repos_dir,
    };
    if (const auto enc = req.Header("Content-Encoding"); !enc.empty()) {
      env.push_back("HTTP_CONTENT_ENCODING=" + std::string(enc));
    }
    if (const auto proto = req.Header("Git-Protocol"); !proto.empty()) {
      env.push_back("GIT_PROTOCOL=" + std::string(proto));
    }
    auto cgi = core::RunProcess(
        {.argv = {"/usr/lib/git-core/git-http-backend"}, .env = env, .input = req.body});
    if (!cgi.ok()) return ErrorResponse(cgi.error(), req.request_id);
    std::optional<http::Response> parsed = http::ParseCgiOutput(cgi->out);
    if (!parsed) {
      return ErrorResponse(MakeError(ErrorCode::kInternal, "git http-backend failed"),
                           req.request_id);
    }
    http::Response response = std::move(*parsed);
    if (push && response.status == 200) {
      for (const auto& [ref, sha] : Branches(repo)) {
        auto it = before.find(ref);
        if (it != before.end() && it->second == sha) continue;
        const std::string branch = ref.substr(std::string("refs/heads/").size());
        BuildRequest build;
        build.branch = branch;
        build.commit_sha = sha;
        build.own_remote = true;
        auto queued = app.builds().QueueBuild(*site, build);
        if (!queued.ok()) spdlog::error("push to {}: {}", site->name, queued.error().message);
      }
    }
    return response;
  };
  router.Add("GET", "/git/{repo}/{rest...}", serve, kSlowRoute);
  router.Add("POST", "/git/{repo}/{rest...}", serve, {kMaxPush, http::Pool::kSlow});
}

}  // namespace replideploy::api
