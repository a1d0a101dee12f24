#include "http/client.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "http/server.hpp"

namespace replideploy::http {
namespace {

using namespace std::chrono_literals;

// Generous: the machine is shared and runs under sanitizers.
constexpr auto kWait = 30s;

TEST(Client, RefusedConnectionIsUnavailable) {
  // Learn a free port by listening on it, then stop listening.
  std::uint16_t port = 0;
  {
    ServerOptions options;
    options.port = 0;
    Server server(options, [](const Request&) { return Dispatch{}; });
    ASSERT_TRUE(server.Listen().ok());
    port = server.port();
  }
  ClientRequest request;
  request.url = "http://127.0.0.1:" + std::to_string(port) + "/";
  request.timeout = kWait;
  auto response = Fetch(request);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, ErrorCode::kUnavailable);
  EXPECT_FALSE(response.error().message.empty());
}

}  // namespace
}  // namespace replideploy::http
