#include "cli/ops_server.hpp"

#include <unistd.h>

#include <optional>
#include <utility>

#include "core/config.hpp"
#include "core/metrics.hpp"

namespace replideploy::cli {

namespace {

constexpr std::string_view kExpositionType = "text/plain; version=0.0.4; charset=utf-8";

http::Response Metrics() {
  return http::Response::Text(200, core::metrics::Default().Render(), std::string(kExpositionType));
}

}  // namespace

Status CheckReady(db::Database& db, store::BlobStore& blobs) {
  if (Status ping = db.Ping(); !ping.ok()) {
    return MakeError(ErrorCode::kUnavailable, "database: " + ping.error().message);
  }
  // A local store is a folder that must be there and writable (a lookup of a missing blob
  // would only say "no"); any other store answers a lookup of a blob nobody has.
  if (auto* local = dynamic_cast<store::LocalBlobStore*>(&blobs)) {
    if (::access(local->Root().c_str(), R_OK | W_OK | X_OK) != 0) {
      return MakeError(ErrorCode::kUnavailable,
                       "blob store: " + local->Root() + " is missing or not writable");
    }
    return {};
  }
  auto has = blobs.Has(std::string(64, '0'), store::Variant::kIdentity);
  if (!has.ok()) return MakeError(ErrorCode::kUnavailable, "blob store: " + has.error().message);
  return {};
}

Result<std::unique_ptr<OpsServer>> OpsServer::Start(const std::string& listen, db::Database& db,
                                                    store::BlobStore& blobs,
                                                    builder::BuildQueue* queue) {
  RD_TRY(core::ListenAddress address, core::ParseListenAddress(listen));
  std::unique_ptr<OpsServer> ops(new OpsServer());
  if (queue != nullptr) {
    auto& registry = core::metrics::Default();
    const std::string_view help =
        "Build jobs by state: queued (waiting for a worker) or running (leased by one).";
    ops->queue_gauges_[0] = registry.AddCallbackGauge(
        "replideploy_build_jobs", help, {{"state", "queued"}}, [queue]() -> std::optional<double> {
          auto depth = queue->CountActive();
          if (!depth.ok()) return std::nullopt;
          return static_cast<double>(depth->queued);
        });
    ops->queue_gauges_[1] = registry.AddCallbackGauge(
        "replideploy_build_jobs", help, {{"state", "running"}}, [queue]() -> std::optional<double> {
          auto depth = queue->CountActive();
          if (!depth.ok()) return std::nullopt;
          return static_cast<double>(depth->running);
        });
  }
  http::ServerOptions options;
  options.host = address.host;
  options.port = address.port;
  options.io_threads = 1;
  options.handler_threads = 1;
  options.edge_threads = 1;
  options.slow_threads = 1;
  options.max_connections = 64;
  options.max_connections_per_client = 16;
  options.shutdown_grace = std::chrono::milliseconds(1000);
  auto resolver = [&db, &blobs](const http::Request& head) -> http::Dispatch {
    if (head.method != "GET" && head.method != "HEAD") {
      return {[](http::Request&) {
        http::Response r = http::Response::Error(405, "method_not_allowed",
                                                 "method not allowed; allowed: GET, HEAD");
        r.headers.Set("Allow", "GET, HEAD");
        return r;
      }};
    }
    if (head.path == "/metrics") return {[](http::Request&) { return Metrics(); }};
    if (head.path == "/healthz") {
      return {[](http::Request&) { return http::Response::Json(200, R"({"status":"ok"})"); }};
    }
    if (head.path == "/readyz") {
      return {[&db, &blobs](http::Request&) {
        const Status ready = CheckReady(db, blobs);
        if (!ready.ok()) return http::Response::Error(503, "unavailable", ready.error().message);
        return http::Response::Json(200, R"({"status":"ready","database":"ok","blob_store":"ok"})");
      }};
    }
    return {[](http::Request&) {
      return http::Response::Error(404, "not_found", "not found: /metrics, /healthz, /readyz");
    }};
  };
  ops->server_ = std::make_unique<http::Server>(options, std::move(resolver));
  if (Status st = ops->server_->Listen(); !st.ok()) return std::move(st).error();
  ops->server_->Start();
  return ops;
}

OpsServer::~OpsServer() {
  if (server_) server_->Stop();
  for (std::uint64_t id : queue_gauges_) {
    if (id != 0) core::metrics::Default().RemoveCallback(id);
  }
}

}  // namespace replideploy::cli
