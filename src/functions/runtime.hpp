// The functions runtime: runs a deploy's functions in sandboxed Node.js processes, a small pool
// per (deploy, function).
//
// A function belongs to its deploy: the pool is keyed by deploy id and function name, so a
// rollback (the edge resolving another deploy) switches every function at once, and processes of
// the old deploy are reaped when idle. Each zip is unpacked once per content hash under
// <root>/bundles/<sha256> and bound read-only into its processes; nothing else of the host's data
// is visible to them (see process.hpp for the sandbox and the Runtime API transport).
//
// Per function: at most max_processes run at once; further calls wait in a queue of at most
// max_queue (then 429); a process is reused while warm and stopped after idle_timeout. Per site,
// over all its functions and deploys: at most max_per_site calls at once, further calls wait in a
// queue of at most max_queue (then 429 with a JSON error body), so one site's burst does not take
// every process from the others. A call
// gets `timeout` (504 and the process killed past it); a thrown error or a crash is 502 with
// the details in the server log and the function log (on_log); bodies are limited to
// kMaxBodyBytes (413 / 502).
//
// Thread-safe. Invoke() blocks for the whole call: run it off the I/O threads.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "functions/invocation.hpp"
#include "functions/process.hpp"
#include "sandbox/runner.hpp"
#include "store/blob_store.hpp"

namespace replideploy::functions {

// What a new process of a function gets in its environment: the site's variables and
// Netlify's context variables (CONTEXT, URL, DEPLOY_URL, ...); `secrets` are values masked as
// "****" in the function's output.
struct FunctionEnvironment {
  std::vector<std::pair<std::string, std::string>> vars;
  std::vector<std::string> secrets;
};

struct RuntimeOptions {
  // Holds bundles/, run/ and runtime/bootstrap.mjs; made if missing. Must be reachable (o+x on
  // every folder above it) by the sandbox user: the constructor adds the search bit as root.
  std::string root_dir;
  std::chrono::milliseconds timeout{10'000};
  int max_processes = 4;  // per (deploy, function)
  int max_queue = 32;     // calls waiting per (deploy, function), and per site
  // Calls at once per site, over all its functions and deploys (background calls included).
  int max_per_site = 16;
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(5)};
  std::string node = "node";
  // true: each process reaches the public internet (and nothing of the host or private
  // networks) through a SandboxNetwork, as the runner's egress policy says; false: its own
  // network namespace with loopback only. The Runtime API stays on the unix socket either way.
  bool network = true;
  // Called (off the I/O threads, outside the runtime's locks) when a process of `request`'s
  // deploy starts; an error fails the call with 502. Unset: no variables.
  std::function<Result<FunctionEnvironment>(const FunctionRequest& request)> environment;
  // The function log (optional): every line its processes print (secrets masked), and the
  // platform's line for each call that failed (502, 504, 429, with the request id). Called on
  // the runtime's threads: it must not block (deploys::FunctionLogQueue::Push).
  LogSink on_log;
  // Called after each call with the status the client got and the call's duration (until the
  // answer's head for a streamed one). Optional; must not block.
  std::function<void(const FunctionRequest& request, int status, std::chrono::milliseconds took)>
      on_call;
  // Per process; wall_time is the longest a process lives, warm or not.
  sandbox::SandboxLimits limits = DefaultLimits();

  static sandbox::SandboxLimits DefaultLimits();
};

// The runner's options for function processes, from the builds' (`builds`: its egress
// policy's allow and deny lists are the operator's): egress on (public) or off per `network`
// (RuntimeOptions::network, --functions-network), one network kept made ahead by the runner's
// own thread so that a cold start does not wait for one.
sandbox::BubblewrapOptions SandboxOptions(sandbox::BubblewrapOptions builds, bool network);

class FunctionRuntime : public Invoker {
 public:
  // `blobs` and `runner` must outlive the runtime. Starts the idle reaper.
  FunctionRuntime(store::BlobStore& blobs, sandbox::SandboxRunner& runner, RuntimeOptions options);
  // Kills every process.
  ~FunctionRuntime() override;
  FunctionRuntime(const FunctionRuntime&) = delete;
  FunctionRuntime& operator=(const FunctionRuntime&) = delete;

  // Runs the call to its end and answers with what the client gets (status 429, 413, 502, 504 for
  // the platform's own failures, with a short text body). Counted in
  // replideploy_function_invocation_duration_seconds{code} (until the answer's head for a
  // streamed one).
  FunctionResponse Invoke(const FunctionRequest& request) override;

  // Pre-warming: starts one process of `request`'s function (its deploy, bundle and site; no
  // call is made) and keeps it idle for the next call, unless the function has a process
  // already. Blocks while the process starts (not until Node.js has loaded the function). An
  // error when its bundle cannot be unpacked or the process cannot be started.
  Status Warm(const FunctionRequest& request);

  // A platform line about `request` for the function log (with options_.on_log), filed under
  // its request id.
  void LogCall(const FunctionRequest& request, std::string_view text) override;

  // Stops idle processes older than idle_timeout (the reaper calls it every second).
  void ReapIdle();
  // Kills every process, busy ones too (their calls answer 502), and refuses new calls (503).
  // For server shutdown; the destructor calls it.
  void Shutdown() override;

  std::size_t ProcessCountForTest();  // running processes, idle or busy
  std::size_t BusyCountForTest();
  std::size_t WaitingCountForTest();      // calls queued for a free process
  std::size_t SiteWaitingCountForTest();  // calls queued for a slot of their site

 private:
  FunctionResponse InvokeUncounted(const FunctionRequest& request);
  // What the client gets when no process could be had (Acquire's or EnterSite's error).
  FunctionResponse Refused(const FunctionRequest& request, const Error& error,
                           std::chrono::milliseconds timeout);
  // A slot of the site's max_per_site, held while the call runs (its body included).
  class SiteSlot;
  // Takes a slot of `site_id`, waiting until `deadline` when all are taken: kRateLimited
  // ("site_limit") past the site's queue, kUnavailable ("queue_timeout") at the deadline or
  // once closing.
  Result<std::shared_ptr<SiteSlot>> EnterSite(const std::string& site_id,
                                              std::chrono::steady_clock::time_point deadline);
  void LeaveSite(const std::string& site_id);
  struct Pool;
  std::shared_ptr<Pool> PoolFor(const FunctionRequest& request);
  Result<std::string> BundleDir(const std::string& sha256);
  // A new process of the function (not yet counted anywhere), with `request`'s environment.
  Result<std::unique_ptr<FunctionProcess>> StartProcess(const std::string& function_name,
                                                        const std::string& bundle_dir,
                                                        const FunctionRequest& request);
  // An idle process of `pool`, or a new one; kRateLimited past the queue, kUnavailable when
  // the deadline passes while queued.
  Result<std::unique_ptr<FunctionProcess>> Acquire(Pool& pool, const FunctionRequest& request,
                                                   std::chrono::steady_clock::time_point deadline);
  void Release(Pool& pool, std::unique_ptr<FunctionProcess> process);

  store::BlobStore& blobs_;
  sandbox::SandboxRunner& runner_;
  RuntimeOptions options_;
  std::string runtime_dir_;

  bool Closing();

  std::mutex closing_mu_;  // taken inside pool locks, never around them
  bool closing_ = false;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Pool>> pools_;  // "<deploy>/<function>"
  std::mutex bundles_mu_;
  struct SiteLoad {
    int running = 0;
    int waiting = 0;
  };
  std::mutex sites_mu_;  // never held with mu_ or a pool's lock
  std::condition_variable sites_cv_;
  std::map<std::string, SiteLoad> sites_;  // sites with calls running or waiting

  std::jthread reaper_;
};

// "10 s", "1500 ms": a duration for log lines.
std::string SecondsText(std::chrono::milliseconds d);

// Our bootstrap (src/functions/adapter.mjs + bootstrap.mjs, compiled in).
std::string_view BootstrapScript();
// The handler module added to zips uploaded to AWS Lambda (adapter.mjs + lambda_handler.mjs).
std::string_view LambdaHandlerScript();

}  // namespace replideploy::functions
