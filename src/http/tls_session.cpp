#include "http/tls_session.hpp"

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <string_view>

#include "http/h2_session.hpp"
#include "http/http_session.hpp"
#include "http/tls_internal.hpp"

namespace replideploy::http::server_internal {

namespace {

// The protocol ALPN settled on; empty when the client offered none we speak.
std::string_view NegotiatedProtocol(TlsStream& stream) {
  const unsigned char* data = nullptr;
  unsigned int length = 0;
  SSL_get0_alpn_selected(stream.native_handle(), &data, &length);
  return data == nullptr ? std::string_view{}
                         : std::string_view(reinterpret_cast<const char*>(data), length);
}

}  // namespace

asio::awaitable<void> ServeTlsConnection(const SessionContext& context,
                                         std::shared_ptr<Connection> conn, std::uint64_t id,
                                         const TlsListenerOptions& tls) {
  struct Unregisterer {
    ConnectionRegistry& connections;
    std::uint64_t id;
    ~Unregisterer() { connections.Unregister(id); }
  } unregisterer{context.connections, id};

  TlsStream stream(conn->socket, tls_internal::HandshakeContext(*tls.certificates));
  conn->idle = false;
  ArmDeadline(conn, tls.handshake_timeout);
  auto [ec] = co_await stream.async_handshake(TlsStream::server, kAwaitable);
  DisarmDeadline(*conn);
  // Shutting down by now: the sessions below close at once (HTTP/2 with a GOAWAY).
  if (ec || conn->timed_out) {
    if (ec) spdlog::debug("TLS handshake from {} failed: {}", conn->remote_address, ec.message());
    error_code ignored;
    StopDeadline(*conn);
    conn->socket.shutdown(tcp::socket::shutdown_both, ignored);
    conn->socket.close(ignored);
    co_return;
  }
  if (NegotiatedProtocol(stream) == "h2") {
    H2Session session(context, conn, stream, tls);
    co_await session.Run();
    co_return;
  }
  HttpSession<TlsStream> session(context, std::move(conn), stream);
  co_await session.Run();
}

}  // namespace replideploy::http::server_internal
