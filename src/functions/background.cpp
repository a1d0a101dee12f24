#include "functions/background.hpp"

#include <spdlog/spdlog.h>

#include "functions/runtime.hpp"

namespace replideploy::functions {

bool IsBackgroundFunction(std::string_view name) { return name.ends_with("-background"); }

BackgroundRunner::BackgroundRunner(Invoker& runtime, BackgroundOptions options)
    : runtime_(runtime), options_(options) {}

BackgroundRunner::~BackgroundRunner() { Shutdown(); }

std::size_t BackgroundRunner::RunningCount() {
  std::lock_guard lock(mu_);
  return static_cast<std::size_t>(running_);
}

void BackgroundRunner::JoinFinished() {
  std::vector<std::thread> done;
  {
    std::lock_guard lock(mu_);
    for (std::uint64_t id : finished_) {
      auto it = threads_.find(id);
      if (it == threads_.end()) continue;
      done.push_back(std::move(it->second));
      threads_.erase(it);
    }
    finished_.clear();
  }
  for (auto& t : done) t.join();  // each has returned or is about to
}

Status BackgroundRunner::Submit(FunctionRequest request) {
  JoinFinished();
  if (request.timeout.count() <= 0) request.timeout = options_.timeout;
  const std::string function_key = request.deploy_id + "/" + request.function_name;
  std::lock_guard lock(mu_);
  if (closing_) return MakeError(ErrorCode::kUnavailable, "the server is shutting down");
  if (running_ >= options_.max_running || per_site_[request.site_id] >= options_.max_per_site ||
      per_function_[function_key] >= options_.max_per_function) {
    return MakeError(ErrorCode::kRateLimited, "too many background calls at once");
  }
  ++running_;
  ++per_site_[request.site_id];
  ++per_function_[function_key];
  const std::uint64_t id = next_id_++;
  threads_.emplace(
      id, std::thread([this, id, r = std::move(request)]() mutable { Run(id, std::move(r)); }));
  return {};
}

FunctionResponse BackgroundRunner::Attempt(const FunctionRequest& request) {
  const auto started = std::chrono::steady_clock::now();
  FunctionResponse response = runtime_.Invoke(request);
  // A streamed answer: read it to its end (within the call's deadline) to free the process.
  if (response.stream) {
    while (response.stream->Next()) {
    }
    response.stream.reset();
  }
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - started)
                          .count();
  if (response.status >= 500 || response.status == 429) {
    spdlog::warn("background call of function {} of deploy {} ended with {} after {} ms",
                 request.function_name, request.deploy_id, response.status, millis);
  } else {
    spdlog::info("background call of function {} of deploy {} done ({}) in {} ms",
                 request.function_name, request.deploy_id, response.status, millis);
  }
  return response;
}

bool BackgroundRunner::WaitToRetry(std::chrono::milliseconds delay) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, delay, [this] { return closing_; });
}

void BackgroundRunner::Run(std::uint64_t id, FunctionRequest request) {
  FunctionResponse response = Attempt(request);
  // A scheduled run (of a function not named "-background") is not retried.
  const std::size_t retries =
      IsBackgroundFunction(request.function_name) ? options_.retry_delays.size() : 0;
  for (std::size_t retry = 1; response.status >= 500 && retry <= retries; ++retry) {
    const std::chrono::milliseconds delay = options_.retry_delays[retry - 1];
    // The status only: a body the function wrote may hold what the log must not show.
    const std::string line = "retry " + std::to_string(retry) + " of " + std::to_string(retries) +
                             " in " + SecondsText(delay) + ": the call ended with " +
                             std::to_string(response.status);
    spdlog::info("background call of function {} of deploy {}: {}", request.function_name,
                 request.deploy_id, line);
    runtime_.LogCall(request, line);
    if (!WaitToRetry(delay)) break;
    response = Attempt(request);
  }
  if (done_hook_) done_hook_(request, response);
  const std::string function_key = request.deploy_id + "/" + request.function_name;
  std::lock_guard lock(mu_);
  --running_;
  if (--per_site_[request.site_id] == 0) per_site_.erase(request.site_id);
  if (--per_function_[function_key] == 0) per_function_.erase(function_key);
  finished_.push_back(id);
  cv_.notify_all();
}

void BackgroundRunner::Shutdown() {
  {
    std::lock_guard lock(mu_);
    if (closing_ && threads_.empty()) return;
    closing_ = true;
    cv_.notify_all();  // calls waiting to retry give up
  }
  runtime_.Shutdown();
  std::map<std::uint64_t, std::thread> threads;
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return running_ == 0; });
    threads.swap(threads_);
    finished_.clear();
  }
  for (auto& [id, t] : threads) t.join();
}

}  // namespace replideploy::functions
