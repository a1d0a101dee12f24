#include "http/server_internal.hpp"

#include <spdlog/spdlog.h>
#include <time.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <optional>

#include "core/net.hpp"
#include "http/websocket_session.hpp"

namespace replideploy::http::server_internal {

namespace {

void StartDeadlineWait(const std::shared_ptr<Connection>& conn) {
  const std::uint64_t generation = ++conn->wait_generation;
  conn->timer_pending = true;
  conn->timer_expiry = conn->deadline_at;
  conn->deadline.expires_at(conn->deadline_at);
  conn->deadline.async_wait([conn, generation](const error_code& ec) {
    // A newer wait replaced this one (an earlier deadline): it owns timer_pending now.
    if (generation != conn->wait_generation) return;
    conn->timer_pending = false;
    conn->timer_expiry = steady_clock::time_point::max();
    if (ec || conn->deadline_at == steady_clock::time_point::max()) return;
    // The deadline moved on since this wait was armed: wait for the new one.
    if (steady_clock::now() < conn->deadline_at) {
      StartDeadlineWait(conn);
      return;
    }
    conn->deadline_at = steady_clock::time_point::max();
    conn->timed_out = true;
    error_code ignored;
    conn->socket.cancel(ignored);
  });
}

// steady_clock's own clock (CLOCK_MONOTONIC) as of the last tick: a deadline of seconds needs
// no better, and it reads in a few nanoseconds where now() takes about a hundred (armed several
// times per request). It lags now() by at most a tick, so a deadline comes no later than asked.
steady_clock::time_point CoarseNow() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return steady_clock::time_point(std::chrono::duration_cast<steady_clock::duration>(
      std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec)));
}

}  // namespace

void ArmDeadline(const std::shared_ptr<Connection>& conn, milliseconds after) {
  conn->deadline_at = CoarseNow() + after;
  // A waiting timer that expires no later than the new deadline finds it when it fires.
  if (conn->timer_pending && conn->timer_expiry <= conn->deadline_at) return;
  StartDeadlineWait(conn);
}

void DisarmDeadline(Connection& conn) { conn.deadline_at = steady_clock::time_point::max(); }

void StopDeadline(Connection& conn) {
  conn.deadline_at = steady_clock::time_point::max();
  ++conn.wait_generation;
  conn.timer_pending = false;
  conn.timer_expiry = steady_clock::time_point::max();
  conn.deadline.cancel();
}

void PostShutdown(const std::shared_ptr<Connection>& conn) {
  asio::post(conn->deadline.get_executor(), [conn] {
    if (conn->websocket) {
      conn->websocket->CloseNow(1001, "server shutting down");
      return;
    }
    if (!conn->idle) return;
    error_code ignored;
    conn->socket.cancel(ignored);
  });
}

void PostCut(const std::shared_ptr<Connection>& conn) {
  asio::post(conn->deadline.get_executor(), [conn] {
    error_code ignored;
    if (conn->websocket) conn->websocket->Cut();
    conn->socket.shutdown(tcp::socket::shutdown_both, ignored);
    conn->socket.close(ignored);
    conn->deadline.cancel();
  });
}

ConnectionRegistry::Admission ConnectionRegistry::Register(const std::shared_ptr<Connection>& conn,
                                                           std::uint64_t& id) {
  std::lock_guard lock(mu_);
  if (shutting_down_) return Admission::kShuttingDown;
  if (connections_.size() >= options_.max_connections) return Admission::kServerFull;
  std::string counted = conn->remote_address;
  const std::optional<core::Cidr> peer = core::ParseIpAddress(counted);
  if (peer &&
      std::any_of(options_.connection_limit_exempt.begin(), options_.connection_limit_exempt.end(),
                  [&](const core::Cidr& net) { return core::CidrContains(net, *peer); })) {
    counted.clear();
  }
  if (!counted.empty()) {
    std::size_t& from_address = per_address_[counted];
    if (from_address >= options_.max_connections_per_client) {
      if (from_address == 0) per_address_.erase(counted);
      return Admission::kClientFull;
    }
    ++from_address;
  }
  id = next_id_++;
  connections_.emplace(id, Entry{conn, std::move(counted)});
  return Admission::kAdmitted;
}

void ConnectionRegistry::Unregister(std::uint64_t id) {
  std::lock_guard lock(mu_);
  const auto it = connections_.find(id);
  if (it == connections_.end()) return;
  if (!it->second.counted_address.empty()) {
    const auto count = per_address_.find(it->second.counted_address);
    if (count != per_address_.end() && --count->second == 0) per_address_.erase(count);
  }
  connections_.erase(it);
  if (connections_.empty()) empty_cv_.notify_all();
}

std::vector<std::shared_ptr<Connection>> ConnectionRegistry::Live() {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<Connection>> live;
  for (const auto& [id, entry] : connections_) {
    if (auto conn = entry.conn.lock()) live.push_back(std::move(conn));
  }
  return live;
}

bool ConnectionRegistry::WaitUntilEmpty(steady_clock::time_point deadline) {
  std::unique_lock lock(mu_);
  return empty_cv_.wait_until(lock, deadline, [&] { return connections_.empty(); });
}

void LogExchange(const Exchange& exchange, std::string_view remote_address, int status,
                 std::size_t body_bytes, std::string_view failure) {
  const double ms =
      std::chrono::duration<double, std::milli>(steady_clock::now() - exchange.started).count();
  if (exchange.metrics != nullptr) exchange.metrics->Record(status, ms / 1000.0);
  const auto or_dash = [](std::string_view s) { return s.empty() ? std::string_view("-") : s; };
  spdlog::info("{} {} \"{} {}\" {} {} {:.1f}ms{}{}{}", exchange.request_id, or_dash(remote_address),
               or_dash(exchange.method), or_dash(exchange.target), status, body_bytes, ms,
               failure.empty() ? "" : " (", failure, failure.empty() ? "" : ")");
}

IoContexts::IoContexts(int threads) {
  for (int i = 0; i < std::max(1, threads); ++i) {
    // One thread per context: the hint lets Asio skip the locking a shared queue needs.
    contexts_.push_back(std::make_unique<asio::io_context>(1));
  }
}

asio::any_io_executor IoContexts::Next() {
  const std::size_t i = next_.fetch_add(1, std::memory_order_relaxed) % contexts_.size();
  return contexts_[i]->get_executor();
}

std::function<void(std::exception_ptr)> LogFailure(std::string_view what) {
  return [what](const std::exception_ptr& e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("{} failed: {}", what, ex.what());
    } catch (...) {
      spdlog::error("{} failed with a non-standard exception", what);
    }
  };
}

}  // namespace replideploy::http::server_internal
