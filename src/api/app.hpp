// The control plane's HTTP face: routes for accounts, tokens and sites in Netlify's API shape,
// health checks, and the split by Host between the control plane and the edge.
//
// Handlers are thin: parse, authenticate, call a service, render JSON. Build the App once at
// start-up; Resolver() is then safe to call from any I/O thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "api/dashboard.hpp"
#include "api/github_link.hpp"
#include "api/log_stream.hpp"
#include "auth/login_throttle.hpp"
#include "auth/users.hpp"
#include "builder/queue.hpp"
#include "builder/worker.hpp"
#include "core/clock.hpp"
#include "db/database.hpp"
#include "deploys/deploys.hpp"
#include "deploys/env_vars.hpp"
#include "deploys/processor.hpp"
#include "deploys/sites.hpp"
#include "edge/edge.hpp"
#include "git/github_client.hpp"
#include "http/router.hpp"
#include "http/server.hpp"
#include "sandbox/docker_runner.hpp"
#include "sandbox/runner.hpp"
#include "sandbox/volume.hpp"

namespace replideploy::api {

struct AppOptions {
  std::string base_domain = "localhost";
  std::string admin_host;  // an extra control-plane Host name
  auth::UserServiceOptions users;
  deploys::DeployServiceOptions deploys;
  edge::EdgeOptions edge;
  std::chrono::milliseconds processor_interval{5000};
  std::string dashboard_dir;  // the dashboard's exported files; empty: none
  std::string repos_dir;      // the platform's git repositories (<data-dir>/repos)
  std::string builds_dir;     // build workspaces (<data-dir>/builds)
  std::string cache_dir;      // per-site build caches (<data-dir>/cache)
  sandbox::SandboxLimits build_limits;
  // The bubblewrap runner's settings (network policy, ...).
  sandbox::BubblewrapOptions bubblewrap;
  // Per-build workspace volumes (disk quota): images under volumes_dir; "" disables them.
  std::string volumes_dir;
  sandbox::VolumeLimits build_disk;
  std::string env_key;     // 32 bytes encrypting environment variables at rest
  std::string github_key;  // 32 bytes encrypting GitHub tokens, webhook secrets; signing states
  git::GithubOptions github;
  // Builds run at once in this process (0: none; `replideploy worker` processes build).
  int build_workers = 1;
  std::string build_runner = "bubblewrap";  // or "docker"
  sandbox::DockerOptions docker;
  builder::QueueOptions queue;
  std::chrono::milliseconds heartbeat_every{5000};
  // Sites following a git URL are checked this often; 0 disables the poller.
  std::chrono::milliseconds git_poll_interval{60'000};
  bool allow_private_git = false;  // git URLs may reach loopback/private addresses (tests)
  // The address users and GitHub reach us at ("https://deploy.example.com"); empty: ControlUrl.
  std::string public_url;
  std::chrono::milliseconds log_stream_poll{500};
};

// What to build: a commit of a branch, in a deploy context.
struct BuildRequest {
  std::string branch;
  std::string commit_sha;  // empty: the branch's head, looked up now
  std::string title;       // the commit message (or the pull request's title)
  std::string context;     // empty: production for the production branch, else branch-deploy
  std::optional<std::int64_t> review_id;  // deploy previews: the pull request number
  bool allow_secrets = true;
  bool own_remote = false;  // pushed to the platform's remote, whatever the site follows
};

class App {
 public:
  // Starts the background deploy processor; the destructor stops it.
  App(db::Database& db, store::BlobStore& blobs, const core::Clock& clock, AppOptions options);
  ~App();

  // What the HTTP server calls after reading a request's head.
  http::Resolver Resolver();

  // The port the server is reachable on, for the URLs in API responses. Set after Listen().
  void SetPublicPort(std::uint16_t port) { public_port_ = port; }

  // True for a Host (already lower-cased, without port) the control plane answers.
  bool IsControlHost(std::string_view host) const;

  // Used by handlers.
  auth::UserService& users() { return users_; }
  auth::LoginThrottle& login_throttle() { return throttle_; }
  deploys::SiteService& sites() { return sites_; }
  deploys::DeployService& deploys() { return deploys_; }
  edge::Edge& edge() { return edge_; }
  db::Database& database() { return db_; }
  const core::Clock& clock() const { return clock_; }
  const AppOptions& options() const { return options_; }
  // "http://<label>.<base-domain>[:port]".
  std::string SiteUrl(std::string_view label) const;
  // "http://localhost[:port]<path>", the dashboard's address.
  std::string ControlUrl(std::string_view path) const;
  // Queues a build of a site (from its repository: GitHub, a git URL, or the platform's own);
  // supersedes queued builds of the same branch and context.
  Result<deploys::Deploy> QueueBuild(const deploys::Site& site, const BuildRequest& request);
  // "<public url><path>": where GitHub and users reach the API (webhook, OAuth callback).
  std::string PublicUrl(std::string_view path) const;
  GithubLink& github() { return github_; }
  LogStreamHub& log_streams() { return log_streams_; }
  // Checks the sites following a git URL for new commits on their production branch (what the
  // poller does every git_poll_interval); returns how many builds it queued.
  int PollGitSources();
  // "<github web url>/": repository URLs of GitHub sites start with it.
  std::string GithubRepoPrefix() const;
  // Whether git may reach private addresses for this site's repository: the configured GitHub
  // (an operator's setting, possibly GitHub Enterprise inside the network) always may; user
  // URLs only with allow_private_git.
  bool GitMayReachPrivate(const deploys::BuildSettings& settings) const;
  builder::BuildQueue& build_queue() { return queue_; }
  deploys::EnvVarService& env_vars() { return env_vars_; }

  // The user behind the request's "Authorization: Bearer" header.
  Result<auth::User> Authenticate(const http::Request& request);

 private:
  db::Database& db_;
  const core::Clock& clock_;
  AppOptions options_;
  auth::UserService users_;
  auth::LoginThrottle throttle_;
  deploys::SiteService sites_;
  deploys::DeployService deploys_;
  deploys::EnvVarService env_vars_;
  edge::Edge edge_;
  deploys::DeployProcessor processor_;
  builder::BuildQueue queue_;
  GithubLink github_;
  LogStreamHub log_streams_;
  std::unique_ptr<sandbox::SandboxRunner> runner_;
  std::vector<std::unique_ptr<builder::BuildWorker>> workers_;
  std::jthread poller_;
  std::unique_ptr<DashboardFiles> dashboard_;
  http::Router router_;
  std::atomic<std::uint16_t> public_port_{80};
};

// Route groups, one file each.
void AddHealthRoutes(http::Router& router, App& app);
void AddAuthRoutes(http::Router& router, App& app);
void AddSiteRoutes(http::Router& router, App& app);
void AddDeployRoutes(http::Router& router, App& app);
void AddAccountRoutes(http::Router& router, App& app);
void AddGitRemoteRoutes(http::Router& router, App& app);
void AddEnvRoutes(http::Router& router, App& app);
void AddGithubRoutes(http::Router& router, App& app);
void AddLogStreamRoutes(http::Router& router, App& app);

// Creates a site for `user`; with a repository ("github": creates the webhook, or no site;
// "git": checks the URL and branch can be read) it queues the first build.
Result<deploys::Site> CreateSite(App& app, const auth::User& user, const deploys::SitePatch& patch);
// Deletes a GitHub site's webhook on GitHub (best effort: a revoked token is logged).
Status RemoveGithubHook(App& app, const deploys::Site& site);

// Wraps a handler that returns Result<Response>, so errors become the table's JSON errors.
http::Handler Handle(std::function<Result<http::Response>(http::Request&)> body);

}  // namespace replideploy::api
