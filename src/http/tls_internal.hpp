// The OpenSSL side of CertificateStore, for the HTTPS listener. Private to src/http/.
#pragma once

#include <boost/asio/ssl/context.hpp>

#include "http/tls.hpp"

namespace replideploy::http::tls_internal {

// The context every TLS connection starts with: protocol versions, ciphers, ticket keys and
// ALPN, and an SNI callback that switches the connection to the certificate's own context. It
// lives as long as the store.
boost::asio::ssl::context& HandshakeContext(CertificateStore& store);

}  // namespace replideploy::http::tls_internal
