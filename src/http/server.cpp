#include "http/server.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket.hpp>
#include <condition_variable>
#include <csignal>
#include <deque>
#include <exception>
#include <future>
#include <limits>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "core/crypto.hpp"

namespace replideploy::http {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr auto kAwaitable = asio::as_tuple(asio::use_awaitable);
// First read of a request: enough for most request heads in one go.
constexpr std::size_t kFirstReadBytes = 4096;
// After an error answer with request bytes still unread, keep reading (and discarding) for a
// while before closing, so the client reads our answer instead of a connection reset.
constexpr milliseconds kLingerTime{2000};
constexpr std::size_t kLingerBytes = std::size_t{8} << 20;
constexpr std::size_t kLingerChunkBytes = std::size_t{64} << 10;
// After the grace period, how long Stop() waits for cut connections to unwind.
constexpr milliseconds kCutWait{1000};
constexpr std::size_t kMaxRequestIdLength = 64;

class WebSocketSession;

// Per-connection state. Everything but the constant fields is touched only on the
// connection's strand (the socket's executor).
struct Connection {
  explicit Connection(tcp::socket s) : socket(std::move(s)), deadline(socket.get_executor()) {}

  tcp::socket socket;
  asio::steady_timer deadline;
  beast::flat_buffer buffer;
  std::string remote_address;
  // True while nothing is owed to the client (waiting for a request's first byte, or
  // lingering after a final answer): Stop() may close such a connection at once.
  bool idle = true;
  bool timed_out = false;
  std::uint64_t deadline_generation = 0;
  // Set once the connection became a WebSocket (the socket then lives in the session).
  std::shared_ptr<WebSocketSession> websocket;
};

// A server-side WebSocket: messages are queued from any thread and written in order on the
// connection's strand; the read loop runs in the connection's coroutine.
class WebSocketSession final : public WebSocket,
                               public std::enable_shared_from_this<WebSocketSession> {
 public:
  static constexpr std::size_t kMaxMessageBytes = std::size_t{64} << 10;

  explicit WebSocketSession(tcp::socket socket) : ws_(std::move(socket)) {
    ws_.read_message_max(kMaxMessageBytes);
    // Pings an idle peer and drops one that stops answering; bounds the handshake and close.
    ws_.set_option(beast::websocket::stream_base::timeout::suggested(beast::role_type::server));
  }

  beast::websocket::stream<tcp::socket>& stream() { return ws_; }

  void SendText(std::string message) override {
    if (!open_) return;
    queued_bytes_ += message.size();
    asio::post(ws_.get_executor(), [self = shared_from_this(), m = std::move(message)]() mutable {
      if (self->closing_) {
        self->queued_bytes_ -= m.size();
        return;
      }
      self->queue_.push_back(std::move(m));
      self->WriteNext();
    });
  }

  void Close(std::uint16_t code, std::string reason) override {
    if (reason.size() > 123) reason.resize(123);
    asio::post(ws_.get_executor(), [self = shared_from_this(), code, r = std::move(reason)] {
      if (self->closing_ || self->close_requested_) return;
      self->close_requested_ = true;
      self->close_reason_ =
          beast::websocket::close_reason(static_cast<beast::websocket::close_code>(code), r);
      self->WriteNext();
    });
  }

  bool IsOpen() const override { return open_; }
  std::size_t QueuedBytes() const override { return queued_bytes_; }

  // Runs on the strand: reads until the peer closes or the connection fails.
  asio::awaitable<void> ReadLoop(const std::function<void(std::string_view)>& on_message) {
    beast::flat_buffer buffer;
    for (;;) {
      auto [ec, n] = co_await ws_.async_read(buffer, kAwaitable);
      if (ec) break;
      if (on_message) {
        try {
          on_message(beast::buffers_to_string(buffer.data()));
        } catch (const std::exception& e) {
          spdlog::error("websocket message handler threw: {}", e.what());
        }
      }
      buffer.consume(buffer.size());
    }
    open_ = false;
    closing_ = true;
  }

  // On the strand: for shutdown.
  void CloseNow(std::uint16_t code, std::string_view reason) {
    if (closing_) return;
    queue_.clear();
    close_requested_ = true;
    close_reason_ =
        beast::websocket::close_reason(static_cast<beast::websocket::close_code>(code), reason);
    WriteNext();
  }
  void Cut() {
    open_ = false;
    closing_ = true;
    error_code ignored;
    ws_.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
    ws_.next_layer().close(ignored);
  }

 private:
  // On the strand: starts the next write unless one is in flight.
  void WriteNext() {
    if (writing_ || closing_) return;
    if (!queue_.empty()) {
      writing_ = true;
      ws_.text(true);
      ws_.async_write(asio::buffer(queue_.front()),
                      [self = shared_from_this()](const error_code& ec, std::size_t) {
                        self->writing_ = false;
                        self->queued_bytes_ -= self->queue_.front().size();
                        self->queue_.pop_front();
                        if (ec) {
                          self->open_ = false;
                          self->closing_ = true;
                          return;
                        }
                        self->WriteNext();
                      });
      return;
    }
    if (close_requested_) {
      open_ = false;
      closing_ = true;
      writing_ = true;
      ws_.async_close(close_reason_,
                      [self = shared_from_this()](const error_code&) { self->writing_ = false; });
    }
  }

  beast::websocket::stream<tcp::socket> ws_;
  std::atomic<bool> open_{true};
  std::atomic<std::size_t> queued_bytes_{0};
  // Strand-only state.
  std::deque<std::string> queue_;
  bool writing_ = false;
  bool closing_ = false;
  bool close_requested_ = false;
  beast::websocket::close_reason close_reason_;
};

// The deadline cancels the socket rather than closing it, so a 408 can still be written.
void ArmDeadline(const std::shared_ptr<Connection>& conn, milliseconds after) {
  const std::uint64_t generation = ++conn->deadline_generation;
  conn->deadline.expires_after(after);
  conn->deadline.async_wait([conn, generation](const error_code& ec) {
    // A newer deadline may have been armed after this one fired but before it ran.
    if (ec || generation != conn->deadline_generation) return;
    conn->timed_out = true;
    error_code ignored;
    conn->socket.cancel(ignored);
  });
}

void DisarmDeadline(Connection& conn) {
  ++conn.deadline_generation;
  conn.deadline.cancel();
}

bool IsValidRequestId(std::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdLength) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

std::string NewRequestId() { return core::HexEncode(core::RandomBytes(8)); }

bool HasLineBreakOrNul(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

// RFC 9110 token: what a header name may be made of.
bool IsToken(std::string_view s) {
  static constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           kSymbols.find(c) != std::string_view::npos;
  });
}

bool HasCloseToken(std::string_view connection) {
  const auto tokens = SplitHeaderTokens(connection);
  return std::any_of(tokens.begin(), tokens.end(),
                     [](const std::string& t) { return beast::iequals(t, "close"); });
}

// The path part of a request-target; absolute-form ("http://host/p?q") is reduced to "/p".
std::string_view TargetPath(std::string_view target) {
  target = target.substr(0, target.find('?'));
  if (!target.empty() && target.front() != '/') {
    const std::size_t scheme_end = target.find("://");
    if (scheme_end != std::string_view::npos) {
      const std::size_t path_start = target.find('/', scheme_end + 3);
      return path_start == std::string_view::npos ? std::string_view("/")
                                                  : target.substr(path_start);
    }
  }
  return target;
}

std::string_view TargetQuery(std::string_view target) {
  const std::size_t question = target.find('?');
  return question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);
}

std::string HostPort(const std::string& host, std::uint16_t port) {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

// Enough to keep obvious garbage away from the system resolver.
bool IsHostName(std::string_view host) {
  return !host.empty() && host.size() <= 253 && std::all_of(host.begin(), host.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-';
  });
}

bool IsHttpParseError(const error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category();
}

bool IsPeerGone(const error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
         ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor ||
         ec == asio::error::broken_pipe || ec == asio::error::not_connected;
}

// Completion of a spawned coroutine: an exception (out of memory, say) is logged, never
// rethrown into the io_context.
auto LogFailure(std::string_view what) {
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

Response CallHandler(const Handler& handler, Request& request) {
  try {
    return handler(request);
  } catch (const std::exception& e) {
    spdlog::error("request {}: handler for {} {} threw: {}", request.request_id, request.method,
                  request.target, e.what());
  } catch (...) {
    spdlog::error("request {}: handler for {} {} threw a non-standard exception",
                  request.request_id, request.method, request.target);
  }
  return Response::Error(500, "internal", "internal server error");
}

asio::awaitable<Response> CallHandlerOnPool(const Handler& handler, Request& request) {
  co_return CallHandler(handler, request);
}

// What the access log says about one exchange.
struct Exchange {
  std::string request_id;
  std::string method;
  std::string target;
  unsigned version = 11;
  bool head_only = false;
  steady_clock::time_point started = steady_clock::now();
};

}  // namespace

class Server::Impl {
 public:
  Impl(ServerOptions options, Resolver resolver)
      : options_(std::move(options)),
        resolver_(std::move(resolver)),
        io_context_(std::max(1, options_.io_threads)),
        work_(asio::make_work_guard(io_context_)),
        accept_strand_(asio::make_strand(io_context_)),
        acceptor_(io_context_),
        handler_pool_(static_cast<std::size_t>(std::max(1, options_.handler_threads))) {}

  Status Listen();
  std::uint16_t BoundPort() const { return port_.load(); }
  void Start();
  void Stop();
  void RunUntilSignal();

 private:
  enum class Outcome { kKeepAlive, kClose, kLingerThenClose };

  asio::awaitable<void> AcceptLoop();
  asio::awaitable<void> Serve(std::shared_ptr<Connection> conn, std::uint64_t id);
  asio::awaitable<Outcome> ServeRequest(const std::shared_ptr<Connection>& conn, bool first);
  // Answers a failed read of the request head or body.
  asio::awaitable<Outcome> AnswerReadError(const std::shared_ptr<Connection>& conn,
                                           const error_code& ec, const Exchange& exchange);
  asio::awaitable<Outcome> AnswerAndClose(const std::shared_ptr<Connection>& conn,
                                          Response response, const Exchange& exchange,
                                          Outcome outcome);
  // Returns false when the connection cannot be used any more.
  asio::awaitable<bool> WriteResponse(const std::shared_ptr<Connection>& conn, Response response,
                                      const Exchange& exchange, bool keep_alive);
  asio::awaitable<void> Linger(const std::shared_ptr<Connection>& conn);
  // Completes a WebSocket handshake and serves the connection until it closes.
  asio::awaitable<void> ServeWebSocket(const std::shared_ptr<Connection>& conn,
                                       const bhttp::request<bhttp::string_body>& handshake,
                                       std::shared_ptr<WebSocketAccept> accept,
                                       const Exchange& exchange);

  // Registers a connection; false once shutting down.
  bool Register(const std::shared_ptr<Connection>& conn, std::uint64_t& id);
  void Unregister(std::uint64_t id);
  std::vector<std::shared_ptr<Connection>> LiveConnections();
  bool WaitForConnections(steady_clock::time_point deadline);
  void RunIoContext();

  const ServerOptions options_;
  const Resolver resolver_;

  // Declared before the I/O objects: coroutine frames destroyed with the io_context or the
  // pool unregister themselves here.
  std::mutex connections_mu_;
  std::condition_variable connections_cv_;
  std::uint64_t next_connection_id_ = 0;
  std::unordered_map<std::uint64_t, std::weak_ptr<Connection>> connections_;

  std::mutex lifecycle_mu_;  // guards started_ and signal_context_
  bool started_ = false;
  asio::io_context* signal_context_ = nullptr;
  std::mutex stop_mu_;  // held for the whole of Stop(), so a second caller waits for the first
  bool stopped_ = false;
  std::atomic<bool> shutting_down_{false};
  std::atomic<std::uint16_t> port_{0};

  asio::io_context io_context_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  asio::strand<asio::io_context::executor_type> accept_strand_;
  tcp::acceptor acceptor_;
  asio::thread_pool handler_pool_;
  std::vector<std::thread> io_threads_;
};

Status Server::Impl::Listen() {
  const std::string where = HostPort(options_.host, options_.port);
  const auto fail = [&](std::string_view why) -> Status {
    error_code ignored;
    acceptor_.close(ignored);
    return MakeError(ErrorCode::kUnavailable, fmt::format("cannot listen on {}: {}", where, why));
  };
  if (acceptor_.is_open()) return MakeError(ErrorCode::kInternal, "server is already listening");

  error_code ec;
  tcp::endpoint endpoint;
  const asio::ip::address address = asio::ip::make_address(options_.host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, options_.port);
  } else if (!IsHostName(options_.host)) {
    return fail("not an IP address or host name");
  } else {
    tcp::resolver resolver(io_context_);
    const auto results =
        resolver.resolve(options_.host, std::to_string(options_.port), tcp::resolver::passive, ec);
    if (ec) return fail(ec.message());
    if (results.empty()) return fail("host has no address");
    endpoint = results.begin()->endpoint();
  }

  if (acceptor_.open(endpoint.protocol(), ec); ec) return fail(ec.message());
  if (acceptor_.set_option(asio::socket_base::reuse_address(true), ec); ec) {
    return fail(ec.message());
  }
  if (acceptor_.bind(endpoint, ec); ec) return fail(ec.message());
  if (acceptor_.listen(asio::socket_base::max_listen_connections, ec); ec) {
    return fail(ec.message());
  }
  const tcp::endpoint bound = acceptor_.local_endpoint(ec);
  if (ec) return fail(ec.message());
  port_ = bound.port();
  spdlog::info("listening on {}", HostPort(bound.address().to_string(), bound.port()));
  return {};
}

void Server::Impl::Start() {
  std::lock_guard lock(lifecycle_mu_);
  if (started_ || shutting_down_) return;
  started_ = true;
  if (acceptor_.is_open()) {
    asio::co_spawn(accept_strand_, AcceptLoop(), LogFailure("accept loop"));
  }
  const int threads = std::max(1, options_.io_threads);
  for (int i = 0; i < threads; ++i) io_threads_.emplace_back([this] { RunIoContext(); });
}

void Server::Impl::RunIoContext() {
  for (;;) {
    try {
      io_context_.run();
      return;
    } catch (const std::exception& e) {
      spdlog::error("I/O thread caught an exception: {}", e.what());
    }
  }
}

void Server::Impl::Stop() {
  std::lock_guard stop_lock(stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  bool started = false;
  {
    std::lock_guard lock(lifecycle_mu_);
    shutting_down_ = true;
    started = started_;
    if (signal_context_ != nullptr) signal_context_->stop();
  }
  if (!started) {
    error_code ignored;
    acceptor_.close(ignored);
    handler_pool_.join();
    return;
  }

  // The acceptor belongs to the accept loop's strand; wait for the close so no connection is
  // accepted after Stop() has begun draining.
  std::promise<void> acceptor_closed;
  asio::post(accept_strand_, [this, &acceptor_closed] {
    error_code ignored;
    acceptor_.close(ignored);
    acceptor_closed.set_value();
  });
  acceptor_closed.get_future().wait();
  // Connections between requests go now; the others see shutting_down_ when they answer.
  for (const auto& conn : LiveConnections()) {
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
  if (!WaitForConnections(steady_clock::now() + options_.shutdown_grace)) {
    const auto remaining = LiveConnections();
    spdlog::warn("closing {} connection(s) still busy after the {} ms shutdown grace period",
                 remaining.size(), options_.shutdown_grace.count());
    for (const auto& conn : remaining) {
      asio::post(conn->deadline.get_executor(), [conn] {
        error_code ignored;
        if (conn->websocket) conn->websocket->Cut();
        conn->socket.shutdown(tcp::socket::shutdown_both, ignored);
        conn->socket.close(ignored);
        conn->deadline.cancel();
      });
    }
    WaitForConnections(steady_clock::now() + kCutWait);
  }

  work_.reset();
  io_context_.stop();
  for (auto& thread : io_threads_) thread.join();
  io_threads_.clear();
  // A handler still running is waited for; queued ones are dropped.
  handler_pool_.stop();
  handler_pool_.join();
}

void Server::Impl::RunUntilSignal() {
  Start();
  asio::io_context signal_context;
  asio::signal_set signals(signal_context, SIGINT, SIGTERM);
  signals.async_wait([](const error_code& ec, int number) {
    if (!ec) spdlog::info("received signal {}, shutting down", number);
  });
  bool wait = false;
  {
    std::lock_guard lock(lifecycle_mu_);
    if (!shutting_down_) {
      signal_context_ = &signal_context;
      wait = true;
    }
  }
  if (wait) {
    signal_context.run();
    std::lock_guard lock(lifecycle_mu_);
    signal_context_ = nullptr;
  }
  Stop();
}

bool Server::Impl::Register(const std::shared_ptr<Connection>& conn, std::uint64_t& id) {
  std::lock_guard lock(connections_mu_);
  if (shutting_down_) return false;
  id = next_connection_id_++;
  connections_.emplace(id, conn);
  return true;
}

void Server::Impl::Unregister(std::uint64_t id) {
  std::lock_guard lock(connections_mu_);
  connections_.erase(id);
  if (connections_.empty()) connections_cv_.notify_all();
}

std::vector<std::shared_ptr<Connection>> Server::Impl::LiveConnections() {
  std::lock_guard lock(connections_mu_);
  std::vector<std::shared_ptr<Connection>> live;
  for (const auto& [id, weak] : connections_) {
    if (auto conn = weak.lock()) live.push_back(std::move(conn));
  }
  return live;
}

bool Server::Impl::WaitForConnections(steady_clock::time_point deadline) {
  std::unique_lock lock(connections_mu_);
  return connections_cv_.wait_until(lock, deadline, [&] { return connections_.empty(); });
}

asio::awaitable<void> Server::Impl::AcceptLoop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(
        asio::any_io_executor(asio::make_strand(io_context_)), kAwaitable);
    if (ec) {
      if (!acceptor_.is_open() || shutting_down_) co_return;
      // Out of file descriptors, for example: back off rather than spin.
      spdlog::warn("accept failed: {}", ec.message());
      asio::steady_timer pause(co_await asio::this_coro::executor, milliseconds(100));
      co_await pause.async_wait(kAwaitable);
      continue;
    }
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto conn = std::make_shared<Connection>(std::move(socket));
    std::uint64_t id = 0;
    if (!Register(conn, id)) {
      conn->socket.close(ignored);
      co_return;
    }
    asio::co_spawn(conn->socket.get_executor(), Serve(conn, id), LogFailure("connection"));
  }
}

asio::awaitable<void> Server::Impl::Serve(std::shared_ptr<Connection> conn, std::uint64_t id) {
  struct Unregisterer {
    Impl* impl;
    std::uint64_t id;
    ~Unregisterer() { impl->Unregister(id); }
  } unregisterer{this, id};

  error_code ec;
  const tcp::endpoint peer = conn->socket.remote_endpoint(ec);
  if (!ec) conn->remote_address = peer.address().to_string();

  Outcome outcome = Outcome::kKeepAlive;
  for (bool first = true; outcome == Outcome::kKeepAlive; first = false) {
    outcome = co_await ServeRequest(conn, first);
  }
  if (outcome == Outcome::kLingerThenClose && conn->socket.is_open()) co_await Linger(conn);
  DisarmDeadline(*conn);
  conn->socket.shutdown(tcp::socket::shutdown_both, ec);
  conn->socket.close(ec);
}

asio::awaitable<Server::Impl::Outcome> Server::Impl::ServeRequest(
    const std::shared_ptr<Connection>& conn, bool first) {
  Connection& c = *conn;
  if (c.buffer.size() == 0) {
    c.idle = true;
    if (shutting_down_) co_return Outcome::kClose;
    // The first request's read_timeout runs from the connect; a follow-up's from its first byte.
    ArmDeadline(conn, first ? options_.read_timeout : options_.idle_timeout);
    auto [ec, n] = co_await c.socket.async_read_some(c.buffer.prepare(kFirstReadBytes), kAwaitable);
    if (ec || c.timed_out) co_return Outcome::kClose;
    c.buffer.commit(n);
    if (!first) ArmDeadline(conn, options_.read_timeout);
  } else {
    ArmDeadline(conn, options_.read_timeout);  // pipelined: already buffered
  }
  c.idle = false;

  Exchange exchange;
  bhttp::request_parser<bhttp::empty_body> head_parser;
  head_parser.header_limit(static_cast<std::uint32_t>(
      std::min<std::size_t>(options_.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
  // The route's limit applies once it is known; Beast would otherwise check its default here.
  head_parser.body_limit(boost::none);
  {
    auto [ec, n] = co_await bhttp::async_read_header(c.socket, c.buffer, head_parser, kAwaitable);
    if (ec || c.timed_out) co_return co_await AnswerReadError(conn, ec, exchange);
  }

  const auto& head = head_parser.get();
  Request request;
  request.method = std::string(head.method_string());
  request.target = std::string(head.target());
  for (const auto& field : head) {
    request.headers.Add(std::string(field.name_string()), std::string(field.value()));
  }
  request.remote_address = c.remote_address;
  const std::string_view incoming_id = head["X-Request-Id"];
  request.request_id = IsValidRequestId(incoming_id) ? std::string(incoming_id) : NewRequestId();
  exchange.request_id = request.request_id;
  exchange.method = request.method;
  exchange.target = request.target;
  exchange.version = head.version();
  exchange.head_only = head.method() == bhttp::verb::head;
  bool keep_alive = head.keep_alive();
  const bool expects_continue =
      head.version() >= 11 && beast::iequals(head[bhttp::field::expect], "100-continue");

  std::optional<std::string> path = PercentDecode(TargetPath(request.target));
  if (!path) {
    co_return co_await AnswerAndClose(
        conn, Response::Error(400, "bad_request", "request path is not valid percent-encoding"),
        exchange, Outcome::kLingerThenClose);
  }
  request.path = std::move(*path);
  request.query = ParseQuery(TargetQuery(request.target));

  Dispatch dispatch;
  try {
    dispatch = resolver_(request);
  } catch (const std::exception& e) {
    spdlog::error("request {}: resolver threw: {}", request.request_id, e.what());
  } catch (...) {
    spdlog::error("request {}: resolver threw a non-standard exception", request.request_id);
  }
  if (!dispatch.handler) {
    co_return co_await AnswerAndClose(conn,
                                      Response::Error(500, "internal", "internal server error"),
                                      exchange, Outcome::kLingerThenClose);
  }
  request.path_params = std::move(dispatch.path_params);

  bhttp::request_parser<bhttp::string_body> parser(std::move(head_parser));
  parser.body_limit(dispatch.body_limit);
  const auto too_large = [&] {
    return Response::Error(413, "payload_too_large",
                           fmt::format("request body exceeds {} bytes", dispatch.body_limit));
  };
  // Refuse a declared oversize body up front, before the client is told to send it.
  if (const auto length = parser.content_length(); length && *length > dispatch.body_limit) {
    co_return co_await AnswerAndClose(conn, too_large(), exchange, Outcome::kLingerThenClose);
  }
  if (!parser.is_done()) {
    if (expects_continue) {
      // Beast leaves the interim response to us; curl waits for it before sending large bodies.
      bhttp::response<bhttp::empty_body> proceed{bhttp::status::continue_, exchange.version};
      auto [ec, n] = co_await bhttp::async_write(c.socket, proceed, kAwaitable);
      if (ec || c.timed_out) co_return Outcome::kClose;
    }
    auto [ec, n] = co_await bhttp::async_read(c.socket, c.buffer, parser, kAwaitable);
    if (ec == bhttp::error::body_limit && !c.timed_out) {
      co_return co_await AnswerAndClose(conn, too_large(), exchange, Outcome::kLingerThenClose);
    }
    if (ec || c.timed_out) co_return co_await AnswerReadError(conn, ec, exchange);
  }
  request.body = std::move(parser.get().body());
  DisarmDeadline(c);

  std::optional<Response> fast;
  if (dispatch.fast_handler) {
    try {
      fast = dispatch.fast_handler(request);
    } catch (const std::exception& e) {
      spdlog::error("request {}: fast handler threw: {}", exchange.request_id, e.what());
    }
  }
  Response response;
  if (fast) {
    response = std::move(*fast);
  } else {
    response = co_await asio::co_spawn(handler_pool_, CallHandlerOnPool(dispatch.handler, request),
                                       asio::use_awaitable);
  }

  if (response.websocket && IsWebSocketUpgrade(request) && !shutting_down_) {
    co_await ServeWebSocket(conn, parser.get(), std::move(response.websocket), exchange);
    co_return Outcome::kClose;
  }
  keep_alive = keep_alive && !shutting_down_;
  if (co_await WriteResponse(conn, std::move(response), exchange, keep_alive) && keep_alive) {
    co_return Outcome::kKeepAlive;
  }
  co_return Outcome::kClose;
}

asio::awaitable<Server::Impl::Outcome> Server::Impl::AnswerReadError(
    const std::shared_ptr<Connection>& conn, const error_code& ec, const Exchange& exchange) {
  // Bytes of this request were read by now: a timeout deserves an answer.
  if (conn->timed_out) {
    co_return co_await AnswerAndClose(
        conn, Response::Error(408, "request_timeout", "request not received in time"), exchange,
        Outcome::kClose);
  }
  if (IsPeerGone(ec)) co_return Outcome::kClose;
  if (ec == bhttp::error::header_limit) {
    co_return co_await AnswerAndClose(
        conn,
        Response::Error(431, "headers_too_large",
                        fmt::format("request head exceeds {} bytes", options_.max_header_bytes)),
        exchange, Outcome::kLingerThenClose);
  }
  if (IsHttpParseError(ec)) {
    co_return co_await AnswerAndClose(conn,
                                      Response::Error(400, "bad_request", "malformed HTTP request"),
                                      exchange, Outcome::kLingerThenClose);
  }
  spdlog::debug("connection from {}: read failed: {}", conn->remote_address, ec.message());
  co_return Outcome::kClose;
}

asio::awaitable<Server::Impl::Outcome> Server::Impl::AnswerAndClose(
    const std::shared_ptr<Connection>& conn, Response response, const Exchange& exchange,
    Outcome outcome) {
  // The deadline may have fired already; the answer gets a fresh one.
  conn->timed_out = false;
  Exchange answered = exchange;
  if (answered.request_id.empty()) answered.request_id = NewRequestId();
  if (!co_await WriteResponse(conn, std::move(response), answered, /*keep_alive=*/false)) {
    co_return Outcome::kClose;
  }
  co_return outcome;
}

asio::awaitable<bool> Server::Impl::WriteResponse(const std::shared_ptr<Connection>& conn,
                                                  Response response, const Exchange& exchange,
                                                  bool keep_alive) {
  if (response.status < 200 || response.status > 599) {
    spdlog::error("request {}: handler returned invalid status {}", exchange.request_id,
                  response.status);
    response = Response::Error(500, "internal", "internal server error");
  }
  bhttp::response_header<> header;
  header.version(exchange.version == 10 ? 10 : 11);
  header.result(static_cast<unsigned>(response.status));
  for (const auto& [name, value] : response.headers.All()) {
    if (!IsToken(name) || HasLineBreakOrNul(value)) {
      spdlog::warn("request {}: dropped response header '{}' with invalid characters",
                   exchange.request_id, name);
      continue;
    }
    // Framing headers are ours to set.
    if (beast::iequals(name, "Content-Length") || beast::iequals(name, "Transfer-Encoding")) {
      continue;
    }
    if (beast::iequals(name, "Connection")) {
      if (HasCloseToken(value)) keep_alive = false;
      continue;
    }
    header.insert(name, value);
  }
  header.set(bhttp::field::server, "replideploy");
  header.set("X-Request-Id", exchange.request_id);
  header.set(bhttp::field::connection, keep_alive ? "keep-alive" : "close");
  const bool has_body = response.status != 204 && response.status != 304;
  std::size_t body_bytes = has_body ? response.BodySize() : 0;
  // Large bodies get more time to drain to a slow client than a request head gets to arrive.
  ArmDeadline(conn, options_.read_timeout + std::chrono::milliseconds(body_bytes / 64));
  error_code ec;
  if (has_body && response.shared_body && !exchange.head_only) {
    bhttp::response<bhttp::buffer_body> message{std::move(header)};
    message.content_length(body_bytes);
    // buffer_body only reads through this pointer.
    message.body().data = const_cast<char*>(response.shared_body->data() + response.shared_offset);
    message.body().size = body_bytes;
    message.body().more = false;
    std::tie(ec, std::ignore) = co_await bhttp::async_write(conn->socket, message, kAwaitable);
  } else {
    bhttp::response<bhttp::string_body> message{std::move(header)};
    if (has_body) {
      message.content_length(body_bytes);
      // HEAD: the length of the body a GET would get, and no body.
      if (!exchange.head_only) message.body() = std::move(response.body);
    }
    std::tie(ec, std::ignore) = co_await bhttp::async_write(conn->socket, message, kAwaitable);
  }
  if (exchange.head_only) body_bytes = 0;
  const bool written = !ec && !conn->timed_out;
  DisarmDeadline(*conn);

  const double ms =
      std::chrono::duration<double, std::milli>(steady_clock::now() - exchange.started).count();
  spdlog::info("{} {} \"{} {}\" {} {} {:.1f}ms{}", exchange.request_id,
               conn->remote_address.empty() ? "-" : conn->remote_address,
               exchange.method.empty() ? "-" : exchange.method,
               exchange.target.empty() ? "-" : exchange.target, response.status, body_bytes, ms,
               written ? "" : " (write failed)");
  co_return written;
}

asio::awaitable<void> Server::Impl::ServeWebSocket(
    const std::shared_ptr<Connection>& conn, const bhttp::request<bhttp::string_body>& handshake,
    std::shared_ptr<WebSocketAccept> accept, const Exchange& exchange) {
  DisarmDeadline(*conn);
  auto session = std::make_shared<WebSocketSession>(std::move(conn->socket));
  conn->websocket = session;
  session->stream().set_option(beast::websocket::stream_base::decorator(
      [protocol = accept->protocol](beast::websocket::response_type& res) {
        res.set(bhttp::field::server, "replideploy");
        if (!protocol.empty()) res.set(bhttp::field::sec_websocket_protocol, protocol);
      }));
  auto [ec] = co_await session->stream().async_accept(handshake, kAwaitable);
  const double ms =
      std::chrono::duration<double, std::milli>(steady_clock::now() - exchange.started).count();
  spdlog::info("{} {} \"{} {}\" {} 0 {:.1f}ms{}", exchange.request_id,
               conn->remote_address.empty() ? "-" : conn->remote_address, exchange.method,
               exchange.target, ec ? 400 : 101, ms, ec ? " (handshake failed)" : "");
  if (ec) {
    session->Cut();
    co_return;
  }
  if (accept->on_open) {
    try {
      accept->on_open(session);
    } catch (const std::exception& e) {
      spdlog::error("request {}: websocket open handler threw: {}", exchange.request_id, e.what());
      session->CloseNow(1011, "internal error");
    }
  }
  co_await session->ReadLoop(accept->on_message);
  session->Cut();
}

asio::awaitable<void> Server::Impl::Linger(const std::shared_ptr<Connection>& conn) {
  Connection& c = *conn;
  c.idle = true;
  error_code ec;
  c.socket.shutdown(tcp::socket::shutdown_send, ec);
  if (ec || shutting_down_) co_return;
  ArmDeadline(conn, std::min(kLingerTime, options_.read_timeout));
  std::size_t discarded = 0;
  while (discarded < kLingerBytes) {
    c.buffer.clear();
    auto [read_ec, n] =
        co_await c.socket.async_read_some(c.buffer.prepare(kLingerChunkBytes), kAwaitable);
    if (read_ec || c.timed_out) break;
    discarded += n;
  }
}

Server::Server(ServerOptions options, Resolver resolver)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(resolver))) {}

Server::~Server() {
  try {
    Stop();
  } catch (const std::exception& e) {
    spdlog::error("server shutdown failed: {}", e.what());
  }
}

Status Server::Listen() { return impl_->Listen(); }

std::uint16_t Server::port() const { return impl_->BoundPort(); }

void Server::Start() { impl_->Start(); }

void Server::Stop() { impl_->Stop(); }

void Server::RunUntilSignal() { impl_->RunUntilSignal(); }

}  // namespace replideploy::http
