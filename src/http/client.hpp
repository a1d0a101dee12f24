// Blocking HTTP client on libcurl, for outside APIs (GitHub, ACME), the CLI, and tests.
// Thread-safe: each call uses its own curl handle.
#pragma once

#include <chrono>
#include <string>

#include "core/result.hpp"
#include "http/message.hpp"

namespace replideploy::http {

struct ClientRequest {
  std::string method = "GET";
  std::string url;
  // A "Host" header here overrides the URL's host on the wire; an empty value suppresses a
  // header the client would add on its own (e.g. "Expect" for large bodies).
  Headers headers;
  std::string body;
  std::chrono::milliseconds timeout{30'000};
  // "host:port:address": connect to that address for host:port instead of resolving it (so a
  // caller that vetted the address is not fooled by DNS changing in between). Empty: resolve.
  std::string connect_to;
  // A larger response body fails the call (kUnavailable). 0: no limit.
  std::size_t max_response_bytes = 0;
};

struct ClientResponse {
  int status = 0;
  Headers headers;
  std::string body;
};

// Transport failures (refused, timeout, DNS) are kUnavailable with curl's message. Any HTTP
// status, 4xx and 5xx included, is a successful Result.
Result<ClientResponse> Fetch(const ClientRequest& request);

// Fetch over kept-alive connections: requests to the same server reuse an open connection
// (HTTP/1.1 keep-alive) instead of connecting for each. Not thread-safe: one per thread.
class ClientConnection {
 public:
  ClientConnection();
  ~ClientConnection();
  ClientConnection(const ClientConnection&) = delete;
  ClientConnection& operator=(const ClientConnection&) = delete;

  Result<ClientResponse> Fetch(const ClientRequest& request);

 private:
  void* handle_ = nullptr;  // CURL*
};

}  // namespace replideploy::http
