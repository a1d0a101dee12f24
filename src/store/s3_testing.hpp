// Test support for the S3 backend: s3rver (tests/s3, from npm) started on 127.0.0.1 port 0,
// and a loopback TCP proxy in front of it that injects failures. Header-only; tests only.
//
// The S3 tests need s3rver installed (tests/s3/install.sh, which ctest's fixture runs). When
// it is missing they fail, unless REPLIDEPLOY_S3_TESTS=off, which skips them with a message.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/testing.hpp"

#ifndef REPLIDEPLOY_SOURCE_DIR
#error "REPLIDEPLOY_SOURCE_DIR must name the checkout (tests/s3 lives there)"
#endif

namespace replideploy::store::testing {

inline bool S3TestsOff() {
  const char* value = std::getenv("REPLIDEPLOY_S3_TESTS");
  return value != nullptr && std::string(value) == "off";
}

inline std::string S3TestsDir() { return std::string(REPLIDEPLOY_SOURCE_DIR) + "/tests/s3"; }

// One s3rver process with one bucket; killed (and its data removed) on destruction.
class S3rver {
 public:
  static constexpr const char* kBucket = "rd-test-bucket";
  static constexpr const char* kAccessKey = "S3RVER";
  static constexpr const char* kSecretKey = "S3RVER";

  S3rver() {
    if (!std::filesystem::exists(S3TestsDir() + "/node_modules/s3rver/package.json")) {
      error_ = "s3rver is not installed: run tests/s3/install.sh (or set REPLIDEPLOY_S3_TESTS=off)";
      return;
    }
    int to_child[2];
    int from_child[2];
    if (::pipe2(to_child, O_CLOEXEC) != 0 || ::pipe2(from_child, O_CLOEXEC) != 0) {
      error_ = "pipe failed";
      return;
    }
    const std::string script = S3TestsDir() + "/server.js";
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(to_child[0], 0);
      ::dup2(from_child[1], 1);
      // s3rver's ListObjectsV2 continuation tokens use DES, which OpenSSL 3 keeps in its
      // legacy provider.
      ::execlp("node", "node", "--openssl-legacy-provider", script.c_str(), data_.path().c_str(),
               kBucket, nullptr);
      ::_exit(127);
    }
    ::close(to_child[0]);
    ::close(from_child[1]);
    stdin_ = to_child[1];
    // Ready when it prints {"port": N}; EOF means it died.
    std::string line;
    char c;
    while (::read(from_child[0], &c, 1) == 1 && c != '\n') line.push_back(c);
    ::close(from_child[0]);
    const auto colon = line.find(':');
    if (colon == std::string::npos) {
      error_ = "s3rver did not start (is node on PATH?)";
      return;
    }
    port_ = std::atoi(line.c_str() + colon + 1);
  }

  ~S3rver() {
    if (stdin_ >= 0) ::close(stdin_);  // the server exits when its stdin closes
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  S3rver(const S3rver&) = delete;
  S3rver& operator=(const S3rver&) = delete;

  bool ok() const { return port_ > 0; }                                                 // NOLINT
  const std::string& error() const { return error_; }                                   // NOLINT
  int port() const { return port_; }                                                    // NOLINT
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }  // NOLINT

 private:
  ScopedTempDir data_;
  pid_t pid_ = -1;
  int stdin_ = -1;
  int port_ = 0;
  std::string error_;
};

// Listens on 127.0.0.1 port 0 and forwards each connection to 127.0.0.1:`upstream_port`, except
// that the next `n` connections after FailNext(n, ...) get a failure instead: an S3 503 SlowDown
// answer, or the connection closed without an answer.
class FaultProxy {
 public:
  enum class Fault { kSlowDown, kInternalError, kDropConnection };

  explicit FaultProxy(int upstream_port) : upstream_port_(upstream_port) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(listen_fd_, 64);
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }

  ~FaultProxy() {
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    accept_thread_.join();
    ::close(listen_fd_);
    {
      std::lock_guard lock(mu_);
      for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : workers_) t.join();
    for (int fd : open_fds_) ::close(fd);
  }

  // Also closes the connections open now, so that the client's next request, on a new
  // connection, meets the first failure. Call between requests.
  void FailNext(int n, Fault fault) {
    std::lock_guard lock(mu_);
    pending_faults_ = n;
    fault_ = fault;
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
  }
  int faults_injected() const { return faults_injected_; }                              // NOLINT
  int port() const { return port_; }                                                    // NOLINT
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }  // NOLINT

 private:
  void AcceptLoop() {
    for (;;) {
      const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) {
        if (stopping_) return;
        continue;
      }
      bool fail = false;
      Fault fault = Fault::kSlowDown;
      {
        std::lock_guard lock(mu_);
        if (pending_faults_ > 0) {
          --pending_faults_;
          fail = true;
          fault = fault_;
        }
        open_fds_.push_back(client);
      }
      if (fail) {
        ++faults_injected_;
        workers_.emplace_back([this, client, fault] { Fail(client, fault); });
      } else {
        workers_.emplace_back([this, client] { Forward(client); });
      }
    }
  }

  // Reads one request (head, and a body of Content-Length bytes) so closing does not reset.
  static void DrainRequest(int fd) {
    std::string head;
    char buffer[65536];
    std::size_t body_left = 0;
    for (;;) {
      const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) return;
      head.append(buffer, static_cast<std::size_t>(n));
      const auto end = head.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      std::string lower = head.substr(0, end);
      for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      const auto cl = lower.find("content-length:");
      const std::size_t length =
          cl == std::string::npos ? 0 : std::strtoull(lower.c_str() + cl + 15, nullptr, 10);
      const std::size_t have = head.size() - end - 4;
      body_left = length > have ? length - have : 0;
      break;
    }
    while (body_left > 0) {
      const ssize_t n = ::recv(fd, buffer, std::min(sizeof buffer, body_left), 0);
      if (n <= 0) return;
      body_left -= static_cast<std::size_t>(n);
    }
  }

  void Fail(int client, Fault fault) {
    DrainRequest(client);
    if (fault != Fault::kDropConnection) {
      const std::string body =
          fault == Fault::kSlowDown
              ? "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>"
                "<Message>Please reduce your request rate.</Message></Error>"
              : "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError</Code>"
                "<Message>We encountered an internal error.</Message></Error>";
      const std::string response =
          std::string(fault == Fault::kSlowDown ? "HTTP/1.1 503 Slow Down\r\n"
                                                : "HTTP/1.1 500 Internal Server Error\r\n") +
          "Content-Type: application/xml\r\nContent-Length: " + std::to_string(body.size()) +
          "\r\nConnection: close\r\n\r\n" + body;
      (void)::send(client, response.data(), response.size(), MSG_NOSIGNAL);
    }
    ::shutdown(client, SHUT_RDWR);
  }

  void Forward(int client) {
    const int upstream = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(upstream_port_));
    if (::connect(upstream, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(upstream);
      ::shutdown(client, SHUT_RDWR);
      return;
    }
    {
      std::lock_guard lock(mu_);
      open_fds_.push_back(upstream);
    }
    auto pump = [](int from, int to) {
      char buffer[65536];
      for (;;) {
        const ssize_t n = ::recv(from, buffer, sizeof buffer, 0);
        if (n <= 0) break;
        if (::send(to, buffer, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) break;
      }
      ::shutdown(to, SHUT_WR);
    };
    std::thread back(pump, upstream, client);
    pump(client, upstream);
    back.join();
  }

  int upstream_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::thread accept_thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> faults_injected_{0};
  std::mutex mu_;
  int pending_faults_ = 0;
  Fault fault_ = Fault::kSlowDown;
  std::vector<int> open_fds_;
  std::vector<std::thread> workers_;  // touched by the accept thread only, until it is joined
};

}  // namespace replideploy::store::testing
