// Pre-warming on publish (docs/functions.md, "Pre-warming"): when a site's live deploy changes
// (a publish or a rollback, in this process or another one), one process of each of its
// synchronous functions is started in the background, so the first call does not pay the cold
// start. Background functions (a name ending in "-background") are never warmed; neither is
// anything the lookup leaves out (scheduled functions, Go).
//
// Bounded: at most max_per_deploy functions per publish (the first by name), at most
// max_pending sites waiting (a site published again while it waits is queued once; past the
// bound a publish is not warmed). SitePublished never blocks the publish: the lookup and the
// starts run on the prewarmer's own thread, one site at a time. Thread-safe.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/result.hpp"
#include "functions/invocation.hpp"

namespace replideploy::functions {

class FunctionRuntime;

struct PrewarmOptions {
  int max_per_deploy = 8;
  std::size_t max_pending = 256;  // sites waiting to be warmed
};

class Prewarmer {
 public:
  // The HTTP-routed functions of the site's live deploy, as requests naming the deploy, the
  // function, its bundle and the site (no HTTP request): the runtime starts a process for them
  // (FunctionRuntime::Warm). Empty when nothing is live. Called on the prewarmer's thread.
  using Lookup = std::function<Result<std::vector<FunctionRequest>>(const std::string& site_id)>;

  // `runtime` must outlive the prewarmer. Starts its thread.
  Prewarmer(FunctionRuntime& runtime, Lookup lookup, PrewarmOptions options = {});
  // Stop().
  ~Prewarmer();
  Prewarmer(const Prewarmer&) = delete;
  Prewarmer& operator=(const Prewarmer&) = delete;

  // Queues the site for warming and returns at once.
  void SitePublished(const std::string& site_id);
  // Drops what waits and joins the thread (after the start in progress, if any).
  void Stop();

  // Sites looked up and warmed so far (their processes started or failed).
  std::size_t DoneCountForTest();

 private:
  void Loop(const std::stop_token& stop);
  void WarmSite(const std::string& site_id);

  FunctionRuntime& runtime_;
  Lookup lookup_;
  PrewarmOptions options_;
  std::mutex mu_;
  std::condition_variable_any cv_;
  std::deque<std::string> pending_;
  std::size_t done_ = 0;
  std::jthread thread_;
};

}  // namespace replideploy::functions
