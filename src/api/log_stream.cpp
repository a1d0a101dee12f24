#include "api/log_stream.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>

#include "core/clock.hpp"

namespace replideploy::api {

namespace json = boost::json;

namespace {

bool IsFinal(std::string_view state) {
  return state == "ready" || state == "error" || state == "canceled";
}

}  // namespace

LogStreamHub::LogStreamHub(db::Database& db, std::chrono::milliseconds poll)
    : db_(db), poll_(poll), thread_([this](std::stop_token stop) { Loop(std::move(stop)); }) {}

LogStreamHub::~LogStreamHub() { Shutdown(); }

void LogStreamHub::Shutdown() {
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

void LogStreamHub::Add(const std::string& deploy_id, std::shared_ptr<http::WebSocket> socket) {
  auto viewer = std::make_shared<Viewer>();
  viewer->deploy_id = deploy_id;
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

void LogStreamHub::Notify(const std::string&) {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

std::size_t LogStreamHub::ViewerCount() {
  std::lock_guard lock(mu_);
  return viewers_.size();
}

void LogStreamHub::Loop(const std::stop_token& stop) {
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

bool LogStreamHub::Serve(Viewer& viewer) {
  http::WebSocket& socket = *viewer.socket;
  if (!socket.IsOpen()) return false;
  if (socket.QueuedBytes() > kMaxQueuedBytes) return true;  // let it catch up
  auto rows = db_.Exec(
      "SELECT seq, ts, stream, line FROM build_logs WHERE deploy_id = ? AND seq >= ? "
      "ORDER BY seq LIMIT " +
          std::to_string(kBatchLines),
      {viewer.deploy_id, viewer.next_seq});
  if (!rows.ok()) {
    spdlog::warn("log stream of {}: {}", viewer.deploy_id, rows.error().message);
    return true;
  }
  if (!rows->rows.empty()) {
    json::array lines;
    for (const auto& r : rows->rows) {
      lines.push_back(json::object{{"n", r.Int(0)},
                                   {"ts", core::FormatIso8601(r.Int(1))},
                                   {"stream", r.Text(2)},
                                   {"line", r.Text(3)}});
      viewer.next_seq = r.Int(0) + 1;
    }
    socket.SendText(json::serialize(json::object{{"type", "lines"}, {"lines", std::move(lines)}}));
  }
  const bool more_lines = rows->rows.size() == static_cast<std::size_t>(kBatchLines);
  auto deploy = db_.Exec(
      "SELECT d.state, d.error_message, (SELECT COUNT(*) FROM build_jobs j WHERE j.deploy_id = "
      "d.id AND j.state IN ('queued', 'running')) FROM deploys d WHERE d.id = ?",
      {viewer.deploy_id});
  if (!deploy.ok()) return true;
  if (deploy->rows.empty()) {
    socket.Close(4404, "deploy not found");
    return false;
  }
  const std::string state = deploy->rows.front().Text(0);
  if (state != viewer.last_state) {
    viewer.last_state = state;
    socket.SendText(json::serialize(json::object{{"type", "state"}, {"state", state}}));
  }
  // Finished: the deploy has its final state and no build job is still writing lines.
  if (IsFinal(state) && deploy->rows.front().Int(2) == 0 && !more_lines) {
    // Lines stored between the two queries above go out first.
    auto last = db_.Exec("SELECT COUNT(*) FROM build_logs WHERE deploy_id = ? AND seq >= ?",
                         {viewer.deploy_id, viewer.next_seq});
    if (last.ok() && last->rows.front().Int(0) > 0) {
      Notify(viewer.deploy_id);
      return true;
    }
    socket.SendText(json::serialize(json::object{
        {"type", "end"}, {"state", state}, {"error_message", deploy->rows.front().Text(1)}}));
    socket.Close(1000, "build finished");
    return false;
  }
  if (more_lines) Notify(viewer.deploy_id);
  return true;
}

}  // namespace replideploy::api
