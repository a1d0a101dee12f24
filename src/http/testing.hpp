// For tests of the HTTP server: a raw loopback client. Test-only.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace replideploy::http::testing {

using namespace std::chrono_literals;

// Generous: the machine is shared and runs under sanitizers.
inline constexpr auto kWait = 30s;

inline std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

struct RawResponse {
  int status = 0;
  std::string head;  // status line and headers, lower-cased
  std::string body;

  std::string Header(std::string_view name) const {
    const std::string key = "\r\n" + Lower(name) + ":";
    const std::size_t at = head.find(key);
    if (at == std::string::npos) return "<absent>";
    const std::size_t start = head.find_first_not_of(' ', at + key.size());
    return head.substr(start, head.find("\r\n", start) - start);
  }
};

// A blocking loopback client for what curl will not do: several requests on one connection,
// malformed bytes, reading an interim response. Every read gives up after kWait.
class RawConnection {
 public:
  // `source`: the local address to connect from ("127.0.0.2"); empty: the kernel's choice.
  explicit RawConnection(std::uint16_t port, const std::string& source = "") {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (!source.empty()) {
      sockaddr_in local{};
      local.sin_family = AF_INET;
      ::inet_pton(AF_INET, source.c_str(), &local.sin_addr);
      ::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local);
    }
    timeval timeout{};
    timeout.tv_sec = std::chrono::duration_cast<std::chrono::seconds>(kWait).count();
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~RawConnection() { ::close(fd_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool IsConnected() const { return connected_; }
  int fd() const { return fd_; }

  bool Send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // One response; the body is read by Content-Length unless `head_only`.
  std::optional<RawResponse> ReadResponse(bool head_only = false) {
    std::size_t end = std::string::npos;
    while ((end = pending_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return std::nullopt;
    }
    RawResponse response;
    response.head = Lower(pending_.substr(0, end + 2));
    pending_.erase(0, end + 4);
    if (response.head.size() < 12) return std::nullopt;
    response.status = std::stoi(response.head.substr(9, 3));
    const std::string length = response.Header("Content-Length");
    const std::size_t body_size = (head_only || length == "<absent>") ? 0 : std::stoul(length);
    while (pending_.size() < body_size) {
      if (!Fill()) return std::nullopt;
    }
    response.body = pending_.substr(0, body_size);
    pending_.erase(0, body_size);
    return response;
  }

  // True when the server closed the connection (rather than the read timing out).
  bool ReadsEof() {
    char byte = 0;
    for (;;) {
      const ssize_t n = ::recv(fd_, &byte, 1, 0);
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET;
      pending_.push_back(byte);
    }
  }

  const std::string& Pending() const { return pending_; }

 private:
  bool Fill() {
    char chunk[4096];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    pending_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  std::string pending_;
};

}  // namespace replideploy::http::testing
