// The control plane's HTTP face: routes for accounts, tokens and sites in Netlify's API shape,
// health checks, the dashboard's files. It owns no service and runs no SQL: the role assembly
// (src/roles/) builds the services and hands them in.
//
// Handlers are thin: parse, authenticate, call a service, render JSON. Build the App once at
// start-up; Resolver() is then safe to call from any I/O thread.
#pragma once

#include <atomic>
#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/dashboard.hpp"
#include "api/function_log_stream.hpp"
#include "api/log_stream.hpp"
#include "audit/audit_log.hpp"
#include "auth/login_throttle.hpp"
#include "auth/users.hpp"
#include "builder/build_logs.hpp"
#include "builder/build_trigger.hpp"
#include "builder/queue.hpp"
#include "core/clock.hpp"
#include "core/net.hpp"
#include "deploys/analytics.hpp"
#include "deploys/deploys.hpp"
#include "deploys/env_vars.hpp"
#include "deploys/function_logs.hpp"
#include "deploys/function_stats.hpp"
#include "deploys/sites.hpp"
#include "domains/domains.hpp"
#include "git/github_connections.hpp"
#include "http/router.hpp"
#include "http/server.hpp"
#include "store/blob_store.hpp"

namespace replideploy::api {

// The services the handlers call; they outlive the App (the role assembly owns them).
struct ApiServices {
  auth::UserService& users;
  audit::AuditLog& audit;
  auth::LoginThrottle& login_throttle;
  deploys::SiteService& sites;
  deploys::DeployService& deploys;
  deploys::EnvVarService& env_vars;
  git::GithubConnections& github;
  builder::BuildQueue& build_queue;
  builder::BuildTrigger& builds;
  builder::BuildLogStore& build_logs;
  store::BlobStore& blobs;  // rule files, for explaining rules
  const core::Clock& clock;
  // /readyz: whether the database answers.
  std::function<Status()> ready;
  domains::DomainService& domains;
  deploys::AnalyticsService& analytics;
  deploys::FunctionLogStore& function_logs;
  deploys::FunctionStatsService& function_stats;
};

struct ApiOptions {
  std::string base_domain = "localhost";
  std::string admin_host;     // an extra control-plane Host name
  std::string dashboard_dir;  // the dashboard's exported files; empty: none
  std::string repos_dir;      // the platform's git repositories (<data-dir>/repos)
  // The address users and GitHub reach us at ("https://deploy.example.com"); empty: ControlUrl.
  std::string public_url;
  std::chrono::milliseconds log_stream_poll{500};
  // Reverse proxies whose X-Forwarded-For / Forwarded name the client (see ClientAddress).
  std::vector<core::Cidr> trusted_proxies;
};

using BuildRequest = builder::BuildRequest;

class App {
 public:
  App(ApiServices services, ApiOptions options);
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  // What the HTTP server calls after reading a request's head: the API's routes, else the
  // dashboard's files (for reads).
  http::Resolver Resolver();

  // The port the server is reachable on, for the URLs in API responses. Set after Listen().
  void SetPublicPort(std::uint16_t port) { public_port_ = port; }

  // True for a Host (already lower-cased, without port) the control plane answers.
  bool IsControlHost(std::string_view host) const;

  // Used by handlers.
  auth::UserService& users() { return services_.users; }
  audit::AuditLog& audit() { return services_.audit; }
  auth::LoginThrottle& login_throttle() { return services_.login_throttle; }
  deploys::SiteService& sites() { return services_.sites; }
  deploys::DeployService& deploys() { return services_.deploys; }
  deploys::EnvVarService& env_vars() { return services_.env_vars; }
  git::GithubConnections& github() { return services_.github; }
  builder::BuildQueue& build_queue() { return services_.build_queue; }
  builder::BuildTrigger& builds() { return services_.builds; }
  builder::BuildLogStore& build_logs() { return services_.build_logs; }
  store::BlobStore& blobs() { return services_.blobs; }
  domains::DomainService& domains() const { return services_.domains; }
  deploys::AnalyticsService& analytics() const { return services_.analytics; }
  const core::Clock& clock() const { return services_.clock; }
  Status Ready() const { return services_.ready ? services_.ready() : Status{}; }
  const ApiOptions& options() const { return options_; }
  deploys::FunctionLogStore& function_logs() const { return services_.function_logs; }
  deploys::FunctionStatsService& function_stats() const { return services_.function_stats; }
  LogStreamHub& log_streams() { return log_streams_; }
  FunctionLogStreamHub& function_log_streams() { return function_log_streams_; }
  // Lets go of every live log viewer (build and function logs). Call it before the HTTP server
  // that accepted their sockets is destroyed. Idempotent; the destructor calls it.
  void ShutdownLogStreams();
  // "http://<label>.<base-domain>[:port]".
  std::string SiteUrl(std::string_view label) const;
  // "http://localhost[:port]<path>", the dashboard's address.
  std::string ControlUrl(std::string_view path) const;
  // "<public url><path>": where GitHub and users reach the API (webhook, OAuth callback).
  std::string PublicUrl(std::string_view path) const;

  // The client's address: the socket peer, or what a trusted proxy says (http::ClientAddress).
  std::string ClientAddress(const http::Request& request) const;

  // Who is behind the request's "Authorization: Bearer" header, if the credential allows
  // `scope`: kUnauthenticated (401) without a live credential, kForbidden
  // "insufficient_scope" (403) for an API token without the scope.
  Result<auth::Principal> Authorize(const http::Request& request, auth::Scope scope);
  // The same, for handlers that need only the user.
  Result<auth::User> Authenticate(const http::Request& request, auth::Scope scope);
  // As Authorize, for a bearer credential that came another way (a WebSocket subprotocol, the
  // password of git's Basic credentials).
  Result<auth::Principal> AuthorizeBearer(std::string_view bearer, auth::Scope scope);

  // The client's address (as ClientAddress) and User-Agent, for the audit log and sessions.
  audit::ClientInfo Client(const http::Request& request) const;
  // Records a change `principal` made (and that is committed) on their account's audit log.
  // A failure to record is logged, not returned: the change stands.
  void RecordAudit(const auth::Principal& principal, const http::Request& request,
                   std::string action, std::string target, const boost::json::object& details);

 private:
  ApiServices services_;
  ApiOptions options_;
  LogStreamHub log_streams_;
  FunctionLogStreamHub function_log_streams_;
  std::unique_ptr<DashboardFiles> dashboard_;
  http::Router router_;
  std::atomic<std::uint16_t> public_port_{80};
};

// Routes whose handlers wait on the outside world (git, GitHub): they run on the server's slow
// pool, so that a remote that never answers holds up none of the other requests.
inline const http::RouteOptions kSlowRoute{.pool = http::Pool::kSlow};

// Route groups, one file each.
void AddHealthRoutes(http::Router& router, App& app);
void AddAuthRoutes(http::Router& router, App& app);
void AddSessionRoutes(http::Router& router, App& app);
void AddSiteRoutes(http::Router& router, App& app);
void AddDeployRoutes(http::Router& router, App& app);
void AddAccountRoutes(http::Router& router, App& app);
void AddGitRemoteRoutes(http::Router& router, App& app);
void AddEnvRoutes(http::Router& router, App& app);
void AddGithubRoutes(http::Router& router, App& app);
void AddLogStreamRoutes(http::Router& router, App& app);
void AddRulesRoutes(http::Router& router, App& app);
void AddHostedOnlyRoutes(http::Router& router, App& app);
void AddDomainRoutes(http::Router& router, App& app);
void AddAnalyticsRoutes(http::Router& router, App& app);
void AddFunctionRoutes(http::Router& router, App& app);

// A site in Netlify's JSON shape (site_handlers.cpp).
boost::json::object SiteJson(const App& app, const deploys::Site& site);

// Creates a site for `user` (see builder::BuildTrigger::CreateSite), its webhook at our URL.
Result<deploys::Site> CreateSite(App& app, const auth::User& user, const deploys::SitePatch& patch);

// 429 "too many failed logins" with Retry-After (logins and password changes).
Error TooManyLogins(int wait_seconds);

// Wraps a handler that returns Result<Response>, so errors become the table's JSON errors.
http::Handler Handle(std::function<Result<http::Response>(http::Request&)> body);

}  // namespace replideploy::api
