// Live function logs: viewers of /api/v1/sites/{site}/functions/{name}/log/stream get the
// function's last lines, then new ones as they are stored (by this process's edge or another's:
// the hub reads the database, function_logs). The same design as LogStreamHub (build logs): one
// thread serves every viewer, Notify() cuts its wait short, and a viewer with more than
// kMaxQueuedBytes unsent is skipped until it catches up. A function's log has no end: the
// stream lasts until the viewer or the server closes it. Thread-safe.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "api/viewer_hub.hpp"
#include "deploys/function_logs.hpp"
#include "http/message.hpp"

namespace replideploy::api {

class FunctionLogStreamHub {
 public:
  static constexpr std::size_t kMaxQueuedBytes = std::size_t{1} << 20;
  static constexpr int kBatchLines = 500;
  static constexpr int kFirstLines = 100;  // sent on connecting: the function's last lines

  FunctionLogStreamHub(deploys::FunctionLogStore& logs,
                       std::chrono::milliseconds poll = std::chrono::milliseconds(500));
  ~FunctionLogStreamHub();
  FunctionLogStreamHub(const FunctionLogStreamHub&) = delete;
  FunctionLogStreamHub& operator=(const FunctionLogStreamHub&) = delete;

  // Starts following (deploy, function) for `socket`.
  void Add(const std::string& deploy_id, const std::string& function_name,
           std::shared_ptr<http::WebSocket> socket);
  // New lines were stored.
  void Notify() { hub_.Notify(); }
  // Stops following and closes every viewer (1001). Call it before the HTTP server that
  // accepted the sockets is destroyed. Idempotent; the destructor calls it.
  void Shutdown() { hub_.Shutdown(); }
  std::size_t ViewerCount() { return hub_.ViewerCount(); }

 private:
  struct Viewer {
    std::string deploy_id;
    std::string function_name;
    std::shared_ptr<http::WebSocket> socket;
    std::int64_t next_seq = -1;  // -1: nothing sent yet (the last lines go first)
  };
  // Sends what is new; false when the viewer is gone.
  bool Serve(Viewer& viewer);

  deploys::FunctionLogStore& logs_;
  ViewerHub<Viewer> hub_;  // last: its thread serves with the members above
};

// A function log line as the API renders it: {"n", "ts", "stream", "request_id", "line"}.
std::string FunctionLogLinesMessage(const std::vector<deploys::FunctionLogLine>& lines);

}  // namespace replideploy::api
