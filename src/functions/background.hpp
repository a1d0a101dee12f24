// Calls that nobody waits for: background functions (a name ending in `-background`, as on
// Netlify: the client gets 202 at once and the function runs on, up to 15 minutes) and the runs of
// scheduled functions (30 s). Each call runs on a thread of its own here, through the same
// Invoker as synchronous calls (FunctionRuntime: the same pools, sandbox and processes; or
// LambdaRunner: an Event invocation that Lambda answers with 202 at once), so no thread of the
// server's request pools waits for it. What a call returns is discarded; errors and timeouts
// are in the server log (the runtime logs them).
//
// Retries, as Netlify's: a background function's call that fails (the runtime's 5xx: a thrown
// error, a crash, a non-zero exit, a timeout; or a 5xx the function returns) runs again after
// retry_delays[0] (1 minute), and once more after retry_delays[1] (2 minutes) if it fails again;
// each retry is a platform line in the function log ("retry 1 of 2 in 60 s: ..."). A call holds its
// place under the caps below while it waits for a retry. Scheduled runs are not retried.
//
// Bounded: at most max_running calls at once in all, max_per_site per site and max_per_function
// per (deploy, function); past a cap Submit refuses (429 for the client). Shutdown kills the
// running calls and drops the retries still waiting. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/result.hpp"
#include "functions/invocation.hpp"

namespace replideploy::functions {

// Netlify's rule: a function whose name ends in "-background" is a background function.
bool IsBackgroundFunction(std::string_view name);

struct BackgroundOptions {
  // A background function's limit (Netlify's 15 minutes).
  std::chrono::milliseconds timeout{std::chrono::minutes(15)};
  int max_running = 32;
  int max_per_site = 8;
  int max_per_function = 2;  // per (deploy, function); the pool has max_processes (4)
  // Delays before the retries of a failed call; as many retries as delays (none when empty).
  std::vector<std::chrono::milliseconds> retry_delays{std::chrono::minutes(1),
                                                      std::chrono::minutes(2)};
};

class BackgroundRunner {
 public:
  // Called when a call ended (after its last retry), with what the function answered (or the
  // runtime's 429/502/504).
  using DoneHook = std::function<void(const FunctionRequest&, const FunctionResponse&)>;

  // `runtime` must outlive the runner.
  BackgroundRunner(Invoker& runtime, BackgroundOptions options);
  // Shutdown().
  ~BackgroundRunner();
  BackgroundRunner(const BackgroundRunner&) = delete;
  BackgroundRunner& operator=(const BackgroundRunner&) = delete;

  // Starts `request` and returns at once. The call's timeout is request.timeout, else the
  // options' (15 minutes). kRateLimited past a cap, kUnavailable once shutting down.
  Status Submit(FunctionRequest request);
  // Set before the first Submit.
  void SetDoneHook(DoneHook hook) { done_hook_ = std::move(hook); }
  // Refuses new calls, kills the running ones (FunctionRuntime::Shutdown: every process of the
  // runtime) and waits for their threads.
  void Shutdown();

  std::size_t RunningCount();

 private:
  void Run(std::uint64_t id, FunctionRequest request);
  // One attempt of the call, its streamed body read to its end.
  FunctionResponse Attempt(const FunctionRequest& request);
  // Waits `delay` before a retry; false when shutting down.
  bool WaitToRetry(std::chrono::milliseconds delay);
  void JoinFinished();

  Invoker& runtime_;
  BackgroundOptions options_;
  DoneHook done_hook_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool closing_ = false;
  std::uint64_t next_id_ = 0;
  std::map<std::uint64_t, std::thread> threads_;
  std::vector<std::uint64_t> finished_;  // threads done, not joined yet
  std::map<std::string, int> per_site_, per_function_;
  int running_ = 0;
};

}  // namespace replideploy::functions
