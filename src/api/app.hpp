// The control plane's HTTP face: routes for accounts, tokens and sites in Netlify's API shape,
// health checks, and the split by Host between the control plane and the edge.
//
// Handlers are thin: parse, authenticate, call a service, render JSON. Build the App once at
// start-up; Resolver() is then safe to call from any I/O thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "api/dashboard.hpp"
#include "auth/login_throttle.hpp"
#include "auth/users.hpp"
#include "builder/queue.hpp"
#include "builder/sandbox.hpp"
#include "builder/worker.hpp"
#include "core/clock.hpp"
#include "db/database.hpp"
#include "deploys/deploys.hpp"
#include "deploys/env_vars.hpp"
#include "deploys/processor.hpp"
#include "deploys/sites.hpp"
#include "edge/edge.hpp"
#include "http/router.hpp"
#include "http/server.hpp"

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
  builder::SandboxLimits build_limits;
  std::string env_key;  // 32 bytes encrypting environment variables at rest
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
  const AppOptions& options() const { return options_; }
  // "http://<label>.<base-domain>[:port]".
  std::string SiteUrl(std::string_view label) const;
  // "http://localhost[:port]<path>", the dashboard's address.
  std::string ControlUrl(std::string_view path) const;
  // Queues a build of `commit` on `branch` of a site (production when it is the production
  // branch, else a branch deploy); supersedes queued builds of the same branch.
  Result<deploys::Deploy> QueueBuild(const deploys::Site& site, const std::string& branch,
                                     const std::string& commit);
  builder::BuildQueue& build_queue() { return queue_; }
  deploys::EnvVarService& env_vars() { return env_vars_; }

  // The user behind the request's "Authorization: Bearer" header.
  Result<auth::User> Authenticate(const http::Request& request);

 private:
  db::Database& db_;
  AppOptions options_;
  auth::UserService users_;
  auth::LoginThrottle throttle_;
  deploys::SiteService sites_;
  deploys::DeployService deploys_;
  deploys::EnvVarService env_vars_;
  edge::Edge edge_;
  deploys::DeployProcessor processor_;
  builder::BuildQueue queue_;
  builder::BubblewrapRunner runner_;
  builder::BuildWorker worker_;
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

// Wraps a handler that returns Result<Response>, so errors become the table's JSON errors.
http::Handler Handle(std::function<Result<http::Response>(http::Request&)> body);

}  // namespace replideploy::api
