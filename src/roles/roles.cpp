#include "roles/roles.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>

#include "builder/build_trigger.hpp"
#include "builder/functions_bundle.hpp"
#include "core/ids.hpp"
#include "core/metrics.hpp"
#include "core/text.hpp"
#include "db/change_events.hpp"
#include "edge/route.hpp"
#include "sandbox/docker_runner.hpp"

namespace replideploy::roles {

namespace {

edge::EdgeOptions EdgeOptionsOf(const PlatformOptions& options) {
  edge::EdgeOptions o = options.edge;
  o.base_domain = options.base_domain;
  return o;
}

api::ApiOptions ApiOptionsOf(const PlatformOptions& options) {
  api::ApiOptions o;
  o.base_domain = options.base_domain;
  o.admin_host = options.admin_host;
  o.dashboard_dir = options.dashboard_dir;
  o.repos_dir = options.repos_dir;
  o.public_url = options.public_url;
  o.log_stream_poll = options.log_stream_poll;
  o.trusted_proxies = options.trusted_proxies;
  return o;
}

// The edge's function call as the runtime takes it.
functions::FunctionRequest ToFunctionRequest(const edge::FunctionCall& call,
                                             const std::string& base_domain) {
  const http::Request& r = call.request;
  functions::FunctionRequest f;
  f.deploy_id = call.deploy_id;
  f.function_name = call.function;
  f.bundle_sha256 = call.bundle_sha256;
  f.site_id = call.site_id;
  f.site_name = call.site_name;
  const std::string host(r.Header("Host"));
  f.site_url = "http://" + (call.production ? host : call.site_name + "." + base_domain);
  f.deploy_context = call.production ? "production" : "deploy-preview";
  f.method = r.method;
  f.raw_url = "http://" + host + r.target;
  f.path = call.path;
  const auto q = r.target.find('?');
  f.raw_query = q == std::string::npos ? "" : r.target.substr(q + 1);
  f.headers = r.headers.All();
  f.body = r.body;
  f.client_ip = r.remote_address;
  f.request_id = r.request_id;
  f.params = call.params;
  return f;
}

// A function's streamed body as the HTTP server pulls it.
class FunctionBodyStream : public http::BodyStream {
 public:
  explicit FunctionBodyStream(std::shared_ptr<functions::StreamedBody> body)
      : body_(std::move(body)) {}
  std::optional<std::string> Next() override { return body_->Next(); }
  bool Complete() const override { return body_->complete(); }
  void Cancel() override { body_->Cancel(); }

 private:
  std::shared_ptr<functions::StreamedBody> body_;
};

http::Response ToHttpResponse(functions::FunctionResponse answer) {
  http::Response response;
  response.status = answer.status;
  for (auto& [name, value] : answer.headers) {
    // The server frames the body itself.
    if (core::EqualsIgnoreCase(name, "content-length") ||
        core::EqualsIgnoreCase(name, "transfer-encoding") ||
        core::EqualsIgnoreCase(name, "connection")) {
      continue;
    }
    response.headers.Add(std::move(name), std::move(value));
  }
  if (!response.headers.Has("Cache-Control")) response.headers.Set("Cache-Control", "no-cache");
  response.body = std::move(answer.body);
  if (answer.stream) response.body_stream = std::make_shared<FunctionBodyStream>(answer.stream);
  return response;
}

// A background function's call (docs/functions.md, "Background functions"): 202 with an empty
// body once it started; 429 past the runner's caps, as a synchronous call past its queue.
http::Response BackgroundCall(functions::BackgroundRunner& background,
                              functions::FunctionRequest request) {
  const Status started = background.Submit(std::move(request));
  http::Response response;
  if (started.ok()) {
    response.status = 202;
  } else if (started.error().code == ErrorCode::kRateLimited) {
    response = http::Response::Text(429, "Too Many Requests: the function is busy\n");
    response.headers.Set("Retry-After", "1");
  } else {
    response = http::Response::Text(503, "Service Unavailable: the server is shutting down\n");
  }
  response.headers.Set("Cache-Control", "no-cache");
  return response;
}

// The call of a scheduled function's run, as Netlify makes it: POST with {"next_run": time},
// from "Netlify Clockwork", with the header X-NF-Event: schedule.
functions::FunctionRequest ScheduledRequest(const deploys::ScheduledRun& run,
                                            const std::string& base_domain) {
  functions::FunctionRequest f;
  f.deploy_id = run.function.deploy_id;
  f.function_name = run.function.function_name;
  f.bundle_sha256 = run.function.sha256;
  f.site_id = run.function.site_id;
  f.site_name = run.function.site_name;
  const std::string host = run.function.site_name + "." + base_domain;
  f.site_url = "http://" + host;
  f.deploy_context = "production";
  f.method = "POST";
  f.path = std::string(edge::kFunctionsPrefix) + run.function.function_name;
  f.raw_url = "http://" + host + f.path;
  f.body = "{\"next_run\":\"" + core::FormatIso8601(run.next_run * 1000) + "\"}";
  f.headers = {{"Host", host},
               {"User-Agent", "Netlify Clockwork"},
               {"Content-Type", "application/json"},
               {"Content-Length", std::to_string(f.body.size())},
               {"X-NF-Event", "schedule"}};
  f.client_ip = "127.0.0.1";
  f.request_id = core::NewHexId();
  return f;
}

// What to pre-warm when `site_id` published (functions/prewarm.hpp): the functions of its live
// deploy that answer HTTP (JavaScript, not scheduled; the prewarmer drops background ones).
Result<std::vector<functions::FunctionRequest>> FunctionsToWarm(Services& services,
                                                                const std::string& site_id,
                                                                const std::string& base_domain) {
  std::vector<functions::FunctionRequest> out;
  auto found = services.sites.GetById(site_id);
  if (!found.ok() && found.error().code == ErrorCode::kNotFound) return out;  // deleted
  RD_TRY(deploys::Site site, std::move(found));
  if (!site.published_deploy_id || site.published_deploy_id->empty()) return out;
  RD_TRY(auto manifest, services.deploys.Manifest(*site.published_deploy_id));
  for (const auto& [name, entry] : manifest->functions) {
    if (!entry.schedule.empty() || (!entry.runtime.empty() && entry.runtime != "js")) continue;
    functions::FunctionRequest f;
    f.deploy_id = manifest->deploy_id;
    f.function_name = name;
    f.bundle_sha256 = entry.sha256;
    f.site_id = site.id;
    f.site_name = site.name;
    f.site_url = "http://" + site.name + "." + base_domain;
    f.deploy_context = "production";
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace

EdgeRole::EdgeRole(Services& services, const PlatformOptions& options)
    : services_(services),
      traffic_(services.clock, options.analytics.top_paths),
      edge_(services.sites, services.deploys, services.blobs, EdgeOptionsOf(options)),
      base_domain_(options.base_domain),
      on_certificates_changed_(options.certificates.on_changed),
      function_calls_(services.clock) {
  edge_.SetTrafficCounters(&traffic_);
  services.deploys.AddPublishListener(
      [this](const std::string& site_id) { edge_.InvalidateSite(site_id); });
  services.sites.SetChangeListener(
      [this](const std::string& site_id) { edge_.InvalidateSite(site_id); });
  // HTTP-01 challenges of any process's issuance, answered before any site (RFC 8555 8.3).
  edge_.SetAcmeChallengeLookup(DatabaseChallengeLookup(services));
  edge_.SetCustomHostResolver([&services](const std::string& host) -> Result<edge::CustomHost> {
    RD_TRY(domains::DomainHost found, services.domains.FindHost(host));
    return edge::CustomHost{std::move(found.site_id), std::move(found.site_name),
                            std::move(found.redirect_to)};
  });
  services.domains.SetChangeListener([this] { DomainChanged(); });
  if (!options.functions_dir.empty()) {
    function_logs_ = std::make_unique<deploys::FunctionLogQueue>(
        services.function_logs, services.clock, deploys::FunctionLogQueue::Options{},
        [this](const auto&) {
          std::lock_guard lock(function_log_listener_mu_);
          if (function_log_listener_) function_log_listener_();
        });
    functions::RuntimeOptions runtime = options.functions;
    runtime.root_dir = options.functions_dir;
    runtime.on_log = [this](const functions::LogRecord& r) {
      function_logs_->Push({std::string(r.site_id), std::string(r.deploy_id),
                            std::string(r.function_name), 0, r.ts, std::string(r.stream),
                            std::string(r.request_id), std::string(r.line)});
    };
    runtime.on_call = [this](const functions::FunctionRequest& request, int status,
                             std::chrono::milliseconds took) {
      function_calls_.Record(request.site_id, request.deploy_id, request.function_name, status,
                             took.count());
    };
    auto environment =
        [&services, base_domain = options.base_domain](
            const functions::FunctionRequest& request) -> Result<functions::FunctionEnvironment> {
      RD_TRY(deploys::Deploy deploy, services.deploys.GetForBuild(request.deploy_id));
      // The deploy's own context (not the URL it is reached at): one process serves them all.
      std::string context = deploy.context;
      if (context.empty()) context = deploy.draft ? "deploy-preview" : "production";
      if (context == "draft") context = "deploy-preview";
      RD_TRY(auto vars, services.env_vars.ForBuild(request.site_id, context));
      functions::FunctionEnvironment env;
      for (auto& [key, value] : vars) {
        env.secrets.push_back(value);
        env.vars.emplace_back(key, std::move(value));
      }
      // Netlify's read-only variables, after the site's so they win.
      const std::string url = "http://" + request.site_name + "." + base_domain;
      env.vars.insert(env.vars.end(), {{"NETLIFY", "true"},
                                       {"CONTEXT", context},
                                       {"URL", url},
                                       {"DEPLOY_URL", "http://" + request.deploy_id + "--" +
                                                          request.site_name + "." + base_domain},
                                       {"DEPLOY_ID", request.deploy_id},
                                       {"SITE_ID", request.site_id},
                                       {"SITE_NAME", request.site_name}});
      return env;
    };
    runtime.environment = environment;
    if (options.functions_runner == "lambda") {
      functions::LambdaOptions lambda = options.lambda;
      lambda.environment = environment;
      lambda.on_log = runtime.on_log;
      lambda.on_call = runtime.on_call;
      auto made = functions::LambdaRunner::Create(services.blobs, std::move(lambda));
      if (!made.ok()) throw std::runtime_error(made.error().message);
      spdlog::info("functions: run on AWS Lambda at {} ({})",
                   options.lambda.endpoint.empty()
                       ? "lambda." + options.lambda.region + ".amazonaws.com"
                       : options.lambda.endpoint,
                   options.lambda.region);
      functions_ = std::move(made).value();
    } else {
      functions_runner_ = std::make_unique<sandbox::BubblewrapRunner>(
          functions::SandboxOptions(options.bubblewrap, options.functions.network), services.clock);
      auto local = std::make_unique<functions::FunctionRuntime>(services.blobs, *functions_runner_,
                                                                std::move(runtime));
      if (options.functions_prewarm.max_per_deploy > 0) {
        prewarmer_ = std::make_unique<functions::Prewarmer>(
            *local,
            [&services, base_domain = options.base_domain](const std::string& site_id) {
              return FunctionsToWarm(services, site_id, base_domain);
            },
            options.functions_prewarm);
      }
      functions_ = std::move(local);
    }
    background_ =
        std::make_unique<functions::BackgroundRunner>(*functions_, options.background_functions);
    edge_.SetFunctionInvoker([this](const edge::FunctionCall& call) {
      if (functions::IsBackgroundFunction(call.function)) {
        return BackgroundCall(*background_, ToFunctionRequest(call, base_domain_));
      }
      functions::FunctionRequest request = ToFunctionRequest(call, base_domain_);
      // The site's own limit for synchronous calls (background ones keep theirs).
      if (call.timeout_seconds > 0) request.timeout = std::chrono::seconds(call.timeout_seconds);
      return ToHttpResponse(functions_->Invoke(request));
    });
    scheduler_ = std::make_unique<deploys::FunctionScheduler>(
        services.db, services.clock,
        [this, base_domain = options.base_domain,
         timeout = options.scheduled_function_timeout](const deploys::ScheduledRun& run) {
          functions::FunctionRequest request = ScheduledRequest(run, base_domain);
          request.timeout = timeout;
          spdlog::info("scheduled function {} of site {}: the run of {}",
                       run.function.function_name, run.function.site_name,
                       core::FormatIso8601(run.slot * 1000));
          if (auto started = background_->Submit(std::move(request)); !started.ok()) {
            spdlog::warn("scheduled function {} of site {}: not run: {}",
                         run.function.function_name, run.function.site_name,
                         started.error().message);
          }
        });
    services.deploys.AddPublishListener([this](const std::string& site_id) {
      scheduler_->Wake();
      if (prewarmer_) prewarmer_->SitePublished(site_id);
    });
    scheduler_->Start();
  }
  // Last: the handlers use everything above. Null with SQLite.
  changes_ = services.db.Listen(
      std::string(db::kChangesChannel),
      db::NotificationHandler{[this](const std::string& payload) { ApplyChange(payload); },
                              [this] {
                                edge_.InvalidateAll();
                                if (on_certificates_changed_) on_certificates_changed_();
                              }});
  if (options.analytics_flush_interval.count() > 0) {
    flusher_ =
        std::jthread([this, flush = options.analytics_flush_interval,
                      rollup = options.analytics_rollup_interval](const std::stop_token& stop) {
          auto rolled_up = std::chrono::steady_clock::now() - rollup;
          while (core::SleepUnlessStopped(stop, flush)) {
            FlushTraffic();
            FlushFunctionRecords();
            if (rollup.count() > 0 && std::chrono::steady_clock::now() - rolled_up >= rollup) {
              rolled_up = std::chrono::steady_clock::now();
              if (auto done = services_.analytics.RollUp(); !done.ok()) {
                spdlog::warn("analytics: roll-up: {}", done.error().message);
              }
              if (functions_) {
                if (auto done = services_.function_logs.Prune(); !done.ok()) {
                  spdlog::warn("function logs: pruning: {}", done.error().message);
                }
                if (auto done = services_.function_stats.Prune(); !done.ok()) {
                  spdlog::warn("function statistics: pruning: {}", done.error().message);
                }
              }
            }
          }
        });
  }
}

void EdgeRole::FlushTraffic() {
  const std::vector<deploys::TrafficMinute> minutes = traffic_.Take();
  if (minutes.empty()) return;
  if (auto added = services_.analytics.AddTraffic(minutes); !added.ok()) {
    spdlog::warn("analytics: {} site-minutes of traffic not stored: {}", minutes.size(),
                 added.error().message);
  }
}

void EdgeRole::FlushFunctionRecords() {
  if (function_logs_) function_logs_->Flush();
  const std::vector<deploys::FunctionCallMinute> minutes = function_calls_.Take();
  if (minutes.empty()) return;
  if (auto added = services_.function_stats.Add(minutes); !added.ok()) {
    spdlog::warn("function statistics: {} function-minutes not stored: {}", minutes.size(),
                 added.error().message);
  }
}

void EdgeRole::SetFunctionLogListener(std::function<void()> listener) {
  std::lock_guard lock(function_log_listener_mu_);
  function_log_listener_ = std::move(listener);
}

void EdgeRole::SetDomainListener(std::function<void()> listener) {
  std::lock_guard lock(domain_listener_mu_);
  domain_listener_ = std::move(listener);
}

void EdgeRole::DomainChanged() {
  edge_.InvalidateCustomHosts();
  std::lock_guard lock(domain_listener_mu_);
  if (domain_listener_) domain_listener_();
}

void EdgeRole::ApplyChange(const std::string& payload) {
  const std::optional<db::ChangeEvent> event = db::ParseChangeEvent(payload);
  if (!event) {
    // A newer process's kind of event, or a stranger's NOTIFY: refreshing everything is safe.
    spdlog::warn("change events: unknown payload {:.200}; dropping every cached site", payload);
    edge_.InvalidateAll();
    return;
  }
  switch (event->kind) {
    case db::ChangeKind::kCertificate:
      if (on_certificates_changed_) on_certificates_changed_();
      break;
    case db::ChangeKind::kDomain:
      DomainChanged();
      break;
    case db::ChangeKind::kPublish:
      // Another process published: what is scheduled may have changed, and what to warm.
      if (scheduler_) scheduler_->Wake();
      if (prewarmer_ && !event->site_id.empty()) prewarmer_->SitePublished(event->site_id);
      break;
    case db::ChangeKind::kLock:
    case db::ChangeKind::kSite:
      break;
  }
  if (!event->site_id.empty()) edge_.InvalidateSite(event->site_id);
}

EdgeRole::~EdgeRole() {
  if (prewarmer_) prewarmer_->Stop();
  if (scheduler_) scheduler_->Stop();
  if (background_) background_->Shutdown();  // kills every function call
  if (functions_) functions_->Shutdown();
  if (flusher_.joinable()) {
    flusher_.request_stop();
    flusher_.join();
    FlushTraffic();  // what the last requests added
  }
  FlushFunctionRecords();
}

http::Resolver EdgeRole::Resolver() {
  // The edge takes no large bodies except to proxies and functions.
  core::metrics::RequestMetrics* metrics = &core::metrics::RoleRequests("edge");
  return [this, metrics](const http::Request& head) -> http::Dispatch {
    const bool function_path = head.target.starts_with(edge::kFunctionsPrefix) ||
                               head.target.starts_with(edge::kApiFunctionsPrefix);
    return {.handler = [this](http::Request& r) { return edge_.Serve(r); },
            .body_limit = function_path && functions_ ? functions::kMaxBodyBytes + 1
                                                      : http::kDefaultBodyLimit,
            .pool = http::Pool::kEdge,
            .fast_handler = [this](http::Request& r) { return edge_.TryServeFromMemory(r); },
            .metrics = metrics};
  };
}

WorkerRole::WorkerRole(Services& services, const PlatformOptions& options, WorkerHooks hooks)
    : hooks_(std::move(hooks)) {
  if (options.build_runner == "docker") {
    runner_ = std::make_unique<sandbox::DockerRunner>(options.docker, services.clock);
  } else {
    sandbox::BubblewrapOptions bubblewrap = options.bubblewrap;
    // One network made ahead per worker: each idle worker keeps the next build's ready.
    bubblewrap.spare_networks = std::max(options.build_workers, 1);
    runner_ = std::make_unique<sandbox::BubblewrapRunner>(std::move(bubblewrap), services.clock);
  }
  const std::string esbuild = builder::FindEsbuild(options.esbuild);
  if (options.build_workers > 0 && esbuild.empty()) {
    spdlog::warn(
        "esbuild not found (scripts/install-deps.sh installs it; or --esbuild PATH): builds "
        "with JavaScript functions will fail");
  }
  const std::string prefix =
      "worker-" + std::to_string(::getpid()) + "-" + core::NewHexId().substr(0, 6) + "-";
  for (int i = 0; i < options.build_workers; ++i) {
    builder::WorkerOptions o;
    o.worker_id = prefix + std::to_string(i);
    o.builds_dir = options.builds_dir;
    o.cache_dir = options.cache_dir;
    o.volumes_dir =
        options.volumes_dir.empty()
            ? ""
            : options.volumes_dir + "/" + std::to_string(::getpid()) + "-" + std::to_string(i);
    o.disk = options.build_disk;
    o.repos_dir = options.repos_dir;
    o.limits = options.build_limits;
    o.esbuild = esbuild;
    o.heartbeat_every = options.heartbeat_every;
    o.sites = &services.sites;
    o.allow_private_git = options.allow_private_git;
    o.trusted_git_prefix = services.builds.GithubRepoPrefix();
    o.env_for_build = [&services](const std::string& site_id, const std::string& context) {
      return services.env_vars.ForBuild(site_id, context);
    };
    o.git_token = [&services](const std::string& site_id) {
      return services.builds.GitToken(site_id);
    };
    o.on_phase = [this, &services](const builder::BuildJob& job, builder::BuildPhase phase,
                                   const std::string& detail) {
      RecordBuildPhase(services, job, phase);
      auto site = services.sites.GetById(job.site_id);
      if (!site.ok() || !hooks_.site_url || !hooks_.public_url) return;
      builder::ReportBuildToGithub(
          services.github, *site, job, phase, detail,
          hooks_.site_url(job.deploy_id + "--" + site->name),
          hooks_.public_url("/sites/" + site->name + "/deploys/" + job.deploy_id + "/"));
    };
    o.on_log = hooks_.on_log;
    workers_.push_back(std::make_unique<builder::BuildWorker>(services.build_logs, services.queue,
                                                              services.deploys, services.blobs,
                                                              *runner_, std::move(o)));
    workers_.back()->Start();
  }
}

WorkerRole::~WorkerRole() {
  for (auto& worker : workers_) worker->Stop();
}

void WorkerRole::RecordBuildPhase(Services& services, const builder::BuildJob& job,
                                  builder::BuildPhase phase) {
  const auto now = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point started;
  {
    std::lock_guard lock(started_mu_);
    if (phase == builder::BuildPhase::kStarted) {
      started_[job.id] = now;
      return;
    }
    auto it = started_.find(job.id);
    if (it == started_.end()) return;
    started = it->second;
    started_.erase(it);
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - started).count();
  const char* outcome = phase == builder::BuildPhase::kSucceeded ? "succeeded" : "failed";
  if (auto recorded = services.analytics.RecordBuild(job.site_id, job.deploy_id, outcome, ms);
      !recorded.ok()) {
    spdlog::warn("analytics: build of {} not recorded: {}", job.deploy_id,
                 recorded.error().message);
  }
}

void WorkerRole::Wake() {
  for (auto& worker : workers_) worker->Wake();
}

ApiRole::ApiRole(Services& services, const PlatformOptions& options)
    : app_(services.ForApi(), ApiOptionsOf(options)) {
  if (options.git_poll_interval.count() > 0 && !options.repos_dir.empty()) {
    poller_ = std::jthread(
        [&services, interval = options.git_poll_interval](const std::stop_token& stop) {
          while (core::SleepUnlessStopped(stop, interval)) services.builds.PollGitSources();
        });
  }
  // Rechecks pending custom domains' DNS as their back-off comes due (the certs role's job in
  // DESIGN.md; it runs here until that role exists). Several processes may run it: each check
  // is claimed in the database.
  if (options.domain_check_interval.count() > 0) {
    domain_checker_ = std::jthread(
        [&services, interval = options.domain_check_interval](const std::stop_token& stop) {
          while (core::SleepUnlessStopped(stop, interval)) {
            auto checked = services.domains.CheckDue(20);
            if (!checked.ok()) spdlog::warn("domains: {}", checked.error().message);
          }
        });
  }
}

ApiRole::~ApiRole() { StopPoller(); }

http::Resolver ApiRole::Resolver() {
  core::metrics::RequestMetrics* metrics = &core::metrics::RoleRequests("api");
  return [inner = app_.Resolver(), metrics](const http::Request& head) {
    http::Dispatch dispatch = inner(head);
    dispatch.metrics = metrics;
    return dispatch;
  };
}

void ApiRole::StopPoller() {
  for (std::jthread* loop : {&poller_, &domain_checker_}) {
    if (loop->joinable()) {
      loop->request_stop();
      loop->join();
    }
  }
}

ProcessorRole::ProcessorRole(Services& services, const PlatformOptions& options)
    : processor_(services.deploys, options.processor_interval) {
  services.deploys.SetProcessingHook([this] { processor_.Wake(); });
  processor_.Start();
}

ProcessorRole::~ProcessorRole() { processor_.Stop(); }

Platform::Platform(db::Database& db, store::BlobStore& blobs, const core::Clock& clock,
                   PlatformOptions options)
    : options_(std::move(options)),
      services_(db, blobs, clock, options_),
      edge_(services_, options_),
      processor_(services_, options_),
      api_(services_, options_) {
  if (!options_.repos_dir.empty() && !options_.builds_dir.empty() && options_.build_workers > 0) {
    WorkerHooks hooks;
    hooks.site_url = [this](std::string_view label) { return api_.app().SiteUrl(label); };
    hooks.public_url = [this](std::string_view path) { return api_.app().PublicUrl(path); };
    hooks.on_log = [this](const std::string& id) { api_.app().log_streams().Notify(id); };
    workers_ = std::make_unique<WorkerRole>(services_, options_, std::move(hooks));
    services_.builds.SetQueuedHook([this] { workers_->Wake(); });
  }
  edge_.SetFunctionLogListener([this] { api_.app().function_log_streams().Notify(); });
  if (!options_.certificates.acme_directory.empty()) {
    auto certs = CertsRole::Start(services_, options_);
    // The command line was checked before (cli/serve.cpp); this is start-up.
    if (!certs.ok()) throw std::runtime_error(certs.error().message);
    certs_ = std::move(certs).value();
    // A domain whose DNS now points here is issued for at once, not at the loop's next pass.
    edge_.SetDomainListener([this] { certs_->Wake(); });
  }
}

Platform::~Platform() {
  edge_.SetFunctionLogListener(nullptr);  // the API goes before the edge
  edge_.SetDomainListener(nullptr);       // before the certs role goes
  certs_.reset();
  api_.StopPoller();
  services_.builds.SetQueuedHook(nullptr);
  workers_.reset();
}

http::Resolver Platform::Resolver() {
  http::Resolver api = api_.Resolver();
  http::Resolver edge = edge_.Resolver();
  return [this, api = std::move(api), edge = std::move(edge)](const http::Request& head) {
    // A per-thread string: no allocation per request for a host name of any length.
    thread_local std::string host;
    head.HostNameTo(host);
    return api_.app().IsControlHost(host) ? api(head) : edge(head);
  };
}

}  // namespace replideploy::roles
