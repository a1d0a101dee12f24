#include "http/client.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

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

// A bare HTTP/1.1 server on 127.0.0.1 that counts the connections it accepts and records the
// bodies it receives. One connection at a time; with `close_after_each`, it closes every
// connection after its first response (without saying so, as an idle timeout does).
class CountingServer {
 public:
  explicit CountingServer(bool close_after_each) : close_after_each_(close_after_each) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Run(); });
  }
  ~CountingServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/upload"; }
  int connections() const { return connections_; }
  std::vector<std::string> bodies() {
    std::lock_guard lock(mu_);
    return bodies_;
  }

 private:
  void Run() {
    for (;;) {
      const int conn = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0) return;
      ++connections_;
      Serve(conn);
      ::close(conn);
    }
  }
  void Serve(int conn) {
    std::string in;
    char buffer[4096];
    for (;;) {
      std::size_t head_end;
      while ((head_end = in.find("\r\n\r\n")) == std::string::npos) {
        const ssize_t n = ::read(conn, buffer, sizeof buffer);
        if (n <= 0) return;
        in.append(buffer, static_cast<std::size_t>(n));
      }
      std::size_t length = 0;
      const std::size_t cl = in.find("Content-Length: ");
      if (cl != std::string::npos && cl < head_end) length = std::stoul(in.substr(cl + 16));
      while (in.size() < head_end + 4 + length) {
        const ssize_t n = ::read(conn, buffer, sizeof buffer);
        if (n <= 0) return;
        in.append(buffer, static_cast<std::size_t>(n));
      }
      {
        std::lock_guard lock(mu_);
        bodies_.push_back(in.substr(head_end + 4, length));
      }
      in.erase(0, head_end + 4 + length);
      const std::string reply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
      if (::write(conn, reply.data(), reply.size()) != static_cast<ssize_t>(reply.size())) return;
      if (close_after_each_) return;
    }
  }

  const bool close_after_each_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<int> connections_{0};
  std::mutex mu_;
  std::vector<std::string> bodies_;
  std::thread thread_;
};

ClientRequest Put(const std::string& url, std::string body) {
  ClientRequest request;
  request.method = "PUT";
  request.url = url;
  request.body = std::move(body);
  request.timeout = kWait;
  return request;
}

TEST(Client, ConnectionIsKeptAliveBetweenRequests) {
  CountingServer server(/*close_after_each=*/false);
  {
    ClientConnection connection;
    for (int i = 0; i < 5; ++i) {
      auto response = connection.Fetch(Put(server.Url(), "file " + std::to_string(i)));
      ASSERT_TRUE(response.ok()) << response.error().message;
      EXPECT_EQ(response->status, 200);
      EXPECT_EQ(response->body, "ok");
    }
    EXPECT_EQ(server.connections(), 1) << "five requests, one connection";
  }  // closed: the server (one connection at a time) takes the next
  // Fetch connects for each request.
  ASSERT_TRUE(Fetch(Put(server.Url(), "a")).ok());
  ASSERT_TRUE(Fetch(Put(server.Url(), "b")).ok());
  EXPECT_EQ(server.connections(), 3);
  EXPECT_EQ(server.bodies(),
            (std::vector<std::string>{"file 0", "file 1", "file 2", "file 3", "file 4", "a", "b"}));
}

TEST(Client, KeptAliveConnectionClosedByTheServerIsReplaced) {
  CountingServer server(/*close_after_each=*/true);
  ClientConnection connection;
  for (int i = 0; i < 3; ++i) {
    auto response = connection.Fetch(Put(server.Url(), "file " + std::to_string(i)));
    ASSERT_TRUE(response.ok()) << response.error().message;
    EXPECT_EQ(response->body, "ok");
  }
  EXPECT_EQ(server.connections(), 3);
  EXPECT_EQ(server.bodies(), (std::vector<std::string>{"file 0", "file 1", "file 2"}));
}

}  // namespace
}  // namespace replideploy::http
