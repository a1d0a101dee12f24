#include "deploys/processor.hpp"

#include <spdlog/spdlog.h>

#include <utility>

namespace replideploy::deploys {

DeployProcessor::DeployProcessor(DeployService& deploys, std::chrono::milliseconds interval,
                                 std::chrono::seconds gc_interval)
    : deploys_(deploys), interval_(interval), gc_interval_(gc_interval) {}

DeployProcessor::~DeployProcessor() { Stop(); }

void DeployProcessor::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stopping_) return;
  woken_ = true;  // resume whatever a previous run left in processing
  thread_ = std::thread([this] { Run(); });
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
  if (thread_.joinable()) thread_.join();
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
    auto process = [this] {
      for (;;) {
        auto done = deploys_.ProcessPending();
        if (!done.ok()) {
          spdlog::error("processing deploys: {}", done.error().message);
          return;
        }
        if (*done == 0) return;
        std::lock_guard lock(mu_);
        if (stopping_) return;
      }
    };
    process();
    // Then the compressed variants of deploys already live, one deploy at a time, going back
    // to deploys that became complete meanwhile between chunks.
    for (;;) {
      {
        std::lock_guard lock(mu_);
        if (stopping_) return;
      }
      auto done = deploys_.PrecompressPending([&] {
        bool woken = false;
        {
          std::lock_guard lock(mu_);
          if (stopping_) return false;  // the rest is resumed at the next start
          woken = std::exchange(woken_, false);
        }
        if (woken) process();
        return true;
      });
      if (!done.ok()) {
        spdlog::error("precompressing deploys: {}", done.error().message);
        break;
      }
      if (*done == 0) break;
    }
  }
}

}  // namespace replideploy::deploys
