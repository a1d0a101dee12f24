#include "api/function_log_stream.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>

#include "core/clock.hpp"

namespace replideploy::api {

namespace json = boost::json;

std::string FunctionLogLinesMessage(const std::vector<deploys::FunctionLogLine>& lines) {
  json::array out;
  for (const auto& l : lines) {
    out.push_back(json::object{{"n", l.seq},
                               {"ts", core::FormatIso8601(l.ts)},
                               {"stream", l.stream},
                               {"request_id", l.request_id},
                               {"line", l.line}});
  }
  return json::serialize(json::object{{"type", "lines"}, {"lines", std::move(out)}});
}

FunctionLogStreamHub::FunctionLogStreamHub(deploys::FunctionLogStore& logs,
                                           std::chrono::milliseconds poll)
    : logs_(logs), poll_(poll), thread_([this](std::stop_token stop) { Loop(std::move(stop)); }) {}

FunctionLogStreamHub::~FunctionLogStreamHub() { Shutdown(); }

void FunctionLogStreamHub::Shutdown() {
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

void FunctionLogStreamHub::Add(const std::string& deploy_id, const std::string& function_name,
                               std::shared_ptr<http::WebSocket> socket) {
  auto viewer = std::make_shared<Viewer>();
  viewer->deploy_id = deploy_id;
  viewer->function_name = function_name;
  viewer->socket = socket;
  {
    std::lock_guard lock(mu_);
    if (!stopped_) {
      viewers_.push_back(std::move(viewer));
      woken_ = true;
    }
  }
  if (viewer) {  // not taken: shutting down
    socket->Close(1001, "server shutting down");
    return;
  }
  cv_.notify_all();
}

void FunctionLogStreamHub::Notify() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

std::size_t FunctionLogStreamHub::ViewerCount() {
  std::lock_guard lock(mu_);
  return viewers_.size();
}

void FunctionLogStreamHub::Loop(const std::stop_token& stop) {
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
      if (!Serve(*viewer)) done.push_back(viewer);
    }
    if (!done.empty()) {
      std::lock_guard lock(mu_);
      std::erase_if(viewers_, [&](const auto& v) {
        return std::find(done.begin(), done.end(), v) != done.end();
      });
    }
  }
}

bool FunctionLogStreamHub::Serve(Viewer& viewer) {
  http::WebSocket& socket = *viewer.socket;
  if (!socket.IsOpen()) return false;
  if (socket.QueuedBytes() > kMaxQueuedBytes) return true;  // let it catch up
  auto lines = viewer.next_seq < 0 ? logs_.Tail(viewer.deploy_id, viewer.function_name, kFirstLines)
                                   : logs_.Read(viewer.deploy_id, viewer.function_name,
                                                viewer.next_seq, kBatchLines);
  if (!lines.ok()) {
    spdlog::warn("function log stream of {}/{}: {}", viewer.deploy_id, viewer.function_name,
                 lines.error().message);
    return true;
  }
  if (lines->empty()) {
    if (viewer.next_seq < 0) viewer.next_seq = 0;
    return true;
  }
  viewer.next_seq = lines->back().seq + 1;
  socket.SendText(FunctionLogLinesMessage(*lines));
  if (lines->size() == static_cast<std::size_t>(kBatchLines)) Notify();
  return true;
}

}  // namespace replideploy::api
