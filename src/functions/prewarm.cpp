#include "functions/prewarm.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "functions/background.hpp"
#include "functions/runtime.hpp"

namespace replideploy::functions {

Prewarmer::Prewarmer(FunctionRuntime& runtime, Lookup lookup, PrewarmOptions options)
    : runtime_(runtime), lookup_(std::move(lookup)), options_(options) {
  thread_ = std::jthread([this](const std::stop_token& stop) { Loop(stop); });
}

Prewarmer::~Prewarmer() { Stop(); }

void Prewarmer::Stop() {
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  pending_.clear();
}

void Prewarmer::SitePublished(const std::string& site_id) {
  std::lock_guard lock(mu_);
  if (std::find(pending_.begin(), pending_.end(), site_id) != pending_.end()) return;
  if (pending_.size() >= options_.max_pending) {
    spdlog::warn("functions: site {} published while {} sites wait for pre-warming; not warmed",
                 site_id, pending_.size());
    return;
  }
  pending_.push_back(site_id);
  cv_.notify_one();
}

std::size_t Prewarmer::DoneCountForTest() {
  std::lock_guard lock(mu_);
  return done_;
}

void Prewarmer::Loop(const std::stop_token& stop) {
  for (;;) {
    std::string site_id;
    {
      std::unique_lock lock(mu_);
      if (!cv_.wait(lock, stop, [this] { return !pending_.empty(); })) return;
      site_id = std::move(pending_.front());
      pending_.pop_front();
    }
    WarmSite(site_id);
    std::lock_guard lock(mu_);
    ++done_;
  }
}

void Prewarmer::WarmSite(const std::string& site_id) {
  auto functions = lookup_(site_id);
  if (!functions.ok()) {
    spdlog::warn("functions: pre-warming site {}: {}", site_id, functions.error().message);
    return;
  }
  std::erase_if(*functions,
                [](const FunctionRequest& f) { return IsBackgroundFunction(f.function_name); });
  std::sort(functions->begin(), functions->end(),
            [](const FunctionRequest& a, const FunctionRequest& b) {
              return a.function_name < b.function_name;
            });
  if (functions->size() > static_cast<std::size_t>(std::max(options_.max_per_deploy, 0))) {
    functions->resize(static_cast<std::size_t>(std::max(options_.max_per_deploy, 0)));
  }
  for (const FunctionRequest& f : *functions) {
    if (thread_.get_stop_token().stop_requested()) return;
    if (auto warmed = runtime_.Warm(f); !warmed.ok()) {
      spdlog::warn("functions: pre-warming function {} of deploy {}: {}", f.function_name,
                   f.deploy_id, warmed.error().message);
    }
  }
}

}  // namespace replideploy::functions
