// Live build logs: viewers of /api/v1/deploys/{id}/log/stream get the lines stored so far,
// then new ones as the worker stores them, the deploy's state changes, and a last "end"
// message once the deploy and its build are finished. One thread serves every viewer from the
// database (so workers in other processes are followed too); the worker's Notify() cuts the
// wait short. A viewer whose connection has more than kMaxQueuedBytes unsent is skipped until
// it catches up: a slow viewer never slows the build or the other viewers.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "api/viewer_hub.hpp"
#include "builder/build_logs.hpp"
#include "builder/queue.hpp"
#include "deploys/deploys.hpp"
#include "http/message.hpp"

namespace replideploy::api {

class LogStreamHub {
 public:
  static constexpr std::size_t kMaxQueuedBytes = std::size_t{1} << 20;
  static constexpr int kBatchLines = 500;

  LogStreamHub(builder::BuildLogStore& logs, deploys::DeployService& deploys,
               builder::BuildQueue& queue,
               std::chrono::milliseconds poll = std::chrono::milliseconds(500));
  ~LogStreamHub();
  LogStreamHub(const LogStreamHub&) = delete;
  LogStreamHub& operator=(const LogStreamHub&) = delete;

  // Starts following `deploy_id` for `socket`.
  void Add(const std::string& deploy_id, std::shared_ptr<http::WebSocket> socket);
  // New lines of `deploy_id` were stored.
  void Notify(const std::string& /*deploy_id*/) { hub_.Notify(); }
  // Stops following and lets go of every viewer (closing them with 1001). Call it before the
  // HTTP server that accepted the sockets is destroyed: they belong to its I/O context.
  // Idempotent; the destructor calls it.
  void Shutdown() { hub_.Shutdown(); }
  std::size_t ViewerCount() { return hub_.ViewerCount(); }

 private:
  struct Viewer {
    std::string deploy_id;
    std::shared_ptr<http::WebSocket> socket;
    std::int64_t next_seq = 0;
    std::string last_state;
  };
  // Sends what is new; false when the viewer is done (ended or gone).
  bool Serve(Viewer& viewer);

  builder::BuildLogStore& logs_;
  deploys::DeployService& deploys_;
  builder::BuildQueue& queue_;
  ViewerHub<Viewer> hub_;  // last: its thread serves with the members above
};

}  // namespace replideploy::api
