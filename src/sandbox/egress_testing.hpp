// For tests of network egress (sandbox/egress.hpp) and of what uses it: a lab of network
// namespaces of the test's own, so nothing a test does leaves the machine or touches the host's
// own network. The calling thread's namespace plays the host (private, link-local and IPv6
// addresses on one interface, a "public" address on a veth); a thread parked in another
// namespace plays the public internet (192.0.2.1, 203.0.113.10, 10.50.0.1). Needs root, ip,
// nsenter, bwrap, slirp4netns and nft: RealTestsUnavailable() says what is missing.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/subprocess.hpp"
#include "sandbox/egress.hpp"

namespace replideploy::sandbox::testing {

inline constexpr const char* kBwrap = "/usr/bin/bwrap";
inline constexpr const char* kIp = "/usr/sbin/ip";
inline constexpr const char* kNsenter = "/usr/bin/nsenter";

inline std::string RealTestsUnavailable() {
  if (geteuid() != 0) return "needs root (slirp4netns and nft join the sandbox's namespace)";
  const EgressOptions defaults;
  for (const std::string& tool : {defaults.slirp4netns_path, defaults.nft_path, std::string(kBwrap),
                                  std::string(kIp), std::string(kNsenter)}) {
    if (access(tool.c_str(), X_OK) != 0) return "needs " + tool;
  }
  return "";
}

#define SKIP_UNLESS_REAL_TESTS_CAN_RUN()                                 \
  do {                                                                   \
    const std::string reason = RealTestsUnavailable();                   \
    if (!reason.empty()) GTEST_SKIP() << "real egress test: " << reason; \
  } while (0)

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    Reset();
    fd_ = std::exchange(other.fd_, -1);
    return *this;
  }
  ~Fd() { Reset(); }
  int get() const { return fd_; }
  void Reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// Runs `body` on a new thread in a fresh network namespace (unshare(CLONE_NEWNET) moves only the
// calling thread; what it forks follows it), so nothing the test does leaves that namespace.
inline void RunInOwnNetns(const std::function<void()>& body) {
  std::thread thread([&] {
    if (unshare(CLONE_NEWNET) != 0) {
      ADD_FAILURE() << "unshare(CLONE_NEWNET): " << std::strerror(errno);
      return;
    }
    body();
  });
  thread.join();
}

inline void Run(const std::vector<std::string>& argv) {
  core::ProcessSpec spec;
  spec.argv = argv;
  spec.merge_stderr = true;
  spec.timeout = std::chrono::seconds(10);
  auto result = core::RunProcess(spec);
  ASSERT_TRUE(result.ok()) << result.error().message;
  std::string joined;
  for (const auto& arg : argv) joined += arg + " ";
  ASSERT_TRUE(result->Succeeded()) << joined << ": " << result->out;
}

// A TCP listener; connections complete in the kernel's backlog, nobody needs to accept them.
inline Fd Listen(const std::string& address, int port) {
  sockaddr_storage storage{};
  socklen_t length = 0;
  const bool v6 = address.find(':') != std::string::npos;
  if (v6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<std::uint16_t>(port));
    inet_pton(AF_INET6, address.c_str(), &in6->sin6_addr);
    length = sizeof *in6;
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(static_cast<std::uint16_t>(port));
    inet_pton(AF_INET, address.c_str(), &in->sin_addr);
    length = sizeof *in;
  }
  Fd fd(socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const int on = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (v6) setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&storage), length) != 0 ||
      listen(fd.get(), 64) != 0) {
    ADD_FAILURE() << "listen on " << address << ":" << port << ": " << std::strerror(errno);
  }
  return fd;
}

inline int PortOf(const Fd& fd) {
  sockaddr_storage storage{};
  socklen_t length = sizeof storage;
  getsockname(fd.get(), reinterpret_cast<sockaddr*>(&storage), &length);
  return ntohs(reinterpret_cast<sockaddr_in*>(&storage)->sin_port);
}

// The machine's first resolver when slirp4netns's DNS forwarder would reach it through the
// test's "internet" (an IPv4 address off loopback), else "".
inline std::string ForwardedResolver() {
  std::ifstream file("/etc/resolv.conf");
  std::string word;
  while (file >> word) {
    if (word != "nameserver" || !(file >> word)) continue;
    in_addr address{};
    if (inet_pton(AF_INET, word.c_str(), &address) != 1) return "";
    return (ntohl(address.s_addr) >> 24) == 127 ? "" : word;
  }
  return "";
}

// A thread parked in a network namespace of its own: the test's public internet, joined to the
// lab by a veth pair. Its listeners are bound to the wildcard address before it has addresses.
class Internet {
 public:
  Internet() {
    std::promise<void> ready;
    auto started = ready.get_future();
    thread_ = std::thread([this, &ready] {
      if (unshare(CLONE_NEWNET) == 0) {
        tid_ = gettid();
        web_ = Listen("0.0.0.0", 0);
        dns_ = Listen("0.0.0.0", 53);
      }
      ready.set_value();
      release_.get_future().wait();
    });
    started.wait();
  }
  ~Internet() {
    release_.set_value();
    thread_.join();
  }
  bool ok() const { return tid_ > 0; }
  pid_t tid() const { return tid_; }
  int web_port() const { return PortOf(web_); }
  // The web listener (for a test that answers its connections).
  int web_fd() const { return web_.get(); }
  // Runs `ip args...` inside this namespace.
  void Ip(std::vector<std::string> args) const {
    std::vector<std::string> argv = {
        kNsenter,
        "--net=/proc/" + std::to_string(getpid()) + "/task/" + std::to_string(tid_) + "/ns/net",
        kIp};
    argv.insert(argv.end(), args.begin(), args.end());
    Run(argv);
  }

 private:
  std::thread thread_;
  std::promise<void> release_;
  pid_t tid_ = -1;
  Fd web_;
  Fd dns_;
};

// The lab: the calling thread's namespace plays the host, with addresses in private,
// link-local and IPv6 ranges on one interface and a "public" address on the veth to the
// internet, which is also its default route.
inline void BuildLab(const Internet& internet, const std::string& resolver) {
  Run({kIp, "link", "set", "lo", "up"});
  Run({kIp, "link", "add", "hv0", "type", "veth", "peer", "name", "hv1"});
  Run({kIp, "link", "set", "hv0", "up"});
  Run({kIp, "link", "set", "hv1", "up"});
  for (const char* address :
       {"10.99.0.1/24", "169.254.169.254/32", "172.16.5.5/32", "192.168.7.7/32", "100.64.3.3/32"}) {
    Run({kIp, "addr", "add", address, "dev", "hv0"});
  }
  Run({kIp, "-6", "addr", "add", "fd99::1/64", "dev", "hv0", "nodad"});
  Run({kIp, "link", "add", "ve0", "type", "veth", "peer", "name", "ve1", "netns",
       std::to_string(internet.tid())});
  internet.Ip({"link", "set", "lo", "up"});
  internet.Ip({"link", "set", "ve1", "up"});
  std::vector<std::string> internet_addresses = {"192.0.2.1/24", "203.0.113.10/32", "10.50.0.1/32"};
  if (!resolver.empty()) internet_addresses.push_back(resolver + "/32");
  for (const std::string& address : internet_addresses) {
    internet.Ip({"addr", "add", address, "dev", "ve1"});
  }
  Run({kIp, "link", "set", "ve0", "up"});
  Run({kIp, "addr", "add", "192.0.2.2/24", "dev", "ve0"});
  Run({kIp, "route", "add", "default", "via", "192.0.2.1"});
}
inline std::set<pid_t> ChildrenOfThisProcess() {
  std::set<pid_t> children;
  const std::string parent_line = "\nPPid:\t" + std::to_string(getpid()) + "\n";
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    std::ifstream status(entry.path() / "status");
    std::stringstream text;
    text << status.rdbuf();
    if (text.str().find(parent_line) != std::string::npos) children.insert(std::stoi(name));
  }
  return children;
}

}  // namespace replideploy::sandbox::testing
