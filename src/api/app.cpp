#include "api/app.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>

#include "api/errors.hpp"
#include "builder/git_source.hpp"
#include "core/ids.hpp"

namespace replideploy::api {

namespace json = boost::json;

App::App(db::Database& db, store::BlobStore& blobs, const core::Clock& clock, AppOptions options)
    : db_(db),
      clock_(clock),
      options_(std::move(options)),
      users_(db, clock, options_.users),
      throttle_(clock),
      sites_(db, clock),
      deploys_(db, blobs, clock, sites_, options_.deploys),
      env_vars_(db, clock, sites_,
                options_.env_key.empty() ? std::string(32, '\0') : options_.env_key),
      edge_(db, deploys_, blobs,
            [this] {
              edge::EdgeOptions o = options_.edge;
              o.base_domain = options_.base_domain;
              return o;
            }()),
      processor_(deploys_, options_.processor_interval),
      queue_(db, clock, options_.queue),
      github_(db, clock, options_.github,
              options_.github_key.empty() ? std::string(32, '\1') : options_.github_key),
      log_streams_(db, options_.log_stream_poll) {
  if (options_.build_runner == "docker") {
    runner_ = std::make_unique<sandbox::DockerRunner>(options_.docker, clock);
  } else {
    runner_ = std::make_unique<sandbox::BubblewrapRunner>(options_.bubblewrap, clock);
  }
  deploys_.SetValidator(&edge::Edge::ValidateDeploy);
  deploys_.AddPublishListener(
      [this](const std::string& site_id) { edge_.InvalidateSite(site_id); });
  deploys_.SetProcessingHook([this] { processor_.Wake(); });
  sites_.SetChangeListener([this](const std::string& site_id) { edge_.InvalidateSite(site_id); });
  AddHealthRoutes(router_, *this);
  AddAuthRoutes(router_, *this);
  AddSiteRoutes(router_, *this);
  AddDeployRoutes(router_, *this);
  AddAccountRoutes(router_, *this);
  AddGitRemoteRoutes(router_, *this);
  AddEnvRoutes(router_, *this);
  AddGithubRoutes(router_, *this);
  AddLogStreamRoutes(router_, *this);
  auto dashboard = DashboardFiles::Load(options_.dashboard_dir);
  if (!dashboard.ok()) spdlog::error("dashboard: {}", dashboard.error().message);
  dashboard_ = dashboard.ok() ? std::move(dashboard).value() : DashboardFiles::Load("").value();
  processor_.Start();

  if (!options_.repos_dir.empty() && !options_.builds_dir.empty()) {
    const std::string prefix =
        "worker-" + std::to_string(::getpid()) + "-" + core::NewHexId().substr(0, 6) + "-";
    for (int i = 0; i < options_.build_workers; ++i) {
      builder::WorkerOptions o;
      o.worker_id = prefix + std::to_string(i);
      o.builds_dir = options_.builds_dir;
      o.cache_dir = options_.cache_dir;
      o.volumes_dir =
          options_.volumes_dir.empty()
              ? ""
              : options_.volumes_dir + "/" + std::to_string(::getpid()) + "-" + std::to_string(i);
      o.disk = options_.build_disk;
      o.repos_dir = options_.repos_dir;
      o.limits = options_.build_limits;
      o.heartbeat_every = options_.heartbeat_every;
      o.sites = &sites_;
      o.allow_private_git = options_.allow_private_git;
      o.trusted_git_prefix = GithubRepoPrefix();
      o.env_for_build = [this](const std::string& site_id, const std::string& context) {
        return env_vars_.ForBuild(site_id, context);
      };
      o.git_token = [this](const std::string& site_id) -> std::string {
        auto site = sites_.GetById(site_id);
        if (!site.ok() || site->build_settings.provider != "github") return "";
        auto token = github_.Token(site->owner_user_id);
        return token.ok() ? *token : "";
      };
      o.on_phase = [this](const builder::BuildJob& job, builder::BuildPhase phase,
                          const std::string& detail) {
        auto site = sites_.GetById(job.site_id);
        if (!site.ok()) return;
        github_.ReportBuild(*site, job, phase, detail, SiteUrl(job.deploy_id + "--" + site->name),
                            PublicUrl("/sites/" + site->name + "/deploys/" + job.deploy_id + "/"));
      };
      o.on_log = [this](const std::string& deploy_id) { log_streams_.Notify(deploy_id); };
      workers_.push_back(std::make_unique<builder::BuildWorker>(db, queue_, deploys_, blobs,
                                                                *runner_, std::move(o)));
      workers_.back()->Start();
    }
    if (options_.git_poll_interval.count() > 0) {
      poller_ = std::jthread([this](const std::stop_token& stop) {
        while (core::SleepUnlessStopped(stop, options_.git_poll_interval)) PollGitSources();
      });
    }
  }
}

App::~App() {
  if (poller_.joinable()) {
    poller_.request_stop();
    poller_.join();
  }
  for (auto& worker : workers_) worker->Stop();
  processor_.Stop();
}

Result<deploys::Deploy> App::QueueBuild(const deploys::Site& site, const BuildRequest& request) {
  const deploys::BuildSettings& b = site.build_settings;
  const std::string production = b.repo_branch.empty() ? "main" : b.repo_branch;
  builder::JobSource source;
  source.repo_url = b.provider.empty() || request.own_remote ? "" : b.repo_url;
  source.context = !request.context.empty()       ? request.context
                   : request.branch == production ? "production"
                                                  : "branch-deploy";
  source.allow_secrets = request.allow_secrets;
  source.review_id = request.review_id;
  std::string commit = request.commit_sha;
  std::string title = request.title;
  const std::string local_repo = options_.repos_dir + "/" + site.id + ".git";
  if (commit.empty()) {
    builder::GitSource git;
    if (source.repo_url.empty()) {
      git.url = local_repo;
      std::error_code ec;
      if (!std::filesystem::exists(local_repo + "/HEAD", ec)) {
        return Unprocessable("no_source",
                             "nothing to build yet: push to the site's git remote, or connect "
                             "a repository");
      }
    } else {
      git.url = source.repo_url;
      git.allow_private = GitMayReachPrivate(b);
      if (b.provider == "github") {
        auto token = github_.Token(site.owner_user_id);
        if (token.ok()) git.token = *token;
      }
    }
    RD_TRY(commit, builder::RemoteHead(git, request.branch));
  }
  if (title.empty() && source.repo_url.empty()) title = builder::CommitSubject(local_repo, commit);
  deploys::NewDeploy spec;
  spec.branch = request.branch;
  spec.commit_ref = commit;
  spec.title = title;
  spec.review_id = request.review_id;
  spec.deploy_source = "git";
  spec.context = source.context;
  RD_TRY(deploys::Deploy deploy, deploys_.CreateForBuild(site.id, spec));
  std::vector<std::string> superseded;
  RD_TRY(builder::BuildJob job,
         queue_.Enqueue(deploy.id, site.id, request.branch, commit, &superseded, source));
  for (const auto& old_job : superseded) {
    auto old = queue_.Get(old_job);
    if (old.ok()) (void)deploys_.FailDeploy(old->deploy_id, "superseded by a newer push");
  }
  for (auto& worker : workers_) worker->Wake();
  return deploy;
}

int App::PollGitSources() {
  auto sites = sites_.ListByRepo("git", "");
  if (!sites.ok()) {
    spdlog::warn("git poller: {}", sites.error().message);
    return 0;
  }
  int queued = 0;
  for (const auto& site : *sites) {
    const std::string branch =
        site.build_settings.repo_branch.empty() ? "main" : site.build_settings.repo_branch;
    builder::GitSource git{site.build_settings.repo_url, "",
                           GitMayReachPrivate(site.build_settings)};
    auto head = builder::RemoteHead(git, branch);
    if (!head.ok()) {
      spdlog::info("git poller: site {}: {}", site.name, head.error().message);
      continue;
    }
    // Only the poller that moves polled_sha from what it read queues the build.
    auto rows = db_.Exec("SELECT polled_sha FROM sites WHERE id = ?", {site.id});
    if (!rows.ok() || rows->empty() || rows->rows.front().Text(0) == *head) continue;
    auto moved = db_.Exec("UPDATE sites SET polled_sha = ? WHERE id = ? AND polled_sha = ?",
                          {*head, site.id, rows->rows.front().Text(0)});
    if (!moved.ok() || moved->affected == 0) continue;
    auto deploy = QueueBuild(site, BuildRequest{branch, *head, "", "", std::nullopt, true, false});
    if (deploy.ok()) {
      ++queued;
      spdlog::info("git poller: site {}: new commit {} on {}", site.name, head->substr(0, 12),
                   branch);
    } else {
      spdlog::warn("git poller: site {}: {}", site.name, deploy.error().message);
    }
  }
  return queued;
}

std::string App::GithubRepoPrefix() const {
  std::string web = options_.github.web_url;
  while (!web.empty() && web.back() == '/') web.pop_back();
  return web + "/";
}

bool App::GitMayReachPrivate(const deploys::BuildSettings& settings) const {
  return options_.allow_private_git ||
         (settings.provider == "github" && settings.repo_url.starts_with(GithubRepoPrefix()));
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

Result<auth::User> App::Authenticate(const http::Request& request) {
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
  auto user = users_.Authenticate(header);
  if (!user.ok() && user.error().code == ErrorCode::kUnauthenticated) {
    // The precise reason (expired, bad signature, revoked) is for the log, not the client.
    return MakeError(ErrorCode::kUnauthenticated, "invalid or expired credentials");
  }
  return user;
}

http::Resolver App::Resolver() {
  return [this](const http::Request& head) -> http::Dispatch {
    if (!IsControlHost(head.HostName())) {
      // Everything else is a site: the edge answers, and takes no large bodies except to
      // proxies.
      return {[this](http::Request& r) { return edge_.Serve(r); },
              http::kDefaultBodyLimit,
              {},
              [this](http::Request& r) { return edge_.TryServeFromMemory(r); }};
    }
    http::RouteMatch match = router_.Match(head.method, head.path);
    switch (match.kind) {
      case http::RouteMatch::Kind::kFound:
        return {*match.handler, match.options.body_limit, std::move(match.params)};
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
  router.Add("GET", "/healthz",
             [](http::Request&) { return http::Response::Json(200, R"({"status":"ok"})"); });
  router.Add("GET", "/readyz", [&app](http::Request& request) {
    Status ping = app.database().Ping();
    if (!ping.ok()) {
      return ErrorResponse(MakeError(ErrorCode::kUnavailable, ping.error().message),
                           request.request_id);
    }
    return http::Response::Json(200, R"({"status":"ready","database":"ok"})");
  });
}

}  // namespace replideploy::api
