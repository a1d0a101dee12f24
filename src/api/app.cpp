#include "api/app.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/json.hpp>

#include "api/errors.hpp"
#include "core/ids.hpp"

namespace replideploy::api {

namespace json = boost::json;

App::App(db::Database& db, store::BlobStore& blobs, const core::Clock& clock, AppOptions options)
    : db_(db),
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
      queue_(db, clock),
      runner_(builder::BubblewrapOptions{}, clock),
      worker_(db, queue_, deploys_, blobs, runner_, [this] {
        builder::WorkerOptions o;
        o.worker_id = "worker-" + std::to_string(::getpid()) + "-" + core::NewHexId().substr(0, 6);
        o.builds_dir = options_.builds_dir;
        o.cache_dir = options_.cache_dir;
        o.env_for_build = [this](const std::string& site_id, const std::string& context) {
          return env_vars_.ForBuild(site_id, context);
        };
        o.repos_dir = options_.repos_dir;
        o.limits = options_.build_limits;
        return o;
      }()) {
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
  auto dashboard = DashboardFiles::Load(options_.dashboard_dir);
  if (!dashboard.ok()) spdlog::error("dashboard: {}", dashboard.error().message);
  dashboard_ = dashboard.ok() ? std::move(dashboard).value() : DashboardFiles::Load("").value();
  processor_.Start();
  if (!options_.repos_dir.empty() && !options_.builds_dir.empty()) worker_.Start();
}

App::~App() {
  worker_.Stop();
  processor_.Stop();
}

Result<deploys::Deploy> App::QueueBuild(const deploys::Site& site, const std::string& branch,
                                        const std::string& commit) {
  const std::string production =
      site.build_settings.repo_branch.empty() ? "main" : site.build_settings.repo_branch;
  deploys::NewDeploy spec;
  spec.branch = branch;
  spec.commit_ref = commit;
  spec.deploy_source = "git";
  spec.context = branch == production ? "production" : "branch-deploy";
  RD_TRY(deploys::Deploy deploy, deploys_.CreateForBuild(site.id, spec));
  std::vector<std::string> superseded;
  RD_TRY(builder::BuildJob job, queue_.Enqueue(deploy.id, site.id, branch, commit, &superseded));
  for (const auto& old_job : superseded) {
    auto old = queue_.Get(old_job);
    if (old.ok()) (void)deploys_.FailDeploy(old->deploy_id, "superseded by a newer push");
  }
  worker_.Wake();
  return deploy;
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
