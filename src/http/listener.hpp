// The server's accept side: binds the listening socket and accepts connections, each on one I/O
// thread's io_context (round robin) with an HTTP session of its own. Private to src/http/.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "core/result.hpp"
#include "http/server_internal.hpp"

namespace replideploy::http::server_internal {

// Not thread-safe except BoundPort(): the server calls Listen(), Start() and Close() in turn.
class Listener {
 public:
  // All must outlive the listener. With `tls` set, connections are served by
  // ServeTlsConnection (tls_session.hpp) with its certificates.
  // The acceptor lives on io_contexts.first(); each connection on io_contexts.Next().
  Listener(IoContexts& io_contexts, const SessionContext& sessions, std::string host,
           std::uint16_t port, const TlsListenerOptions* tls = nullptr);

  // Resolves options.host (an IP address or a host name) and binds and listens on it. Fails with
  // a one-line message ("cannot listen on 127.0.0.1:8080: Address already in use").
  Status Listen();
  // The bound port; 0 before a successful Listen(). Thread-safe.
  std::uint16_t BoundPort() const { return port_.load(); }
  // Starts the accept loop (when Listen() succeeded). Each accepted connection is registered with
  // sessions.connections and served by ServeConnection; once registration fails (shutting down)
  // the loop ends.
  void Start();
  // Closes the acceptor on the accept loop's strand and returns once it is closed, so that no
  // connection is accepted afterwards. Needs the io_context running (after Start()).
  void Close();
  // Closes the acceptor from the calling thread: for a server that never started.
  void CloseUnstarted();

 private:
  asio::awaitable<void> AcceptLoop();
  // Answers a connection over a limit with `answer` (and Retry-After) and closes it, without
  // reading its request.
  void Refuse(std::shared_ptr<Connection> conn, Response answer);
  // Resolves the configured host and port; the error is why it cannot be listened on.
  Result<tcp::endpoint> ResolveEndpoint();

  IoContexts& io_contexts_;
  asio::io_context& io_context_;  // io_contexts_.first()
  const SessionContext& sessions_;
  const std::string host_;
  const std::uint16_t wanted_port_;
  const TlsListenerOptions* const tls_;
  std::atomic<std::uint16_t> port_{0};
  std::atomic<int> refusing_{0};
  asio::strand<asio::io_context::executor_type> strand_;
  tcp::acceptor acceptor_;
};

}  // namespace replideploy::http::server_internal
