#include "http/listener.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <future>
#include <string>
#include <string_view>

#include "http/http_session.hpp"
#include "http/tls_session.hpp"

namespace replideploy::http::server_internal {

namespace {

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

// The peer's IP in one canonical text form (IPv4-mapped IPv6 as IPv4); "" when unknown.
std::string PeerAddress(const tcp::socket& socket) {
  error_code ec;
  const tcp::endpoint peer = socket.remote_endpoint(ec);
  if (ec) return "";
  const asio::ip::address address = peer.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).to_string();
  }
  return address.to_string();
}

// Connections being refused at once: past this many, more are closed without an answer, so a
// flood costs no more than this.
constexpr int kMaxRefusing = 256;

}  // namespace

void Listener::Refuse(std::shared_ptr<Connection> conn, Response answer) {
  if (refusing_.fetch_add(1) >= kMaxRefusing) {
    refusing_.fetch_sub(1);
    error_code ignored;
    conn->socket.close(ignored);
    return;
  }
  answer.headers.Set("Retry-After", "1");
  auto executor = conn->socket.get_executor();
  asio::co_spawn(executor, RefuseConnection(sessions_, std::move(conn), std::move(answer)),
                 [this](const std::exception_ptr& e) {
                   refusing_.fetch_sub(1);
                   LogFailure("refused connection")(e);
                 });
}

Listener::Listener(IoContexts& io_contexts, const SessionContext& sessions, std::string host,
                   std::uint16_t port, const TlsListenerOptions* tls)
    : io_contexts_(io_contexts),
      io_context_(io_contexts.first()),
      sessions_(sessions),
      host_(std::move(host)),
      wanted_port_(port),
      tls_(tls),
      strand_(asio::make_strand(io_context_)),
      acceptor_(io_context_) {}

Result<tcp::endpoint> Listener::ResolveEndpoint() {
  error_code ec;
  const asio::ip::address address = asio::ip::make_address(host_, ec);
  if (!ec) return tcp::endpoint(address, wanted_port_);
  if (!IsHostName(host_)) {
    return MakeError(ErrorCode::kUnavailable, "not an IP address or host name");
  }
  tcp::resolver resolver(io_context_);
  const auto results =
      resolver.resolve(host_, std::to_string(wanted_port_), tcp::resolver::passive, ec);
  if (ec) return MakeError(ErrorCode::kUnavailable, ec.message());
  if (results.empty()) return MakeError(ErrorCode::kUnavailable, "host has no address");
  return results.begin()->endpoint();
}

Status Listener::Listen() {
  const std::string where = HostPort(host_, wanted_port_);
  const auto fail = [&](std::string_view why) -> Status {
    error_code ignored;
    acceptor_.close(ignored);
    return MakeError(ErrorCode::kUnavailable, fmt::format("cannot listen on {}: {}", where, why));
  };
  if (acceptor_.is_open()) return MakeError(ErrorCode::kInternal, "server is already listening");

  const Result<tcp::endpoint> endpoint = ResolveEndpoint();
  if (!endpoint.ok()) return fail(endpoint.error().message);
  error_code ec;
  if (acceptor_.open(endpoint->protocol(), ec); ec) return fail(ec.message());
  if (acceptor_.set_option(asio::socket_base::reuse_address(true), ec); ec) {
    return fail(ec.message());
  }
  if (acceptor_.bind(*endpoint, ec); ec) return fail(ec.message());
  if (acceptor_.listen(asio::socket_base::max_listen_connections, ec); ec) {
    return fail(ec.message());
  }
  const tcp::endpoint bound = acceptor_.local_endpoint(ec);
  if (ec) return fail(ec.message());
  port_ = bound.port();
  spdlog::info("listening on {}{}", HostPort(bound.address().to_string(), bound.port()),
               tls_ != nullptr ? " (HTTPS)" : "");
  return {};
}

void Listener::Start() {
  if (acceptor_.is_open()) asio::co_spawn(strand_, AcceptLoop(), LogFailure("accept loop"));
}

void Listener::Close() {
  // The acceptor belongs to the accept loop's strand.
  std::promise<void> closed;
  asio::post(strand_, [this, &closed] {
    error_code ignored;
    acceptor_.close(ignored);
    closed.set_value();
  });
  closed.get_future().wait();
}

void Listener::CloseUnstarted() {
  error_code ignored;
  acceptor_.close(ignored);
}

asio::awaitable<void> Listener::AcceptLoop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(io_contexts_.Next(), kAwaitable);
    if (ec) {
      if (!acceptor_.is_open() || sessions_.shutting_down) co_return;
      // Out of file descriptors, for example: back off rather than spin.
      spdlog::warn("accept failed: {}", ec.message());
      asio::steady_timer pause(co_await asio::this_coro::executor, milliseconds(100));
      co_await pause.async_wait(kAwaitable);
      continue;
    }
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto conn = std::make_shared<Connection>(std::move(socket));
    conn->remote_address = PeerAddress(conn->socket);
    std::uint64_t id = 0;
    switch (sessions_.connections.Register(conn, id)) {
      case ConnectionRegistry::Admission::kAdmitted:
        if (tls_ != nullptr) {
          asio::co_spawn(conn->socket.get_executor(),
                         ServeTlsConnection(sessions_, conn, id, *tls_),
                         LogFailure("TLS connection"));
        } else {
          asio::co_spawn(conn->socket.get_executor(), ServeConnection(sessions_, conn, id),
                         LogFailure("connection"));
        }
        break;
      case ConnectionRegistry::Admission::kShuttingDown:
        conn->socket.close(ignored);
        co_return;
      case ConnectionRegistry::Admission::kServerFull:
        Refuse(std::move(conn),
               Response::Error(503, "server_busy",
                               "the server has too many open connections; retry shortly"));
        break;
      case ConnectionRegistry::Admission::kClientFull:
        Refuse(std::move(conn),
               Response::Error(429, "too_many_connections",
                               fmt::format("too many open connections from your address (at "
                                           "most {}); close some and retry",
                                           sessions_.options.max_connections_per_client)));
        break;
    }
  }
}

}  // namespace replideploy::http::server_internal
