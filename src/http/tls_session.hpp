// One connection on the HTTPS listener: the TLS handshake (certificate by SNI), then HTTP/2
// when ALPN chose "h2" (h2_session.hpp), else HTTP/1.1 (HttpSession over TLS). Private to
// src/http/.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <memory>

#include "http/server.hpp"
#include "http/server_internal.hpp"

namespace replideploy::http::server_internal {

// Serves the connection registered as `id` and unregisters it when done (as ServeConnection
// does). A client that fails the handshake (garbage, an old protocol version, a name no
// certificate covers) is closed without an answer. Runs on the connection's strand; `context`
// and `tls` outlive it.
asio::awaitable<void> ServeTlsConnection(const SessionContext& context,
                                         std::shared_ptr<Connection> conn, std::uint64_t id,
                                         const TlsListenerOptions& tls);

}  // namespace replideploy::http::server_internal
