#include "deploys/processor.hpp"

#include <spdlog/spdlog.h>

#include "core/memory.hpp"

namespace replideploy::deploys {

DeployProcessor::DeployProcessor(DeployService& deploys, std::chrono::milliseconds interval,
                                 std::chrono::seconds gc_interval)
    : deploys_(deploys), interval_(interval), gc_interval_(gc_interval) {}

DeployProcessor::~DeployProcessor() { Stop(); }

void DeployProcessor::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stopping_) return;
  woken_ = true;           // resume whatever a previous run left in processing
  variants_woken_ = true;  // and in variants_pending
  thread_ = std::thread([this] { Run(); });
  variants_thread_ = std::thread([this] { RunVariants(); });
}

void DeployProcessor::Wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_one();
}

void DeployProcessor::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  variants_cv_.notify_one();
  if (thread_.joinable()) thread_.join();
  if (variants_thread_.joinable()) variants_thread_.join();
}

void DeployProcessor::Run() {
  auto last_gc = std::chrono::steady_clock::now();
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, interval_, [this] { return woken_ || stopping_; });
      if (stopping_) return;
      woken_ = false;
    }
    if (std::chrono::steady_clock::now() - last_gc >= gc_interval_) {
      last_gc = std::chrono::steady_clock::now();
      auto gc = deploys_.CollectGarbage(std::chrono::hours(1));
      if (!gc.ok()) spdlog::error("garbage collection: {}", gc.error().message);
    }
    auto expired = deploys_.ExpireStale();
    if (!expired.ok()) spdlog::error("expiring stale deploys: {}", expired.error().message);
    // Keep going while there is work, so a burst of deploys does not wait for the interval.
    bool processed = false;
    for (;;) {
      auto done = deploys_.ProcessPending();
      if (!done.ok()) {
        spdlog::error("processing deploys: {}", done.error().message);
        break;
      }
      if (*done == 0) break;
      processed = true;
      {
        std::lock_guard lock(mu_);
        if (stopping_) return;
        variants_woken_ = true;  // the new deploys' variants
      }
      variants_cv_.notify_one();
    }
    // Processing reads every file row of the deploys (transient, megabytes for big ones).
    if (processed) core::ReleaseFreeMemory();
  }
}

void DeployProcessor::RunVariants() {
  for (;;) {
    {
      std::unique_lock lock(mu_);
      variants_cv_.wait_for(lock, interval_, [this] { return variants_woken_ || stopping_; });
      if (stopping_) return;
      variants_woken_ = false;
    }
    // One deploy at a time, oldest first, until none is left; stopped between chunks (the rest
    // is resumed at the next start).
    bool compressed = false;
    for (;;) {
      auto done = deploys_.PrecompressPending([this] {
        std::lock_guard lock(mu_);
        return !stopping_;
      });
      if (!done.ok()) {
        spdlog::error("precompressing deploys: {}", done.error().message);
        break;
      }
      if (*done == 0) break;
      compressed = true;
    }
    if (compressed) core::ReleaseFreeMemory();  // the compressors' buffers
  }
}

}  // namespace replideploy::deploys
