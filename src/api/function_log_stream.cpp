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
    : logs_(logs), hub_(poll, [this](Viewer& viewer) { return Serve(viewer); }) {}

FunctionLogStreamHub::~FunctionLogStreamHub() { hub_.Shutdown(); }

void FunctionLogStreamHub::Add(const std::string& deploy_id, const std::string& function_name,
                               std::shared_ptr<http::WebSocket> socket) {
  auto viewer = std::make_shared<Viewer>();
  viewer->deploy_id = deploy_id;
  viewer->function_name = function_name;
  viewer->socket = std::move(socket);
  hub_.Add(std::move(viewer));
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
