// The operator's listener (--metrics-listen), apart from the one sites and the API are served
// on, so that no Host a site's visitor can send reaches it:
//   GET /metrics  Prometheus text exposition of core::metrics::Default() (plus the build queue's
//                 depth when a queue is given)
//   GET /healthz  200 while the process runs
//   GET /readyz   200 when the database answers a cheap query and the blob store answers a
//                 lookup; 503 with {"error":{"code":"unavailable","message":...}} otherwise
// Its own small http::Server (one thread per pool): a busy main listener does not hide the
// process's state. Its requests are not counted in the role metrics.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "builder/queue.hpp"
#include "core/result.hpp"
#include "db/database.hpp"
#include "http/server.hpp"
#include "store/blob_store.hpp"

namespace replideploy::cli {

class OpsServer {
 public:
  // Listens on `listen` (HOST:PORT) and starts serving; `queue` may be null. The database, blob
  // store and queue must outlive the server. Fails with a one-line message when the address
  // cannot be bound.
  static Result<std::unique_ptr<OpsServer>> Start(const std::string& listen, db::Database& db,
                                                  store::BlobStore& blobs,
                                                  builder::BuildQueue* queue);
  ~OpsServer();  // stops the server, then unregisters the queue gauge
  OpsServer(const OpsServer&) = delete;
  OpsServer& operator=(const OpsServer&) = delete;

  std::uint16_t port() const { return server_->port(); }

 private:
  OpsServer() = default;
  std::unique_ptr<http::Server> server_;
  std::uint64_t queue_gauges_[2] = {0, 0};
};

// Whether the database and the blob store answer (the /readyz check): the first failure, named.
Status CheckReady(db::Database& db, store::BlobStore& blobs);

}  // namespace replideploy::cli
