// The escape suite: real builds (the real binary, bubblewrap, git, the worker) whose commands
// try to break out of the sandbox and publish what they got. Each case asserts the attack was
// denied, and that the server still answers. docs/security.md names every case and the defence
// that stops it.
//
// The server's data dir is made outside /tmp (the sandbox mounts a /tmp of its own, so a probe
// of a path under /tmp would be denied whatever the defence), and every probe aims at the real
// thing: that data dir, its secret.key and replideploy.db at their real paths.
//
// The network cases run the whole test (server, sandboxes, listeners, a DNS server) inside a
// network and mount namespace the test makes (`unshare -n -m`), with the private and link-local
// addresses on a veth interface there (this kernel has no dummy driver): no packet of an escape
// attempt can leave the machine.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cli/binary_fixture.hpp"
#include "core/testing.hpp"
#include "db/testing.hpp"

namespace replideploy::cli {
namespace {

namespace fs = std::filesystem;

struct BuildOutcome {
  std::string id;
  std::string state;
  std::string error;  // the deploy's error_message
  std::string log;
};

class EscapeFixture : public BinaryFixture {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "the build sandbox drops to a build user: run as root";
    if (access("/usr/bin/bwrap", X_OK) != 0) GTEST_SKIP() << "bubblewrap is not installed";
    BinaryFixture::SetUp();
  }
  // Outside /tmp (see the top of the file): the test's working directory, in the build tree.
  std::string TempParent() const override { return fs::current_path().string(); }

  // Starts the server over DataDir() with `flags`; signs up a user. False when it did not come
  // up (the failure is recorded).
  bool Start(std::vector<std::string> flags) {
    port_ = StartServer(pid_, std::move(flags));
    EXPECT_FALSE(port_.empty()) << ReadFile(dir_ + "/stderr");
    if (port_.empty()) return false;
    base_ = "http://127.0.0.1:" + port_;
    token_ = SignUpToken(base_, "attacker@example.com");
    EXPECT_FALSE(token_.empty());
    return !token_.empty();
  }
  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    EXPECT_EQ(Wait(pid_).exit_code, 0) << ReadFile(dir_ + "/stderr");
    pid_ = 0;
  }
  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      int ignored = 0;
      waitpid(pid_, &ignored, 0);
    }
    // A server killed mid-build leaves its workspace volume mounted (the next start would clean
    // it up): let go of it here so that the folder can be removed.
    std::istringstream mounts(ReadFile("/proc/self/mountinfo"));
    std::string line;
    while (!dir_.empty() && std::getline(mounts, line)) {
      std::istringstream fields(line);
      std::string id, parent, devices, root, mount_point;
      fields >> id >> parent >> devices >> root >> mount_point;
      if (mount_point.starts_with(dir_ + "/")) umount2(mount_point.c_str(), MNT_DETACH);
    }
    if (!dir_.empty()) BinaryFixture::TearDown();
  }

  // Creates `site` with `env` (site variables) and pushes a commit of `files` to it; `links`
  // are committed symbolic links (path -> target).
  void Push(const std::string& site, const std::map<std::string, std::string>& files,
            const std::map<std::string, std::string>& links = {},
            const std::map<std::string, std::string>& env = {}) {
    auto made = Call(base_, "POST", "/api/v1/sites", R"({"name":")" + site + R"("})", token_, "");
    ASSERT_TRUE(made.ok() && made->status == 201) << site;
    for (const auto& [name, value] : env) {
      auto set = Call(base_, "PUT", "/api/v1/sites/" + site + "/env/" + name,
                      R"({"value":")" + value + R"("})", token_, "");
      ASSERT_TRUE(set.ok() && set->status == 200) << name;
    }
    const std::string repo = dir_ + "/repos/" + site;
    fs::create_directories(repo);
    for (const auto& [path, target] : links) fs::create_symlink(target, repo + "/" + path);
    ASSERT_TRUE(CommitAndPush(repo, files, Remote(site))) << site;
  }
  std::string Remote(const std::string& site) const {
    return "http://x:" + token_ + "@127.0.0.1:" + port_ + "/git/" + site + ".git";
  }

  // Waits (bounded) until the newest deploy of `site` is ready or failed.
  BuildOutcome Await(const std::string& site) {
    auto [id, state] = NewestDeploy(
        base_, token_, site, [](const std::string& s) { return s == "ready" || s == "error"; },
        6000);
    BuildOutcome outcome{id, state, "", ""};
    if (auto d = Call(base_, "GET", "/api/v1/deploys/" + id, "", token_, ""); d.ok()) {
      outcome.error = JsonField(d->body, "error_message");
    }
    if (auto l = Call(base_, "GET", "/api/v1/deploys/" + id + "/log", "", token_, ""); l.ok()) {
      // Enough to explain a failure without flooding the test's output.
      outcome.log = l->body.size() > 8192 ? "..." + l->body.substr(l->body.size() - 8192) : l->body;
    }
    return outcome;
  }

  // A published file of `site` ("" when it is not there).
  std::string Published(const std::string& site, const std::string& path) {
    auto got = Call(base_, "GET", path, "", "", site + ".localhost");
    return got.ok() && got->status == 200 ? got->body : "";
  }

  // The server still answers (after an attack).
  void ExpectServerAnswers() {
    auto health = Call(base_, "GET", "/healthz", "", "", "");
    EXPECT_TRUE(health.ok() && health->status == 200) << "the server stopped answering";
  }

  std::string netlify_toml(const std::string& command, const std::string& publish = "out") {
    return "[build]\n  command = '''" + command + "'''\n  publish = \"" + publish + "\"\n";
  }

  std::string AbsDataDir() const { return fs::absolute(dir_ + "/data").lexically_normal(); }

  pid_t pid_ = 0;
  std::string port_, base_, token_;
};

// ---------------------------------------------------------------------------------------------
// The file system, the worker and the limits: on SQLite and on PostgreSQL.

class Escape : public EscapeFixture, public ::testing::WithParamInterface<db::Engine> {
 protected:
  // The server's flags for this engine: SQLite in the data dir (the file the probes aim at), or
  // a fresh PostgreSQL database.
  std::vector<std::string> EngineFlags() {
    if (GetParam() == db::Engine::kSqlite) return {};
    pg_ = std::make_unique<db::testing::TestDatabase>(GetParam());
    if (!pg_->Available()) return {};
    return {"--database", pg_->url()};
  }
  bool StartForEngine(std::vector<std::string> flags) {
    auto engine = EngineFlags();
    if (GetParam() == db::Engine::kPostgres && !pg_->Available()) {
      skip_ = pg_->SkipReason();
      return false;
    }
    flags.insert(flags.end(), engine.begin(), engine.end());
    return Start(std::move(flags));
  }
  std::unique_ptr<db::testing::TestDatabase> pg_;
  std::string skip_;
};

// Probes of the host's files from inside a build: the server's data dir, key and database at
// their real paths, through /proc, through hard links; writes outside the workspace.
TEST_P(Escape, BuildsCannotReadOrWriteTheHost) {
  if (!StartForEngine({"--build-workers", "2"})) {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
    return;
  }
  const std::string data = AbsDataDir();
  const std::string key = ReadFile(data + "/secret.key");
  ASSERT_EQ(key.size(), 65u) << "the server made its key";
  // The data dir, key and database: the server's alone.
  struct stat st {};
  ASSERT_EQ(stat(data.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0077, 0u + (st.st_mode & S_IXOTH)) << "data dir: only the search bit";
  EXPECT_EQ(st.st_mode & S_IROTH, 0u);
  ASSERT_EQ(stat((data + "/secret.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  if (GetParam() == db::Engine::kSqlite) {
    ASSERT_EQ(stat((data + "/replideploy.db").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
  }

  // Every probe writes what it got (or its error) into the published folder.
  const std::string probes =
      "mkdir -p out && echo published > out/index.html\n"
      "cat " +
      data +
      "/secret.key > out/key.txt 2>&1\n"
      "cat " +
      data +
      "/replideploy.db > out/db.txt 2>&1\n"
      "ls -la " +
      data + " " + data +
      "/builds > out/ls.txt 2>&1\n"
      "cat /proc/1/root" +
      data +
      "/secret.key > out/proc1.txt 2>&1\n"
      "cat /proc/self/root" +
      data +
      "/secret.key > out/procself.txt 2>&1\n"
      "for f in /proc/*/fd/*; do echo \"== $f\"; timeout 2 head -c 4096 \"$f\" 2>&1; done"
      " > out/fds.txt 2>&1\n"
      "cat /proc/*/environ > out/environ.txt 2>&1\n"
      "ln " +
      data +
      "/secret.key out/hardlink-key 2>out/hardlink.txt\n"
      "ln /etc/shadow out/hardlink-shadow 2>>out/hardlink.txt\n"
      "cat /etc/shadow > out/shadow.txt 2>&1\n"
      "echo pwned > " +
      data +
      "/pwned 2>out/write.txt\n"
      "echo pwned > /usr/pwned 2>>out/write.txt\n"
      "echo pwned > /etc/pwned 2>>out/write.txt\n"
      "echo pwned > " +
      dir_ +
      "/pwned 2>>out/write.txt\n"
      "true\n";
  Push("probe", {{"netlify.toml", netlify_toml(probes)}});
  auto probe = Await("probe");
  ASSERT_EQ(probe.state, "ready") << probe.error << probe.log;
  EXPECT_EQ(Published("probe", "/index.html"), "published\n") << "the probes' own output is served";
  for (const char* file : {"/key.txt", "/db.txt", "/ls.txt", "/proc1.txt", "/procself.txt",
                           "/fds.txt", "/environ.txt", "/shadow.txt"}) {
    const std::string got = Published("probe", file);
    EXPECT_FALSE(got.empty()) << file << ": the probe ran and published its answer";
    EXPECT_EQ(got.find(key.substr(0, 64)), std::string::npos) << file << " leaked the key";
    EXPECT_EQ(got.find("SQLite format 3"), std::string::npos) << file << " leaked the database";
    EXPECT_EQ(got.find("root:"), std::string::npos) << file << " leaked /etc/shadow";
    // A listing of the data dir would name its folders (an error message names only the path).
    EXPECT_EQ(got.find("volumes"), std::string::npos) << file << " listed the data dir: " << got;
  }
  EXPECT_EQ(Published("probe", "/hardlink-key"), "");
  EXPECT_EQ(Published("probe", "/hardlink-shadow"), "");
  EXPECT_FALSE(Published("probe", "/hardlink.txt").empty()) << "ln said why it failed";
  for (const std::string& path :
       {data + "/pwned", std::string("/usr/pwned"), std::string("/etc/pwned"), dir_ + "/pwned"}) {
    EXPECT_FALSE(fs::exists(path)) << "the build wrote " << path;
  }

  // Another site's build reads a third site's workspace (its files and its variables) while
  // that build is running, at the workspace's real path and through /proc.
  Push("victim",
       {{"netlify.toml",
         netlify_toml("echo \"$VICTIM_TOKEN\" > mine.txt && while [ ! -e ../go ]; do sleep 0.1; "
                      "done && mkdir -p out && echo victim > out/index.html")}},
       {}, {{"VICTIM_TOKEN", "victim-s3cret-token"}});
  const bool victim_waits = core::testing::WaitUntil([&] {
    std::error_code ec;
    for (const auto& job : fs::directory_iterator(data + "/builds", ec)) {
      if (ReadFile((job.path() / "repo" / "mine.txt").string()).find("victim-s3cret") !=
          std::string::npos) {
        return true;
      }
    }
    return false;
  });
  ASSERT_TRUE(victim_waits) << "the victim's build never reached its gate";
  Push("snoop", {{"netlify.toml", netlify_toml("mkdir -p out && (cat " + data +
                                               "/builds/*/repo/mine.txt; ls " + data +
                                               "/builds; cat /proc/*/environ; timeout 60 grep -rs "
                                               "--devices=skip victim-s3\"\"cret /workspace "
                                               "/tmp /home /dev /etc) "
                                               "> out/snoop.txt 2>&1; true")}});
  auto snoop = Await("snoop");
  EXPECT_EQ(snoop.state, "ready") << snoop.error << snoop.log;
  const std::string snooped = Published("snoop", "/snoop.txt");
  EXPECT_FALSE(snooped.empty());
  EXPECT_EQ(snooped.find("victim-s3cret"), std::string::npos) << snooped;
  for (const auto& job : fs::directory_iterator(data + "/builds")) {
    std::ofstream(job.path() / "go") << "go";
  }
  auto victim = Await("victim");
  EXPECT_EQ(victim.state, "ready") << victim.error << victim.log;
  // A variable is in no process's command line on the host while its build runs: checked by
  // the victim's gate above holding the build (see VariablesAreNotOnAnyCommandLine).
  ExpectServerAnswers();
  Stop();
}

// The checkout, the publish folder and netlify.toml as links out; links inside the output.
TEST_P(Escape, LinksCannotLeadTheWorkerOutOfTheWorkspace) {
  if (!StartForEngine({"--build-workers", "2"})) {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
    return;
  }
  const std::string data = AbsDataDir();
  const std::string data_relative = data.substr(1);
  // The attack of the issue: the checkout swapped for a link to / mid-build (after the worker
  // read netlify.toml), the publish folder naming the data dir below it.
  Push("swap-root", {{"netlify.toml", netlify_toml("cd / && rm -rf /workspace/repo && ln -s / "
                                                   "/workspace/repo",
                                                   data_relative)}});
  // The checkout swapped for a link to the data dir itself.
  Push("swap-data", {{"netlify.toml", netlify_toml("cd / && rm -rf /workspace/repo && ln -s " +
                                                       data + " /workspace/repo",
                                                   ".")}});
  // The publish folder made, then swapped for a link at the end of the build.
  Push("swap-publish",
       {{"netlify.toml", netlify_toml("mkdir out && echo ok > out/index.html && rm -rf out && ln "
                                      "-s " +
                                      data + " out")}});
  // netlify.toml itself a link to the key (the worker's first look at the checkout).
  Push("toml-link", {{"index.html", "x"}}, {{"netlify.toml", data + "/secret.key"}});
  // A committed publish folder that is a link to the data dir.
  Push("publish-link", {{"netlify.toml", netlify_toml("true")}}, {{"out", data}});
  // Links inside the output: to a file inside (served, as on Netlify), to the key and to a
  // folder outside (not served).
  Push("inner-links",
       {{"netlify.toml",
         netlify_toml("mkdir -p out/sub && echo inside > out/sub/real.txt && ln -s sub/real.txt "
                      "out/alias.txt && ln -s " +
                      data + "/secret.key out/key.txt && ln -s " + data +
                      " out/data && ln -s ../../etc/passwd out/up.txt")}});
  for (const char* site : {"swap-root", "swap-data", "swap-publish", "toml-link", "publish-link"}) {
    auto outcome = Await(site);
    EXPECT_EQ(outcome.state, "error") << site << outcome.log;
    EXPECT_NE(outcome.error.find("symbolic link"), std::string::npos) << site << outcome.error;
    for (const char* path : {"/secret.key", "/replideploy.db", "/index.html"}) {
      EXPECT_EQ(Published(site, path), "") << site << path;
    }
  }
  auto inner = Await("inner-links");
  ASSERT_EQ(inner.state, "ready") << inner.error << inner.log;
  EXPECT_EQ(Published("inner-links", "/alias.txt"), "inside\n");
  EXPECT_EQ(Published("inner-links", "/key.txt"), "");
  EXPECT_EQ(Published("inner-links", "/data/secret.key"), "");
  EXPECT_EQ(Published("inner-links", "/up.txt"), "");
  ExpectServerAnswers();
  Stop();
}

// Builds that use up a resource: each ends with a line naming the limit, and the server and
// the next build go on.
TEST_P(Escape, LimitsHoldAndNameThemselves) {
  if (!StartForEngine(
          {"--build-workers", "2", "--build-memory-mb", "256", "--build-disk-mb", "256"})) {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
    return;
  }
  const std::map<std::string, std::pair<std::string, std::string>> cases = {
      // site: (command, what the error names)
      // Every process waits for its two children: they pile up until the limit.
      {"fork-bomb", {"b() { b | b; }; b", "process limit"}},
      {"memory-bomb", {"head -c 4G /dev/zero | tail", "memory limit"}},
      {"disk-filler", {"dd if=/dev/zero of=fill bs=1M count=4096", "disk quota"}},
      {"tmp-filler", {"dd if=/dev/zero of=/tmp/fill bs=1M count=4096", "disk quota"}},
      // fallocate: refused past the quota at once, and counted as it reserves.
      {"fallocate",
       {"fallocate -l 100G /tmp/big; i=0; while fallocate -l 1M /tmp/f$i; do i=$((i+1)); done; "
        "exit 1",
        "disk quota"}},
      // A sparse file costs (almost) nothing on disk but would be published whole.
      {"sparse-output", {"mkdir out && truncate -s 7G out/sparse", "output is larger than"}},
      // A million files: the volume's inodes (one per 8 KiB: 32768 here) run out first. The
      // output's own cap (100,000 files) is UntrustedTree's (see its tests).
      {"million-files",
       {"mkdir -p out && cd out && seq 1000000 | xargs touch 2>/dev/null", "disk quota"}},
  };
  for (const auto& [site, c] : cases) Push(site, {{"netlify.toml", netlify_toml(c.first)}});
  for (const auto& [site, c] : cases) {
    auto outcome = Await(site);
    EXPECT_EQ(outcome.state, "error") << site << outcome.log;
    EXPECT_NE(outcome.error.find(c.second), std::string::npos)
        << site << ": " << outcome.error << "\n"
        << outcome.log;
    EXPECT_NE(outcome.log.find(c.second), std::string::npos) << site << ": the log names it";
    ExpectServerAnswers();
  }
  // No workspace volume is left mounted behind the failed builds: at most the one the idle
  // worker made ahead for its next build, and none once the server stopped.
  const auto volumes_mounted = [&] {
    const std::string mounts = ReadFile("/proc/self/mountinfo");
    const std::string needle = AbsDataDir() + "/builds/";
    int count = 0;
    for (auto at = mounts.find(needle); at != std::string::npos; at = mounts.find(needle, at + 1)) {
      ++count;
    }
    return count;
  };
  EXPECT_LE(volumes_mounted(), 1) << ReadFile("/proc/self/mountinfo");
  ExpectServerAnswers();
  Stop();
  EXPECT_EQ(volumes_mounted(), 0) << ReadFile("/proc/self/mountinfo");
}

// Builds that do not end, one of them with its output closed, and a build that signals
// everything it can: the time limit ends the first two, the worker lives on after the third.
TEST_P(Escape, BuildsThatHangOrSignalDoNotStopTheWorker) {
  if (!StartForEngine({"--build-workers", "2", "--build-timeout-minutes", "1"})) {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
    return;
  }
  Push("never-ends", {{"netlify.toml", netlify_toml("sleep 100000")}});
  Push("closed-stdout", {{"netlify.toml", netlify_toml("exec >&- 2>&-; sleep 100000")}});
  // The build kills everything it can see and aims at low pids.
  Push("signals",
       {{"netlify.toml", netlify_toml("for p in $(seq 1 2000); do kill -9 $p 2>/dev/null; done; "
                                      "kill -9 -1; true")}});
  for (const char* site : {"never-ends", "closed-stdout"}) {
    auto outcome = Await(site);
    EXPECT_EQ(outcome.state, "error") << site << outcome.log;
    EXPECT_NE(outcome.error.find("time limit"), std::string::npos) << site << outcome.error;
    EXPECT_NE(outcome.log.find("time limit"), std::string::npos) << site << outcome.log;
  }
  auto signals = Await("signals");
  EXPECT_TRUE(signals.state == "ready" || signals.state == "error") << signals.state;
  Push("after", {{"netlify.toml", netlify_toml("mkdir out && echo after > out/index.html")}});
  auto after = Await("after");
  EXPECT_EQ(after.state, "ready") << after.error << after.log;
  EXPECT_EQ(Published("after", "/"), "after\n");
  ExpectServerAnswers();
  Stop();
}

INSTANTIATE_TEST_SUITE_P(Engines, Escape, ::testing::ValuesIn(db::testing::Engines()),
                         db::testing::EngineParamName);

// ---------------------------------------------------------------------------------------------
// The network, inside a network namespace of the test's own.

// A TCP listener answering every connection with "LEAK <name>" (an HTTP response), until
// destroyed.
class Listener {
 public:
  Listener(int family, const std::string& address, int port, std::string name)
      : name_(std::move(name)) {
    fd_ = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_storage addr{};
    socklen_t len = 0;
    if (family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(&addr);
      a->sin_family = AF_INET;
      a->sin_port = htons(static_cast<std::uint16_t>(port));
      inet_pton(AF_INET, address.c_str(), &a->sin_addr);
      len = sizeof *a;
    } else {
      auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
      a->sin6_family = AF_INET6;
      a->sin6_port = htons(static_cast<std::uint16_t>(port));
      inet_pton(AF_INET6, address.c_str(), &a->sin6_addr);
      len = sizeof *a;
    }
    ok_ = bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) == 0 && listen(fd_, 16) == 0;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&addr)->sin_port
                                    : reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
    thread_ = std::thread([this] {
      while (true) {
        const int client = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (client < 0) return;
        ++connections_;
        char buffer[4096];
        (void)!read(client, buffer, sizeof buffer);
        const std::string body = "LEAK " + name_;
        const std::string response =
            "HTTP/1.0 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
        (void)!write(client, response.data(), response.size());
        close(client);
      }
    });
  }
  ~Listener() {
    shutdown(fd_, SHUT_RDWR);
    thread_.join();
    close(fd_);
  }
  bool ok() const { return ok_; }
  int port() const { return port_; }
  int connections() const { return connections_; }

 private:
  std::string name_;
  int fd_ = -1;
  int port_ = 0;
  bool ok_ = false;
  std::atomic<int> connections_{0};
  std::thread thread_;
};

// A DNS server on UDP: A queries for names in `answers` get that IPv4 address, everything else
// an empty answer. Enough for a resolver that a rebinding attacker controls.
class DnsServer {
 public:
  DnsServer(const std::string& address, std::map<std::string, std::string> answers)
      : answers_(std::move(answers)) {
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(53);
    inet_pton(AF_INET, address.c_str(), &a.sin_addr);
    ok_ = bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    thread_ = std::thread([this] { Serve(); });
  }
  ~DnsServer() {
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }
  bool ok() const { return ok_; }
  const std::set<std::string>& asked() const { return asked_; }

 private:
  void Serve() {
    while (true) {
      std::uint8_t q[512];
      sockaddr_in from{};
      socklen_t from_len = sizeof from;
      const ssize_t n =
          recvfrom(fd_, q, sizeof q, 0, reinterpret_cast<sockaddr*>(&from), &from_len);
      if (n <= 0) return;
      if (n < 12) continue;
      // The question: labels from byte 12, then QTYPE and QCLASS.
      std::string name;
      std::size_t i = 12;
      while (i < static_cast<std::size_t>(n) && q[i] != 0 && q[i] < 64) {
        if (!name.empty()) name += '.';
        name.append(reinterpret_cast<const char*>(q + i + 1),
                    std::min<std::size_t>(q[i], n - i - 1));
        i += q[i] + 1;
      }
      if (i + 5 > static_cast<std::size_t>(n)) continue;
      const int qtype = (q[i + 1] << 8) | q[i + 2];
      const std::size_t question_end = i + 5;
      std::vector<std::uint8_t> r(q, q + question_end);
      r[2] = 0x81;         // a response, recursion desired
      r[3] = 0x80;         // recursion available, no error
      r[4] = 0, r[5] = 1;  // one question
      r[6] = 0, r[7] = 0;  // answers, set below
      r[8] = r[9] = r[10] = r[11] = 0;
      asked_.insert(name);
      auto found = answers_.find(name);
      in_addr addr{};
      if (qtype == 1 && found != answers_.end() &&
          inet_pton(AF_INET, found->second.c_str(), &addr) == 1) {
        r[7] = 1;
        const std::uint8_t answer[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4};
        r.insert(r.end(), answer, answer + sizeof answer);
        const auto* bytes = reinterpret_cast<const std::uint8_t*>(&addr);
        r.insert(r.end(), bytes, bytes + 4);
      }
      sendto(fd_, r.data(), r.size(), 0, reinterpret_cast<sockaddr*>(&from), from_len);
    }
  }
  std::map<std::string, std::string> answers_;
  int fd_ = -1;
  bool ok_ = false;
  std::set<std::string> asked_;
  std::thread thread_;
};

constexpr const char* kInNamespaceVar = "RD_ESCAPE_IN_NETNS";

class EscapeNetwork : public EscapeFixture {
 protected:
  // Runs this test again inside a new network and mount namespace made by `unshare`, with lo up,
  // a veth interface carrying private and link-local addresses, and /etc/resolv.conf naming
  // the test's DNS server there. True when this is that inner run.
  bool InsideOwnNetwork() {
    if (std::getenv(kInNamespaceVar) != nullptr) return true;
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    const std::string filter = std::string(info->test_suite_name()) + "." + info->name();
    const std::string resolv = dir_ + "/resolv.conf";
    std::ofstream(resolv) << "nameserver 10.77.0.53\n";
    const std::string self = fs::read_symlink("/proc/self/exe").string();
    const std::string script =
        "set -e; ip link set lo up; ip link add rd0 type veth peer name rd1; ip link set rd0 up; "
        "ip link set rd1 up; "
        "for a in 10.77.0.1/24 10.77.0.53/32 10.88.0.1/32 192.168.77.1/24 172.16.77.1/24 "
        "100.64.77.1/24 169.254.169.254/32; do ip addr add $a dev rd0; done; "
        "mount --bind '" +
        resolv +
        "' /etc/resolv.conf; "
        "exec env " +
        kInNamespaceVar + "=1 '" + self + "' --gtest_filter='" + filter + "' > '" + dir_ +
        "/inner.log' 2>&1";
    std::ofstream(dir_ + "/netns.sh") << script << "\n";
    const int status = std::system(
        ("unshare --net --mount --propagation private sh '" + dir_ + "/netns.sh'").c_str());
    EXPECT_EQ(status, 0) << ReadFile(dir_ + "/inner.log");
    if (status == 0) {
      EXPECT_NE(ReadFile(dir_ + "/inner.log").find("[  PASSED  ] 1 test"), std::string::npos)
          << ReadFile(dir_ + "/inner.log");
    }
    return false;
  }
};

// Where a build may connect: the public internet (here: an address the operator allowed), and
// nowhere on the host or its private networks, by address or by a name that resolves there.
TEST_F(EscapeNetwork, BuildsReachOnlyWhatIsPublicOrAllowed) {
  if (!InsideOwnNetwork()) return;
  // The private and link-local listeners: what a build must never reach.
  Listener private_net(AF_INET, "10.77.0.1", 0, "private-10");
  Listener private_192(AF_INET, "192.168.77.1", 0, "private-192");
  Listener private_172(AF_INET, "172.16.77.1", 0, "private-172");
  Listener shared(AF_INET, "100.64.77.1", 0, "shared-100");
  Listener metadata(AF_INET, "169.254.169.254", 80, "metadata");
  Listener loopback6(AF_INET6, "::1", 0, "loopback-v6");
  Listener loopback4(AF_INET, "127.0.0.1", 0, "loopback-v4");
  // The operator's allowed registry mirror.
  Listener mirror(AF_INET, "10.88.0.1", 0, "mirror");
  DnsServer dns("10.77.0.53", {{"rebind.example", "10.77.0.1"},
                               {"metadata.example", "169.254.169.254"},
                               {"loopback.example", "127.0.0.1"},
                               {"mirror.example", "10.88.0.1"}});
  for (const Listener* l : {&private_net, &private_192, &private_172, &shared, &metadata,
                            &loopback6, &loopback4, &mirror}) {
    ASSERT_TRUE(l->ok());
  }
  ASSERT_TRUE(dns.ok());
  if (!Start({"--build-network-allow", "10.88.0.1/32"})) return;

  auto curl = [](const std::string& url, const std::string& file) {
    return "curl -s -S -m 10 '" + url + "' > out/" + file + " 2>&1\n";
  };
  const std::string p = std::to_string(private_net.port());
  std::string probes = "mkdir -p out\n";
  probes += curl("http://127.0.0.1:" + port_ + "/healthz", "server.txt");
  probes += curl("http://10.0.2.2:" + port_ + "/healthz", "gateway.txt");
  probes += curl("http://127.0.0.1:" + std::to_string(loopback4.port()) + "/", "lo4.txt");
  probes += curl("http://[::1]:" + std::to_string(loopback6.port()) + "/", "lo6.txt");
  probes += curl("http://10.77.0.1:" + p + "/", "private10.txt");
  probes += curl("http://192.168.77.1:" + std::to_string(private_192.port()) + "/", "p192.txt");
  probes += curl("http://172.16.77.1:" + std::to_string(private_172.port()) + "/", "p172.txt");
  probes += curl("http://100.64.77.1:" + std::to_string(shared.port()) + "/", "p100.txt");
  probes += curl("http://169.254.169.254/latest/meta-data/", "metadata.txt");
  probes += curl("http://rebind.example:" + p + "/", "rebind.txt");
  probes += curl("http://metadata.example/", "rebind-metadata.txt");
  probes += curl("http://loopback.example:" + port_ + "/healthz", "rebind-loopback.txt");
  // The allowed mirror, by address and by name: the way out works, so the refusals above are
  // the filter's and not a dead network.
  probes += curl("http://10.88.0.1:" + std::to_string(mirror.port()) + "/", "mirror.txt");
  probes += curl("http://mirror.example:" + std::to_string(mirror.port()) + "/", "mirror-dns.txt");
  probes += "getent hosts rebind.example > out/resolved.txt 2>&1; true\n";
  Push("net-probe", {{"netlify.toml", netlify_toml(probes)}});
  auto outcome = Await("net-probe");
  ASSERT_EQ(outcome.state, "ready") << outcome.error << outcome.log;
  EXPECT_NE(Published("net-probe", "/mirror.txt").find("LEAK mirror"), std::string::npos)
      << Published("net-probe", "/mirror.txt");
  EXPECT_NE(Published("net-probe", "/mirror-dns.txt").find("LEAK mirror"), std::string::npos)
      << Published("net-probe", "/mirror-dns.txt");
  EXPECT_NE(Published("net-probe", "/resolved.txt").find("10.77.0.1"), std::string::npos)
      << "the rebinding name resolved: " << Published("net-probe", "/resolved.txt");
  for (const char* file : {"/server.txt", "/gateway.txt", "/lo4.txt", "/lo6.txt", "/private10.txt",
                           "/p192.txt", "/p172.txt", "/p100.txt", "/metadata.txt", "/rebind.txt",
                           "/rebind-metadata.txt", "/rebind-loopback.txt"}) {
    const std::string got = Published("net-probe", file);
    EXPECT_FALSE(got.empty()) << file << ": curl said why it failed";
    EXPECT_EQ(got.find("LEAK"), std::string::npos) << file << ": " << got;
    EXPECT_EQ(got.find("\"ok\""), std::string::npos) << file << ": the server answered: " << got;
  }
  for (const Listener* l :
       {&private_net, &private_192, &private_172, &shared, &metadata, &loopback6, &loopback4}) {
    EXPECT_EQ(l->connections(), 0);
  }
  EXPECT_EQ(mirror.connections(), 2);
  ExpectServerAnswers();
  Stop();

  // --build-network none: not even the allowed mirror.
  if (!Start({"--build-network", "none", "--build-network-allow", "10.88.0.1/32"})) return;
  const std::string off_probe =
      "mkdir -p out\n" +
      curl("http://10.88.0.1:" + std::to_string(mirror.port()) + "/", "mirror.txt") + "true\n";
  auto made = Call(base_, "POST", "/api/v1/sites", R"({"name":"net-off"})", token_, "");
  ASSERT_TRUE(made.ok());
  ASSERT_TRUE(CommitAndPush(dir_ + "/repos/net-off", {{"netlify.toml", netlify_toml(off_probe)}},
                            Remote("net-off")));
  auto off = Await("net-off");
  ASSERT_EQ(off.state, "ready") << off.error << off.log;
  EXPECT_EQ(Published("net-off", "/mirror.txt").find("LEAK"), std::string::npos);
  EXPECT_NE(off.log.find("Network: none"), std::string::npos) << off.log;
  EXPECT_EQ(mirror.connections(), 2);
  Stop();
}

}  // namespace
}  // namespace replideploy::cli
