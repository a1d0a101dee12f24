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

LogStreamHub::LogStreamHub(builder::BuildLogStore& logs, deploys::DeployService& deploys,
                           builder::BuildQueue& queue, std::chrono::milliseconds poll)
    : logs_(logs),
      deploys_(deploys),
      queue_(queue),
      hub_(poll, [this](Viewer& viewer) { return Serve(viewer); }) {}

LogStreamHub::~LogStreamHub() { hub_.Shutdown(); }

void LogStreamHub::Add(const std::string& deploy_id, std::shared_ptr<http::WebSocket> socket) {
  auto viewer = std::make_shared<Viewer>();
  viewer->deploy_id = deploy_id;
  viewer->socket = std::move(socket);
  hub_.Add(std::move(viewer));
}

bool LogStreamHub::Serve(Viewer& viewer) {
  http::WebSocket& socket = *viewer.socket;
  if (!socket.IsOpen()) return false;
  if (socket.QueuedBytes() > kMaxQueuedBytes) return true;  // let it catch up
  auto lines = logs_.Read(viewer.deploy_id, viewer.next_seq, kBatchLines);
  if (!lines.ok()) {
    spdlog::warn("log stream of {}: {}", viewer.deploy_id, lines.error().message);
    return true;
  }
  if (!lines->empty()) {
    json::array out;
    for (const auto& l : *lines) {
      out.push_back(json::object{
          {"n", l.seq}, {"ts", core::FormatIso8601(l.ts)}, {"stream", l.stream}, {"line", l.line}});
      viewer.next_seq = l.seq + 1;
    }
    socket.SendText(json::serialize(json::object{{"type", "lines"}, {"lines", std::move(out)}}));
  }
  const bool more_lines = lines->size() == static_cast<std::size_t>(kBatchLines);
  auto deploy = deploys_.GetForBuild(viewer.deploy_id);
  if (!deploy.ok()) {
    if (deploy.error().code != ErrorCode::kNotFound) {
      spdlog::warn("log stream of {}: {}", viewer.deploy_id, deploy.error().message);
      return true;
    }
    socket.Close(4404, "deploy not found");
    return false;
  }
  const std::string state = deploy->state;
  if (state != viewer.last_state) {
    viewer.last_state = state;
    socket.SendText(json::serialize(json::object{{"type", "state"}, {"state", state}}));
  }
  // Finished: the deploy has its final state and no build job is still writing lines.
  if (IsFinal(state) && !more_lines) {
    auto active = queue_.HasActiveJob(viewer.deploy_id);
    if (!active.ok()) {
      spdlog::warn("log stream of {}: {}", viewer.deploy_id, active.error().message);
      return true;
    }
    if (*active) return true;
    // Lines stored since the read above go out first.
    auto later = logs_.HasLinesFrom(viewer.deploy_id, viewer.next_seq);
    if (later.ok() && *later) {
      Notify(viewer.deploy_id);
      return true;
    }
    socket.SendText(json::serialize(
        json::object{{"type", "end"}, {"state", state}, {"error_message", deploy->error_message}}));
    socket.Close(1000, "build finished");
    return false;
  }
  if (more_lines) Notify(viewer.deploy_id);
  return true;
}

}  // namespace replideploy::api
