// The background worker that moves deploys from `processing` to `ready` (blobs made durable,
// rule validation, publishing), expires deploys whose uploads never finished, and collects
// unreferenced blobs every `gc_interval` (those older than an hour). Wake() makes it look at
// once, otherwise it looks every `interval`. A second thread makes the brotli/gzip variants of
// deploys already live (DeployService::PrecompressPending), so a long compression never
// delays the next deploy. Stop() (also in the destructor) waits for both to end their current
// step (a compression stops between chunks).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "deploys/deploys.hpp"

namespace replideploy::deploys {

class DeployProcessor {
 public:
  explicit DeployProcessor(DeployService& deploys,
                           std::chrono::milliseconds interval = std::chrono::seconds(5),
                           std::chrono::seconds gc_interval = std::chrono::hours(1));
  ~DeployProcessor();
  DeployProcessor(const DeployProcessor&) = delete;
  DeployProcessor& operator=(const DeployProcessor&) = delete;

  void Start();
  void Wake();
  void Stop();

 private:
  void Run();
  void RunVariants();

  DeployService& deploys_;
  const std::chrono::milliseconds interval_;
  const std::chrono::seconds gc_interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool woken_ = false;
  bool stopping_ = false;
  bool variants_woken_ = false;
  std::condition_variable variants_cv_;
  std::thread thread_;
  std::thread variants_thread_;
};

}  // namespace replideploy::deploys
