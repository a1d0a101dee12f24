// Proxy rules: `/api/* https://backend.example.com/:splat 200` forwards the request there (one
// hop, no redirects followed, with a timeout) and relays the answer. Unless allowed, targets
// that resolve to loopback, link-local, private or otherwise non-public addresses are refused
// (502), and the connection goes to the address that was checked (no DNS rebinding).
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "http/message.hpp"

namespace replideploy::edge {

struct ProxyOptions {
  bool allow_private = false;
  std::chrono::milliseconds timeout{15'000};
  std::size_t max_response_bytes = 64 << 20;
};

http::Response ProxyRequest(const http::Request& request, const std::string& url,
                            const std::vector<std::pair<std::string, std::string>>& headers,
                            const ProxyOptions& options);

}  // namespace replideploy::edge
