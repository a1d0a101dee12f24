// The machinery shared by the live log streams (LogStreamHub, FunctionLogStreamHub): one thread
// serves every WebSocket viewer in turn, every `poll` or at once after Notify(); a viewer that
// its Serve function says is done is let go. Thread-safe.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <thread>
#include <utility>
#include <vector>

#include "http/message.hpp"

namespace replideploy::api {

// `Viewer` has a member `std::shared_ptr<http::WebSocket> socket`.
template <typename Viewer>
class ViewerHub {
 public:
  // Sends a viewer what is new; false when the viewer is done (it is then let go). Called on
  // the hub's thread only, one viewer at a time.
  using Serve = std::function<bool(Viewer&)>;

  // Starts the thread: `serve` may be called at once.
  ViewerHub(std::chrono::milliseconds poll, Serve serve)
      : poll_(poll),
        serve_(std::move(serve)),
        thread_([this](const std::stop_token& stop) { Loop(stop); }) {}
  ~ViewerHub() { Shutdown(); }
  ViewerHub(const ViewerHub&) = delete;
  ViewerHub& operator=(const ViewerHub&) = delete;

  // Serves `viewer` from the next pass on, which comes at once. After Shutdown its socket is
  // closed instead (1001).
  void Add(std::shared_ptr<Viewer> viewer) {
    {
      std::lock_guard lock(mu_);
      if (!stopped_) {
        viewers_.push_back(std::move(viewer));
        woken_ = true;
      }
    }
    if (viewer) {  // not taken: shutting down
      viewer->socket->Close(1001, "server shutting down");
      return;
    }
    cv_.notify_all();
  }

  // Cuts the wait for the next pass short.
  void Notify() {
    {
      std::lock_guard lock(mu_);
      woken_ = true;
    }
    cv_.notify_all();
  }

  // Stops the thread and closes every viewer (1001). Call it before the HTTP server that
  // accepted the sockets is destroyed: they belong to its I/O context. Idempotent.
  void Shutdown() {
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
      stopped_ = true;
    }
    thread_.request_stop();
    cv_.notify_all();
    thread_.join();
    std::vector<std::shared_ptr<Viewer>> viewers;
    {
      std::lock_guard lock(mu_);
      viewers.swap(viewers_);
    }
    for (const auto& v : viewers) v->socket->Close(1001, "server shutting down");
  }

  std::size_t ViewerCount() {
    std::lock_guard lock(mu_);
    return viewers_.size();
  }

 private:
  void Loop(const std::stop_token& stop) {
    while (!stop.stop_requested()) {
      std::vector<std::shared_ptr<Viewer>> current;
      {
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, stop, poll_, [this] { return woken_; });
        woken_ = false;
        current = viewers_;
      }
      std::vector<std::shared_ptr<Viewer>> done;
      for (const auto& viewer : current) {
        if (stop.stop_requested()) return;
        if (!serve_(*viewer)) done.push_back(viewer);
      }
      if (!done.empty()) {
        std::lock_guard lock(mu_);
        std::erase_if(viewers_, [&](const auto& v) {
          return std::find(done.begin(), done.end(), v) != done.end();
        });
      }
    }
  }

  const std::chrono::milliseconds poll_;
  const Serve serve_;
  std::mutex mu_;
  std::condition_variable_any cv_;
  bool woken_ = false;
  bool stopped_ = false;
  std::vector<std::shared_ptr<Viewer>> viewers_;
  std::jthread thread_;  // last: started once everything above is
};

}  // namespace replideploy::api
