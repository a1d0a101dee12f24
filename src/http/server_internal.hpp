// What the pieces of the HTTP server share: the state of one connection and its deadline, the
// registry of live connections, the access log and the context every session runs in. Private
// to src/http/ (server.cpp, listener.cpp, http_session.cpp, websocket_session.cpp); other
// components include http/server.hpp.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "http/server.hpp"

namespace replideploy::http::server_internal {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

// Asynchronous results as (error_code, ...) tuples instead of exceptions.
inline constexpr auto kAwaitable = asio::as_tuple(asio::use_awaitable);

class WebSocketSession;

// Per-connection state. Everything but the constant fields is touched only on the
// connection's strand (the socket's executor).
struct Connection {
  explicit Connection(tcp::socket s) : socket(std::move(s)), deadline(socket.get_executor()) {}

  tcp::socket socket;
  asio::steady_timer deadline;
  beast::flat_buffer buffer;
  std::string remote_address;  // the peer's IP, canonical (IPv4-mapped IPv6 as IPv4)
  // True while nothing is owed to the client (waiting for a request's first byte, or
  // lingering after a final answer): Stop() may close such a connection at once.
  bool idle = true;
  bool timed_out = false;
  // The deadline is lazy: ArmDeadline only moves `deadline_at`, and the timer, armed at most
  // once per deadline period, re-arms itself when it fires early. steady_clock::time_point::max()
  // means no deadline.
  steady_clock::time_point deadline_at = steady_clock::time_point::max();
  steady_clock::time_point timer_expiry = steady_clock::time_point::max();
  bool timer_pending = false;
  std::uint64_t wait_generation = 0;
  // The response head being written, reused from request to request.
  std::string head;
  // Set while the connection serves a WebSocket (whose stream is, or wraps, `socket`).
  std::shared_ptr<WebSocketSession> websocket;
};

// On the strand: (re)arms the connection's deadline. When it passes, timed_out is set and the
// socket's pending operations are cancelled; the socket stays open, so a 408 can still be
// written. Cheap: the timer is only touched when the new deadline is earlier than the one it
// waits for, or when none is waiting.
void ArmDeadline(const std::shared_ptr<Connection>& conn, milliseconds after);
// On the strand: no deadline any more, including one that fired but has not run yet. The timer
// is left waiting (it finds nothing to do when it fires); see StopDeadline.
void DisarmDeadline(Connection& conn);
// On the strand, when the connection is done: no deadline, and the timer's wait is cancelled so
// that it lets go of the connection at once.
void StopDeadline(Connection& conn);

// For shutdown; both post to the connection's strand and return at once. PostShutdown closes a
// WebSocket with 1001 and cancels the read of an idle connection; a busy one is left to finish
// its answer (it sees shutting_down and closes after it). PostCut closes the socket at once.
void PostShutdown(const std::shared_ptr<Connection>& conn);
void PostCut(const std::shared_ptr<Connection>& conn);

// The live connections, so that Stop() can close them and wait for them, and their count in
// total and per peer address (ServerOptions' connection limits). Thread-safe. Holds weak
// references: a connection belongs to its session's coroutine.
class ConnectionRegistry {
 public:
  enum class Admission { kAdmitted, kShuttingDown, kServerFull, kClientFull };

  // Registration fails once `shutting_down` is set; `options` gives the limits.
  ConnectionRegistry(const std::atomic<bool>& shutting_down, const ServerOptions& options)
      : shutting_down_(shutting_down), options_(options) {}

  // Registers a connection from conn->remote_address under a new id when the limits allow it.
  Admission Register(const std::shared_ptr<Connection>& conn, std::uint64_t& id);
  void Unregister(std::uint64_t id);
  std::vector<std::shared_ptr<Connection>> Live();
  // True once no connection is left; false when the deadline passed first.
  bool WaitUntilEmpty(steady_clock::time_point deadline);

 private:
  struct Entry {
    std::weak_ptr<Connection> conn;
    std::string counted_address;  // empty: exempt from the per-client limit
  };

  const std::atomic<bool>& shutting_down_;
  const ServerOptions& options_;
  std::mutex mu_;
  std::condition_variable empty_cv_;
  std::uint64_t next_id_ = 0;
  std::unordered_map<std::uint64_t, Entry> connections_;
  std::unordered_map<std::string, std::size_t> per_address_;
};

// What the access log says about one exchange.
struct Exchange {
  std::string request_id;
  std::string method;
  std::string target;
  unsigned version = 11;
  bool head_only = false;
  steady_clock::time_point started = steady_clock::now();
  core::metrics::RequestMetrics* metrics = nullptr;  // counted there by LogExchange when set
};

// Writes the exchange's access-log line ("<id> <peer> \"<method> <target>\" <status> <bytes>
// <ms>ms"); a non-empty `failure` is appended in parentheses. Counts it in exchange.metrics.
void LogExchange(const Exchange& exchange, std::string_view remote_address, int status,
                 std::size_t body_bytes, std::string_view failure);

// What every session needs from its server. The server owns all of it and outlives every
// session's coroutine; only `connections` is touched when a frame is destroyed late (with the
// io_context).
struct SessionContext {
  const ServerOptions& options;
  const Resolver& resolver;
  asio::thread_pool& api_pool;
  asio::thread_pool& edge_pool;
  asio::thread_pool& slow_pool;
  const std::atomic<bool>& shutting_down;
  ConnectionRegistry& connections;

  asio::thread_pool& PoolFor(Pool pool) const {
    switch (pool) {
      case Pool::kEdge:
        return edge_pool;
      case Pool::kSlow:
        return slow_pool;
      case Pool::kApi:
        break;
    }
    return api_pool;
  }
};

// The I/O threads' io_contexts, one per thread. A connection lives on one of them (round robin),
// so its operations are serialized without a strand and its completions never cross threads.
class IoContexts {
 public:
  explicit IoContexts(int threads);
  std::size_t size() const { return contexts_.size(); }
  asio::io_context& at(std::size_t i) { return *contexts_[i]; }
  // For the acceptors.
  asio::io_context& first() { return *contexts_.front(); }
  // The executor of the next connection. Thread-safe.
  asio::any_io_executor Next();

 private:
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::atomic<std::size_t> next_{0};
};

// Completion handler for co_spawn: a coroutine's exception (out of memory, say) is logged as
// "<what> failed: ...", never rethrown into the io_context. `what` must outlive the handler (a
// literal).
std::function<void(std::exception_ptr)> LogFailure(std::string_view what);

}  // namespace replideploy::http::server_internal
