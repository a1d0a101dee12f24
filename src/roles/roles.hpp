// The roles of DESIGN.md ("Processes and roles"), each a few lines of wiring over the shared
// Services: what `replideploy api`, `edge`, `worker` and `serve` run. A role starts its threads
// when built and stops them when destroyed. See docs/operations.md.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "api/app.hpp"
#include "builder/worker.hpp"
#include "db/database.hpp"
#include "deploys/function_logs.hpp"
#include "deploys/function_schedules.hpp"
#include "deploys/function_stats.hpp"
#include "deploys/processor.hpp"
#include "edge/edge.hpp"
#include "functions/background.hpp"
#include "functions/lambda_runner.hpp"
#include "functions/prewarm.hpp"
#include "functions/runtime.hpp"
#include "http/server.hpp"
#include "roles/certs_role.hpp"
#include "roles/options.hpp"
#include "roles/services.hpp"
#include "sandbox/runner.hpp"

namespace replideploy::roles {

// Serves published sites by Host. Sees this process's changes at once (the services'
// listeners), and other processes' at once too with PostgreSQL: a thread of its own listens for
// their change events (db/change_events.hpp) and, after a lost connection, reconnects and drops
// everything cached (events may have been missed). With SQLite there are no other processes
// but within EdgeOptions::site_cache_ttl.
// With options.functions_dir, it also runs the deploys' functions (functions/runtime.hpp) in
// sandboxed processes of its own.
class EdgeRole {
 public:
  EdgeRole(Services& services, const PlatformOptions& options);
  ~EdgeRole();
  EdgeRole(const EdgeRole&) = delete;
  EdgeRole& operator=(const EdgeRole&) = delete;
  http::Resolver Resolver();
  edge::Edge& edge() { return edge_; }
  // New function log lines were stored (live viewers in this process look at once); null to
  // stop. Thread-safe.
  void SetFunctionLogListener(std::function<void()> listener);
  // A custom domain changed state here or in another process (the certs loop looks at once
  // rather than at its next pass); null to stop. Thread-safe.
  void SetDomainListener(std::function<void()> listener);
  // Stores the function log lines queued so far and adds the function calls counted so far to
  // the database (the flusher does it every analytics flush interval).
  void FlushFunctionRecords();

 private:
  // One change event from another process (or this one) applied to the caches.
  void ApplyChange(const std::string& payload);
  // A custom domain changed (here or, through a change event, elsewhere).
  void DomainChanged();
  // Adds what the edge counted to the database (site analytics); failures are logged and the
  // counts of that flush lost (they are statistics).
  void FlushTraffic();

  Services& services_;
  deploys::TrafficCounters traffic_;  // before edge_, which counts into it
  edge::Edge edge_;
  std::string base_domain_;
  std::function<void()> on_certificates_changed_;  // the HTTPS listener reloads; may be empty
  std::unique_ptr<sandbox::SandboxRunner> functions_runner_;
  // Function logs and call counts (docs/functions.md, "Logs and statistics"); before
  // functions_, which writes into them.
  deploys::FunctionCounters function_calls_;
  std::unique_ptr<deploys::FunctionLogQueue> function_logs_;
  std::mutex function_log_listener_mu_;
  std::function<void()> function_log_listener_;
  std::mutex domain_listener_mu_;
  std::function<void()> domain_listener_;
  // The function runner: the local FunctionRuntime, or LambdaRunner (--functions-runner lambda).
  std::unique_ptr<functions::Invoker> functions_;
  // Background calls and scheduled runs (with functions_ only); stopped before functions_.
  std::unique_ptr<functions::BackgroundRunner> background_;
  // Starts a process per function of a newly published deploy (with the local runtime only).
  std::unique_ptr<functions::Prewarmer> prewarmer_;
  std::unique_ptr<deploys::FunctionScheduler> scheduler_;
  std::unique_ptr<db::Subscription> changes_;  // stopped before the rest goes
  std::jthread flusher_;                       // last: stopped (and a last flush made) first
};

// What a worker tells the rest of its process, when there is one (all optional).
struct WorkerHooks {
  // Where builds' GitHub statuses link to: a deploy's URL by label, the dashboard by path.
  std::function<std::string(std::string_view)> site_url;
  std::function<std::string(std::string_view)> public_url;
  // New log lines of a deploy were stored (live log viewers in this process).
  std::function<void(const std::string&)> on_log;
};

// Claims queued builds and runs them in the sandbox (options.build_workers at once).
class WorkerRole {
 public:
  WorkerRole(Services& services, const PlatformOptions& options, WorkerHooks hooks = {});
  ~WorkerRole();
  WorkerRole(const WorkerRole&) = delete;
  WorkerRole& operator=(const WorkerRole&) = delete;
  // A build was queued in this process: look now rather than at the next poll.
  void Wake();

 private:
  // Site analytics: a build's start, and at its end its outcome and duration.
  void RecordBuildPhase(Services& services, const builder::BuildJob& job,
                        builder::BuildPhase phase);

  WorkerHooks hooks_;
  // Builds running in this process: when each started (site analytics' build durations).
  std::mutex started_mu_;
  std::map<std::string, std::chrono::steady_clock::time_point> started_;
  std::unique_ptr<sandbox::SandboxRunner> runner_;
  std::vector<std::unique_ptr<builder::BuildWorker>> workers_;
};

// The REST API, log streams, the dashboard, webhook intake, the git remote; and the git poller.
class ApiRole {
 public:
  ApiRole(Services& services, const PlatformOptions& options);
  ~ApiRole();
  ApiRole(const ApiRole&) = delete;
  ApiRole& operator=(const ApiRole&) = delete;
  api::App& app() { return app_; }
  // The app's resolver, its requests counted as role "api" (core/metrics.hpp).
  http::Resolver Resolver();
  // Stops the git poller (before the workers it would wake go away) and the domain checker.
  void StopPoller();

 private:
  api::App app_;
  std::jthread poller_;
  std::jthread domain_checker_;  // pending custom domains' DNS rechecks
};

// Finishes uploaded and built deploys (hashing, precompression) and collects garbage: run by
// every role that makes deploys.
class ProcessorRole {
 public:
  ProcessorRole(Services& services, const PlatformOptions& options);
  ~ProcessorRole();
  ProcessorRole(const ProcessorRole&) = delete;
  ProcessorRole& operator=(const ProcessorRole&) = delete;

 private:
  deploys::DeployProcessor processor_;
};

// Every role in one process (`replideploy serve`): the API for the control plane's hosts, the
// edge for every other host, and build workers when build_workers > 0 and the directories are
// set.
class Platform {
 public:
  Platform(db::Database& db, store::BlobStore& blobs, const core::Clock& clock,
           PlatformOptions options);
  ~Platform();

  // The control plane's hosts go to the API, every other host to the edge.
  http::Resolver Resolver();
  // The port the server is reachable on, for the URLs in API responses. Set after Listen().
  void SetPublicPort(std::uint16_t port) { api_.app().SetPublicPort(port); }

  Services& services() { return services_; }
  api::App& app() { return api_.app(); }
  edge::Edge& edge() { return edge_.edge(); }
  git::GithubConnections& github() { return services_.github; }
  builder::BuildTrigger& builds() { return services_.builds; }
  // Null without options.certificates.acme_directory.
  CertsRole* certs() { return certs_.get(); }

 private:
  PlatformOptions options_;
  Services services_;
  EdgeRole edge_;  // before the processor, whose publishes it hears
  ProcessorRole processor_;
  ApiRole api_;
  std::unique_ptr<WorkerRole> workers_;
  std::unique_ptr<CertsRole> certs_;  // with options.certificates.acme_directory
};

}  // namespace replideploy::roles
