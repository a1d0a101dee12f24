// For tests: the real Pebble (Debian's /usr/bin/pebble) as the ACME CA, a real Knot (knotd) as
// the authoritative DNS server Pebble resolves through and the RFC 2136 target, and a small
// HTTP-01 responder. All on 127.0.0.1 with free ports, stopped by their destructors.
//
// Names under kZone ("acme.test.") resolve to 127.0.0.1 (a wildcard A record), so Pebble's
// HTTP-01 validation connects to 127.0.0.1:<Pebble's httpPort>, where HttpResponder listens.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/child_process.hpp"
#include "core/crypto.hpp"
#include "core/subprocess.hpp"
#include "core/testing.hpp"

namespace replideploy::domains::testing {

inline constexpr const char* kZone = "acme.test";
inline constexpr const char* kTsigName = "acme-key";

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "rd-acme-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data()) != nullptr ? tmpl : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A port free on 127.0.0.1 for both TCP and UDP at the time of the call.
inline int FreePort() {
  for (int tries = 0; tries < 50; ++tries) {
    int tcp = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    ::bind(tcp, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::getsockname(tcp, reinterpret_cast<sockaddr*>(&addr), &len);
    int udp = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    const bool udp_free = ::bind(udp, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(udp);
    ::close(tcp);
    if (udp_free) return ntohs(addr.sin_port);
  }
  return 0;
}

inline bool TcpAccepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// A program running in the background, its output in `log_path`; SIGTERM and reaped on
// destruction.
class BackgroundProcess {
 public:
  BackgroundProcess(std::vector<std::string> argv, std::vector<std::string> extra_env,
                    const std::string& log_path) {
    int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    core::SpawnSpec spec;
    spec.argv = std::move(argv);
    for (char** e = environ; *e != nullptr; ++e) spec.env.emplace_back(*e);
    for (auto& e : extra_env) spec.env.push_back(std::move(e));
    spec.fds = {{log, 1}, {log, 2}};
    spec.die_with_parent = true;
    spec.new_session = true;
    auto pid = core::SpawnChild(spec);
    ::close(log);
    if (pid.ok()) pid_ = *pid;
  }
  ~BackgroundProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      core::ReapChild(pid_);
    }
  }
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;
  bool started() const { return pid_ > 0; }

 private:
  pid_t pid_ = -1;
};

// Runs a command to completion; its stdout, or "" on failure.
inline std::string Run(std::vector<std::string> argv, std::string* err = nullptr) {
  core::ProcessSpec spec;
  spec.argv = std::move(argv);
  spec.timeout = std::chrono::seconds(60);
  auto r = core::RunProcess(spec);
  if (!r.ok()) return "";
  if (err != nullptr) *err = r->err;
  return r->Succeeded() ? r->out : "";
}

struct PebbleSettings {
  int nonce_reject_percent = 0;  // PEBBLE_WFE_NONCEREJECT
  int validity_seconds = 0;      // certificateValidityPeriod; 0: Pebble's default
  bool always_valid = false;     // PEBBLE_VA_ALWAYS_VALID
};

// Pebble with its API on https://127.0.0.1:<port>/dir (a TLS certificate made here, trusted
// through ca_bundle()), validating HTTP-01 at <name>:http_port and resolving through
// 127.0.0.1:dns_port.
class Pebble {
 public:
  Pebble(int http_port, int dns_port, PebbleSettings settings = {}) {
    const std::string cert = dir_.path() + "/tls.pem";
    const std::string key = dir_.path() + "/tls.key";
    std::string err;
    Run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-days", "2", "-keyout", key, "-out", cert},
        &err);
    if (!std::filesystem::exists(cert)) {
      error_ = "openssl req failed: " + err;
      return;
    }
    port_ = FreePort();
    management_port_ = FreePort();
    std::string config = R"({"pebble":{"listenAddress":"127.0.0.1:)" + std::to_string(port_) +
                         R"(","managementListenAddress":"127.0.0.1:)" +
                         std::to_string(management_port_) + R"(","certificate":")" + cert +
                         R"(","privateKey":")" + key + R"(","httpPort":)" +
                         std::to_string(http_port) + R"(,"tlsPort":)" + std::to_string(FreePort()) +
                         R"(,"ocspResponderURL":"","externalAccountBindingRequired":false)";
    if (settings.validity_seconds > 0) {
      config += R"(,"certificateValidityPeriod":)" + std::to_string(settings.validity_seconds);
    }
    config += "}}";
    WriteFile(dir_.path() + "/pebble.json", config);
    std::vector<std::string> env = {
        "PEBBLE_VA_NOSLEEP=1",
        "PEBBLE_AUTHZREUSE=0",
        "PEBBLE_WFE_NONCEREJECT=" + std::to_string(settings.nonce_reject_percent),
    };
    if (settings.always_valid) env.emplace_back("PEBBLE_VA_ALWAYS_VALID=1");
    process_.emplace(
        std::vector<std::string>{"/usr/bin/pebble", "-config", dir_.path() + "/pebble.json",
                                 "-dnsserver", "127.0.0.1:" + std::to_string(dns_port)},
        env, dir_.path() + "/pebble.log");
    if (!process_->started() || !core::testing::WaitUntil([&] {
          return TcpAccepts(port_) && TcpAccepts(management_port_);
        })) {
      error_ = "pebble did not start: " + ReadFile(dir_.path() + "/pebble.log");
      port_ = 0;
    }
  }

  bool ok() const { return port_ > 0; }
  const std::string& error() const { return error_; }
  std::string directory_url() const {
    return "https://127.0.0.1:" + std::to_string(port_) + "/dir";
  }
  std::string ca_bundle() const { return dir_.path() + "/tls.pem"; }
  std::string log() const { return ReadFile(dir_.path() + "/pebble.log"); }
  // The root that signs the issued chains (management API /roots/0), PEM.
  std::string RootPem() const {
    return Run({"curl", "-sS", "--fail", "--cacert", ca_bundle(),
                "https://127.0.0.1:" + std::to_string(management_port_) + "/roots/0"});
  }
  const std::string& dir() const { return dir_.path(); }

 private:
  TempDir dir_;
  int port_ = 0;
  int management_port_ = 0;
  std::string error_;
  std::optional<BackgroundProcess> process_;
};

// Knot serving kZone on 127.0.0.1:port(), accepting RFC 2136 updates signed with TSIG
// kTsigName (hmac-sha256, tsig_secret()).
class Knot {
 public:
  Knot() {
    secret_ = core::Base64Encode(core::RandomBytes(32));
    port_ = FreePort();
    const std::string d = dir_.path();
    std::filesystem::create_directories(d + "/zones");
    std::filesystem::create_directories(d + "/run");
    std::filesystem::create_directories(d + "/db");  // the journal; updates fail without it
    WriteFile(d + "/zones/" + std::string(kZone) + ".zone",
              "$ORIGIN " + std::string(kZone) +
                  ".\n$TTL 60\n"
                  "@ SOA ns hostmaster 1 3600 600 86400 60\n"
                  "@ NS ns\n"
                  "ns A 127.0.0.1\n"
                  "@ A 127.0.0.1\n"
                  "* A 127.0.0.1\n");
    WriteFile(d + "/knot.conf",
              "server:\n  rundir: \"" + d + "/run\"\n  listen: 127.0.0.1@" + std::to_string(port_) +
                  "\n"
                  "database:\n  storage: \"" +
                  d +
                  "/db\"\n"
                  "log:\n  - target: stderr\n    any: info\n"
                  "key:\n  - id: " +
                  kTsigName + "\n    algorithm: hmac-sha256\n    secret: " + secret_ +
                  "\n"
                  "acl:\n  - id: update\n    key: " +
                  kTsigName +
                  "\n    action: update\n"
                  "template:\n  - id: default\n    storage: \"" +
                  d +
                  "/zones\"\n    file: \"%s.zone\"\n    zonefile-sync: -1\n"
                  "zone:\n  - domain: " +
                  kZone + "\n    acl: update\n");
    process_.emplace(std::vector<std::string>{"/usr/sbin/knotd", "-c", d + "/knot.conf"},
                     std::vector<std::string>{}, d + "/knot.log");
    if (!process_->started() || !core::testing::WaitUntil([&] { return Answers(); })) {
      error_ = "knotd did not start: " + ReadFile(d + "/knot.log");
      port_ = 0;
    }
  }
  bool ok() const { return port_ > 0; }
  const std::string& error() const { return error_; }
  int port() const { return port_; }
  const std::string& tsig_secret() const { return secret_; }
  std::string tsig_spec() const { return std::string(kTsigName) + ":hmac-sha256:" + secret_; }
  // TXT strings at `name` (kdig +short), one per line.
  std::string Txt(const std::string& name) const {
    return Run({"kdig", "@127.0.0.1", "-p", std::to_string(port_), "+short", "TXT", name});
  }

 private:
  bool Answers() const {
    return !Run({"kdig", "@127.0.0.1", "-p", std::to_string(port_), "+short", "+timeout=1", "SOA",
                 kZone})
                .empty();
  }
  TempDir dir_;
  int port_ = 0;
  std::string secret_;
  std::string error_;
  std::optional<BackgroundProcess> process_;
};

// A plain HTTP/1.1 server on 127.0.0.1:port(): `answer` gets each request (head and body as
// read) and returns the whole response. One connection at a time, closed after each answer.
class RawHttpServer {
 public:
  explicit RawHttpServer(std::function<std::string(const std::string&)> answer)
      : answer_(std::move(answer)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(fd_, 16);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~RawHttpServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  RawHttpServer(const RawHttpServer&) = delete;
  RawHttpServer& operator=(const RawHttpServer&) = delete;
  int port() const { return port_; }
  int requests() const { return requests_; }

  static std::string Response(int status, const std::string& body,
                              const std::string& extra_headers = "") {
    return "HTTP/1.1 " + std::to_string(status) +
           " X\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n" +
           extra_headers + "\r\n" + body;
  }

 private:
  void Serve() {
    while (!stop_) {
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) {
        if (stop_) return;
        continue;
      }
      timeval tv{5, 0};
      ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      std::string request;
      char buf[4096];
      for (;;) {
        const auto end = request.find("\r\n\r\n");
        if (end != std::string::npos) {
          std::size_t length = 0;
          const auto cl = request.find("Content-Length: ");
          if (cl != std::string::npos && cl < end) length = std::stoul(request.substr(cl + 16));
          if (request.size() >= end + 4 + length) break;
        }
        if (request.size() > (1 << 20)) break;
        const ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0) break;
        request.append(buf, static_cast<std::size_t>(n));
      }
      ++requests_;
      const std::string response = answer_(request);
      [[maybe_unused]] const ssize_t w = ::write(c, response.data(), response.size());
      ::close(c);
    }
  }
  std::function<std::string(const std::string&)> answer_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

// Answers GET /.well-known/acme-challenge/<token> with lookup(token) (404 when nullopt).
class HttpResponder {
 public:
  explicit HttpResponder(std::function<std::optional<std::string>(const std::string&)> lookup)
      : lookup_(std::move(lookup)), server_([this](const std::string& r) { return Answer(r); }) {}
  int port() const { return server_.port(); }
  int requests() const { return server_.requests(); }

 private:
  std::string Answer(const std::string& request) {
    const std::string prefix = "GET /.well-known/acme-challenge/";
    std::optional<std::string> answer;
    if (request.rfind(prefix, 0) == 0) {
      const auto end = request.find(' ', prefix.size());
      if (end != std::string::npos) {
        answer = lookup_(request.substr(prefix.size(), end - prefix.size()));
      }
    }
    return answer ? RawHttpServer::Response(200, *answer)
                  : RawHttpServer::Response(404, "not found");
  }
  std::function<std::optional<std::string>(const std::string&)> lookup_;
  RawHttpServer server_;
};

// `openssl verify` of the chain's leaf against `root_pem`, the rest of the chain untrusted.
// "" when it verifies, else OpenSSL's complaint.
inline std::string VerifyChain(const std::string& chain_pem, const std::string& root_pem) {
  TempDir dir;
  const std::string chain = dir.path() + "/chain.pem";
  const std::string root = dir.path() + "/root.pem";
  WriteFile(chain, chain_pem);
  WriteFile(root, root_pem);
  core::ProcessSpec spec;
  spec.argv = {"openssl", "verify", "-CAfile", root, "-untrusted", chain, chain};
  spec.merge_stderr = true;
  auto r = core::RunProcess(spec);
  if (!r.ok()) return r.error().message;
  return r->Succeeded() && r->out.find(": OK") != std::string::npos ? "" : r->out;
}

}  // namespace replideploy::domains::testing
