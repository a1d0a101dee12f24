// HTTP/1.1 server on Boost.Beast with C++20 coroutines. One coroutine per connection, a timeout
// before every read (the head's apart from the body's), a body limit on every request (chosen
// per route after the headers are read), keep-alive, request ids, one access-log line per
// request, a cap on connections in total and per client address. Handlers run on blocking
// thread pools, never on the I/O threads: one each for the API, the edge and slow work (see
// Pool), so that none can starve the others.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/metrics.hpp"
#include "core/net.hpp"
#include "core/result.hpp"
#include "http/message.hpp"
#include "http/router.hpp"
#include "http/tls.hpp"

namespace replideploy::http {

// What the server needs to know after reading a request's head (method, target, headers;
// body still unread): which handler runs it and how large its body may be.
struct Dispatch {
  Handler handler;  // must be set
  std::size_t body_limit = kDefaultBodyLimit;
  std::map<std::string, std::string> path_params;
  // The pool `handler` runs on.
  Pool pool = Pool::kApi;
  // Optional fast path, tried first on the I/O thread once the body is read: it answers from
  // memory without blocking, or returns nullopt to let `handler` run on the pool. It must not
  // throw.
  std::function<std::optional<Response>(Request&)> fast_handler;
  // Where the request is counted (status class, latency) once answered; null: in
  // ServerOptions::request_metrics, or nowhere. Must outlive the server.
  core::metrics::RequestMetrics* metrics = nullptr;
};
// Called on an I/O thread with the body still empty: must be quick and must not block. It may
// run on several I/O threads at once.
using Resolver = std::function<Dispatch(const Request& head)>;

// The HTTPS listener, beside the plain one: TLS with the certificate chosen by SNI from
// `certificates`, then HTTP/2 when ALPN picked "h2", else HTTP/1.1. Requests go to the same
// resolver, with Request::secure set.
struct TlsListenerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8443;                       // 0 picks a free port; see Server::tls_port()
  std::shared_ptr<CertificateStore> certificates;  // must be set
  // From the connection to the end of the TLS handshake.
  std::chrono::milliseconds handshake_timeout{10'000};
  // HTTP/2: streams open at once per connection (SETTINGS_MAX_CONCURRENT_STREAMS).
  std::uint32_t h2_max_concurrent_streams = 100;
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;  // 0 picks a free port; see Server::port()
  int io_threads = 2;
  int handler_threads = 8;  // Pool::kApi
  int edge_threads = 8;     // Pool::kEdge
  int slow_threads = 8;     // Pool::kSlow
  // From the connection (or a follow-up request's first byte) to the end of the request head:
  // a client that sends its head slowly (slowloris) is answered 408 and closed.
  std::chrono::milliseconds header_timeout{15'000};
  // The body, once the head is in; and, while an answer is written, the longest the client may
  // take nothing of it.
  std::chrono::milliseconds read_timeout{30'000};
  std::chrono::milliseconds idle_timeout{75'000};    // keep-alive wait for the next request
  std::chrono::milliseconds shutdown_grace{10'000};  // drain deadline on Stop()
  std::size_t max_header_bytes = std::size_t{16} * 1024;
  // Connections open at once (WebSockets included). One more is answered 503 with Retry-After
  // and closed without reading its request.
  std::size_t max_connections = 4096;
  // Connections open at once from one peer address (the socket's: a connection is counted before
  // any header is read). One more is answered 429 and closed. Peers in
  // `connection_limit_exempt` (trusted reverse proxies, which carry many clients) count only
  // towards max_connections.
  std::size_t max_connections_per_client = 256;
  std::vector<core::Cidr> connection_limit_exempt;
  // Requests whose Dispatch names no metrics are counted here (null: not counted).
  core::metrics::RequestMetrics* request_metrics = nullptr;
  // Set: also listen for HTTPS. The limits above apply to both listeners together.
  std::optional<TlsListenerOptions> tls;
};

class Server {
 public:
  Server(ServerOptions options, Resolver resolver);
  ~Server();  // calls Stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens (both listeners when options.tls is set). Fails with a one-line message
  // ("cannot listen on 127.0.0.1:8080: Address already in use") without throwing.
  Status Listen();
  // The bound port (useful with port 0). Valid after Listen().
  std::uint16_t port() const;
  // The HTTPS listener's bound port; 0 without one.
  std::uint16_t tls_port() const;
  // Starts the I/O threads and accepting (after a successful Listen()); returns immediately.
  void Start();
  // Stops accepting, lets in-flight requests finish (answers go out with Connection: close),
  // closes idle connections, and waits up to shutdown_grace before cutting the rest.
  // Idempotent and thread-safe; returns when every thread has joined, so a handler still
  // running after the grace period is waited for. Never call it from a handler or an I/O
  // thread: it joins them.
  void Stop();
  // Start()s if needed, blocks until SIGINT or SIGTERM arrives (or another thread calls
  // Stop()), then Stop()s.
  void RunUntilSignal();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace replideploy::http
