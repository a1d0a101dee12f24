#include "domains/knot_testing.hpp"

#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/child_process.hpp"
#include "core/unique_fd.hpp"
#include "domains/dns_resolver.hpp"

namespace replideploy::domains::testing {

namespace fs = std::filesystem;

namespace {

// A port free for both UDP and TCP on 127.0.0.1 (knotd takes a port number, not port 0).
Result<int> FreePort() {
  for (int attempt = 0; attempt < 20; ++attempt) {
    core::UniqueFd udp(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(udp.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(udp.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      continue;
    }
    core::UniqueFd tcp(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (::bind(tcp.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) continue;
    return ntohs(addr.sin_port);
  }
  return MakeError(ErrorCode::kInternal, "no free port for knotd");
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

bool KnotServer::Installed() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path == nullptr ? "/usr/sbin:/usr/bin" : path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (::access((dir + "/knotd").c_str(), X_OK) == 0) return true;
  }
  return ::access("/usr/sbin/knotd", X_OK) == 0;
}

bool KnotServer::SkipAllowed() {
  const char* skip = std::getenv("REPLIDEPLOY_SKIP_KNOT");
  return skip != nullptr && std::string(skip) == "1";
}

Result<std::unique_ptr<KnotServer>> KnotServer::Start(
    const std::map<std::string, std::string>& zones) {
  if (zones.empty()) return MakeError(ErrorCode::kBadRequest, "knotd needs a zone");
  // The free port may be taken by another test's knotd between our look and its bind: then
  // knotd exits (or another server answers, without our marker), and we try another port.
  std::string why;
  for (int attempt = 0; attempt < 5; ++attempt) {
    std::unique_ptr<KnotServer> server(new KnotServer());
    auto started = server->Run(zones);
    if (started.ok() && *started) return server;
    why = started.ok() ? "the port was taken" : started.error().message;
    if (!started.ok()) break;
  }
  return MakeError(ErrorCode::kInternal, "knotd did not start: " + why);
}

Result<bool> KnotServer::Run(const std::map<std::string, std::string>& zones) {
  char pattern[] = "/tmp/rd-knot-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) return MakeError(ErrorCode::kInternal, "mkdtemp failed");
  dir_ = pattern;
  const fs::path dir = dir_;
  for (const char* sub : {"run", "db", "zones"}) fs::create_directories(dir / sub);
  RD_TRY(int port, FreePort());
  address_ = "127.0.0.1:" + std::to_string(port);
  const std::string marker =
      "rd-knot-" + std::to_string(::getpid()) + "-" + dir.filename().string();

  const passwd* pw = ::getpwuid(::getuid());
  const group* gr = ::getgrgid(::getgid());
  std::ofstream conf(dir / "knot.conf");
  conf << "server:\n"
       << "    listen: 127.0.0.1@" << port << "\n"
       << "    rundir: \"" << (dir / "run").string() << "\"\n"
       << "    pidfile: \"" << (dir / "run" / "knot.pid").string() << "\"\n";
  if (pw != nullptr && gr != nullptr) {
    conf << "    user: " << pw->pw_name << ":" << gr->gr_name << "\n";
  }
  conf << "control:\n    listen: \"" << (dir / "run" / "knot.sock").string() << "\"\n"
       << "database:\n    storage: \"" << (dir / "db").string() << "\"\n"
       << "log:\n  - target: stderr\n    any: warning\n"
       << "template:\n  - id: default\n    storage: \"" << (dir / "zones").string() << "\"\n"
       << "    file: \"%s.zone\"\n    zonefile-sync: -1\n    journal-content: none\n"
       << "zone:\n";
  for (const auto& [origin, records] : zones) {
    conf << "  - domain: " << origin << ".\n";
    std::ofstream zone(dir / "zones" / (origin + ".zone"));
    zone << "$ORIGIN " << origin << ".\n$TTL 60\n"
         << "@ IN SOA ns." << origin << ". hostmaster." << origin << ". 1 3600 600 86400 60\n"
         << "@ IN NS ns." << origin << ".\n"
         << "ns IN A 127.0.0.1\n"
         << "_rd-knot-instance IN TXT \"" << marker << "\"\n"
         << records << "\n";
  }
  conf.close();

  core::UniqueFd log(
      ::open((dir / "knotd.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  core::UniqueFd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  core::SpawnSpec spec;
  spec.argv = {"knotd", "-c", (dir / "knot.conf").string()};
  spec.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  spec.fds = {{null.get(), 0}, {log.get(), 1}, {log.get(), 2}};
  spec.close_other_fds = true;
  spec.die_with_parent = true;
  RD_TRY(pid_, core::SpawnChild(spec));

  // Ready when it answers with this instance's marker.
  RD_TRY(auto probe, MakeDnsResolver(address_, std::chrono::milliseconds(200)));
  const std::string name = "_rd-knot-instance." + zones.begin()->first;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (true) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      const std::string log_text = ReadFile(dir / "knotd.log");
      if (log_text.find("address already in use") != std::string::npos) return false;
      return MakeError(ErrorCode::kInternal, "knotd exited at start: " + log_text);
    }
    auto answer = probe->Query(name, DnsType::kTxt);
    if (answer.ok() && !answer->records.empty()) {
      if (answer->records.front().data == marker) return true;
      return false;  // another server on this port; the destructor stops ours
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return MakeError(ErrorCode::kInternal,
                       "knotd did not answer within 30 s: " + ReadFile(dir / "knotd.log"));
    }
    // The probe's own timeout paces this loop while nothing listens on UDP; a closed UDP port
    // answers at once (ICMP), so give knotd a moment then.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

KnotServer::~KnotServer() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
}

}  // namespace replideploy::domains::testing
