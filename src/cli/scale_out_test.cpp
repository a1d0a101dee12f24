// The scaled layout on loopback: two `api`, two `edge` and two `worker` processes of the real
// binary over one PostgreSQL database (a server of the test's own, so that it may restart it)
// and one S3-compatible blob store (s3rver; REPLIDEPLOY_S3_TESTS=off falls back to the shared
// data dir's local store, and says so). What one api publishes or rolls back, both edges serve,
// although their site cache would keep the old answer for an hour: only the change events
// (LISTEN/NOTIFY) can tell them. An edge killed with -9 comes back serving the same; after a
// PostgreSQL restart the edges' listeners reconnect by themselves and hear the next rollback.
//
// A git push is built by a worker; a worker killed with -9 in the middle of a build loses
// nothing: its job is claimed again once the lease runs out (3 s here) and published, and a
// worker started in its place removes the build volume it left mounted.
//
// Needs REPLIDEPLOY_TEST_POSTGRES_URL (it only says PostgreSQL tests are wanted and its
// binaries are here; the server used is started by the test). The git-push part needs root and
// bubblewrap, like the other build tests, and is left out (said in the output) without them.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "cli/binary_fixture.hpp"
#include "core/crypto.hpp"
#include "core/testing.hpp"
#include "store/s3_testing.hpp"

namespace replideploy::cli {
namespace {

// Runs `command` in a shell; its stdout, or nullopt when it fails.
std::optional<std::string> Shell(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return std::nullopt;
  std::string out;
  std::array<char, 4096> buffer{};
  while (std::size_t n = fread(buffer.data(), 1, buffer.size(), pipe)) out.append(buffer.data(), n);
  if (pclose(pipe) != 0) return std::nullopt;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

class ScaleOut : public BinaryFixture {
 protected:
  void SetUp() override {
    BinaryFixture::SetUp();
    if (HasFatalFailure()) return;
    const char* wanted = std::getenv("REPLIDEPLOY_TEST_POSTGRES_URL");
    if (wanted == nullptr || *wanted == '\0') {
      const char* required = std::getenv("REPLIDEPLOY_REQUIRE_POSTGRES");
      if (required != nullptr && std::string(required) == "1") {
        FAIL() << "REPLIDEPLOY_TEST_POSTGRES_URL is not set (REPLIDEPLOY_REQUIRE_POSTGRES=1)";
      }
      GTEST_SKIP() << "PostgreSQL tests are off: set REPLIDEPLOY_TEST_POSTGRES_URL (README, "
                      "Tests); this test starts a PostgreSQL server of its own to restart it";
    }
    // A short path: the server's Unix socket must fit in 107 bytes.
    std::string tmpl = "/tmp/rd-scale-pg-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    pg_dir_ = tmpl;
    auto url = Postgres("start");
    ASSERT_TRUE(url.has_value() && url->starts_with("postgres://"))
        << "tests/postgres.sh start failed: " << url.value_or("") << "\n"
        << ReadFile(dir_ + "/postgres.log");
    admin_url_ = *url;
    ASSERT_TRUE(Shell("psql -q -X '" + admin_url_ + "' -c 'CREATE DATABASE replideploy'"))
        << "CREATE DATABASE failed";
    url_ = admin_url_.substr(0, admin_url_.rfind('/')) + "/replideploy";
    if (!store::testing::S3TestsOff()) {
      s3_ = std::make_unique<store::testing::S3rver>();
      ASSERT_TRUE(s3_->ok()) << s3_->error();
    }
  }
  // Every process's blob store flags: the s3rver bucket, or the shared data dir's.
  std::vector<std::string> BlobFlags() const {
    if (!s3_) return {};
    return {
        "--blob-store",           std::string("s3://") + store::testing::S3rver::kBucket + "/scale",
        "--s3-endpoint",          s3_->endpoint(),
        "--s3-path-style",        "1",
        "--s3-access-key-id",     store::testing::S3rver::kAccessKey,
        "--s3-secret-access-key", store::testing::S3rver::kSecretKey};
  }
  void TearDown() override {
    // After a failure: SIGTERM first, so that a worker unmounts its build volumes (the data
    // dir cannot be removed under a mount), then SIGKILL whatever is still running.
    for (pid_t pid : running_) kill(pid, SIGTERM);
    core::testing::WaitUntil(
        [&] {
          std::erase_if(running_, [](pid_t pid) { return waitpid(pid, nullptr, WNOHANG) != 0; });
          return running_.empty();
        },
        std::chrono::seconds(30));
    for (pid_t pid : running_) {
      kill(pid, SIGKILL);
      Wait(pid);
    }
    if (!pg_dir_.empty()) (void)Postgres("stop");
    BinaryFixture::TearDown();
  }

  // tests/postgres.sh COMMAND on the test's own server: its stdout (the URL for start and
  // restart); what it says on stderr (a port taken and retried, say) goes to postgres.log.
  std::optional<std::string> Postgres(const std::string& command) {
    return Shell(std::string("bash '") + REPLIDEPLOY_SOURCE_DIR + "/tests/postgres.sh' " + command +
                 " '" + pg_dir_ + "' 2>>'" + dir_ + "/postgres.log'");
  }

  // Starts a role over the shared database and data dir; its port ("" for a worker, which
  // listens on nothing) once it is up. Output goes to <name>stdout, <name>stderr.
  std::string Start(const std::string& role, const std::string& name,
                    std::vector<std::string> extra = {}) {
    extra.insert(extra.end(), {"--database", url_});
    const std::vector<std::string> blobs = BlobFlags();
    extra.insert(extra.end(), blobs.begin(), blobs.end());
    pid_t pid = 0;
    std::string port;
    if (role == "worker") {
      std::vector<std::string> args = {"worker", "--data-dir", DataDir()};
      args.insert(args.end(), extra.begin(), extra.end());
      pid = Spawn(args, {}, name);
      const bool up = core::testing::WaitUntil([&] {
        return ReadFile(dir_ + "/" + name + "stdout").find("is running") != std::string::npos;
      });
      EXPECT_TRUE(up) << ReadFile(dir_ + "/" + name + "stderr");
    } else {
      port = StartRole(pid, role, extra, name);
      EXPECT_FALSE(port.empty()) << ReadFile(dir_ + "/" + name + "stderr");
    }
    running_.push_back(pid);
    pids_[name] = pid;
    return port;
  }
  void Kill(const std::string& name, int signal) {
    const pid_t pid = pids_.at(name);
    kill(pid, signal);
    Wait(pid);
    std::erase(running_, pid);
  }

  // The body `host` gets at `port`'s "/", or "" when the request fails.
  static std::string Get(const std::string& port, const std::string& host,
                         const std::string& path = "/") {
    auto got = Call("http://127.0.0.1:" + port, "GET", path, "", "", host);
    return got.ok() && got->status == 200 ? got->body : "";
  }

  std::unique_ptr<store::testing::S3rver> s3_;
  std::string pg_dir_;
  std::string admin_url_;
  std::string url_;
  std::vector<pid_t> running_;
  std::map<std::string, pid_t> pids_;
};

TEST_F(ScaleOut, EveryEdgeServesEveryChangeAtOnceAndRecovers) {
  using Clock = std::chrono::steady_clock;
  const auto started = Clock::now();
  ASSERT_EQ(Exec({"migrate", "--data-dir", DataDir(), "--database", url_}).exit_code, 0)
      << ReadFile(dir_ + "/stderr");
  // The first api makes the data dir's secret key; the rest read it.
  const std::string api1 = Start("api", "api1-");
  ASSERT_FALSE(api1.empty());
  const std::string api2 = Start("api", "api2-");
  // An hour: an edge that sees a change sooner heard of it.
  const std::vector<std::string> edge_flags = {"--site-cache-ttl-seconds", "3600"};
  std::string edge1 = Start("edge", "edge1-", edge_flags);
  const std::string edge2 = Start("edge", "edge2-", edge_flags);
  ASSERT_FALSE(api2.empty() || edge1.empty() || edge2.empty());
  // A short lease: a build whose worker went silent is claimed again after 3 s.
  const std::vector<std::string> worker_flags = {"--build-workers", "1", "--build-lease-seconds",
                                                 "3"};
  Start("worker", "worker1-", worker_flags);
  Start("worker", "worker2-", worker_flags);

  const std::string token = SignUpToken("http://127.0.0.1:" + api1, "scale@example.com");
  ASSERT_FALSE(token.empty());
  auto call = [&](const std::string& api, const std::string& method, const std::string& path,
                  const std::string& body = "") {
    auto got = Call("http://127.0.0.1:" + api, method, path, body, token, "");
    return got.ok() ? *got : http::ClientResponse{};
  };
  ASSERT_EQ(call(api1, "POST", "/api/v1/sites", R"({"name":"scale"})").status, 201);
  const std::string host = "scale.localhost";
  auto deploy = [&](const std::string& api, const std::string& content) {
    const std::string id =
        JsonField(call(api, "POST", "/api/v1/sites/scale/deploys", "{}").body, "id");
    const std::string sha1 = core::HexEncode(core::Sha1(content));
    call(api, "PUT", "/api/v1/deploys/" + id, R"({"files":{"index.html":")" + sha1 + "\"}}");
    EXPECT_EQ(call(api, "PUT", "/api/v1/deploys/" + id + "/files/index.html", content).status, 200);
    return id;
  };
  // Until both edges serve `body`; how long that took.
  auto both_serve = [&](const std::string& body) {
    const auto from = Clock::now();
    const bool served = core::testing::WaitUntil(
        [&] { return Get(edge1, host) == body && Get(edge2, host) == body; });
    EXPECT_TRUE(served) << "waiting for '" << body << "': edge1 '" << Get(edge1, host)
                        << "', edge2 '" << Get(edge2, host) << "'";
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - from);
  };
  // A rollback through an api, retried while the api's database connections come back.
  auto restore = [&](const std::string& api, const std::string& deploy_id) {
    EXPECT_TRUE(core::testing::WaitUntil([&] {
      return call(api, "POST", "/api/v1/sites/scale/deploys/" + deploy_id + "/restore").status ==
             200;
    })) << ReadFile(dir_ + "/api1-stderr");
  };

  // A deploy through one api: both edges serve it, and cache it for the hour from now on.
  const std::string v1 = deploy(api1, "v1");
  both_serve("v1");
  const std::string v2 = deploy(api1, "v2");
  const auto publish_delay = both_serve("v2");
  // A rollback through the other api.
  restore(api2, v1);
  const auto rollback_delay = both_serve("v1");

  // An edge killed without a word, and started again: it serves the same, and hears changes.
  Kill("edge1-", SIGKILL);
  edge1 = Start("edge", "edge1b-", edge_flags);
  ASSERT_FALSE(edge1.empty());
  both_serve("v1");
  restore(api2, v2);
  both_serve("v2");

  // PostgreSQL restarts: every connection is cut. The edges' listeners reconnect by
  // themselves, and the next rollback reaches both.
  ASSERT_TRUE(Postgres("restart").has_value())
      << "tests/postgres.sh restart failed: " << ReadFile(dir_ + "/postgres.log");
  for (const char* edge : {"edge1b-", "edge2-"}) {
    EXPECT_TRUE(core::testing::WaitUntil([&] {
      const std::string log = ReadFile(dir_ + "/" + edge + "stderr");
      return log.find("listening again") != std::string::npos;
    })) << edge
        << " did not notice the lost connection";
  }
  restore(api1, v1);
  const auto after_restart_delay = both_serve("v1");

  // A git push through an api, built by one of the workers, served by both edges.
  bool built = false;
  std::chrono::milliseconds crash_delay{0};
  if (geteuid() == 0 && access("/usr/bin/bwrap", X_OK) == 0) {
    ASSERT_TRUE(CommitAndPush(dir_ + "/repo",
                              {{"index.html", "from git"}, {"netlify.toml", R"([build]
  command = "mkdir -p out && cp index.html out/"
  publish = "out"
)"}},
                              "http://x:" + token + "@127.0.0.1:" + api2 + "/git/scale.git"))
        << ReadFile(dir_ + "/repo.log") << ReadFile(dir_ + "/api2-stderr");
    // The push's deploy (newer than the uploads), once it is built or has failed.
    std::pair<std::string, std::string> done;
    EXPECT_TRUE(core::testing::WaitUntil(
        [&] {
          done = NewestDeploy("http://127.0.0.1:" + api1, token, "scale",
                              [](const std::string&) { return true; });
          return done.first != v1 && done.first != v2 &&
                 (done.second == "ready" || done.second == "error");
        },
        std::chrono::minutes(5)));
    EXPECT_EQ(done.second, "ready")
        << ReadFile(dir_ + "/worker1-stderr") << ReadFile(dir_ + "/worker2-stderr");
    both_serve("from git");

    // A build that takes a while; the worker running it is killed with -9 half-way.
    ASSERT_TRUE(CommitAndPush(dir_ + "/repo",
                              {{"index.html", "after a crash"}, {"netlify.toml", R"([build]
  command = "echo build-$((6 * 7))-started && sleep 8 && mkdir -p out && cp index.html out/"
  publish = "out"
)"}},
                              "http://x:" + token + "@127.0.0.1:" + api1 + "/git/scale.git"))
        << ReadFile(dir_ + "/repo.log");
    auto log_of = [&](const std::string& id) {
      return call(api1, "GET", "/api/v1/deploys/" + id + "/log").body;
    };
    auto count = [](const std::string& text, const std::string& word) {
      std::size_t n = 0;
      for (auto at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) ++n;
      return n;
    };
    // Its deploy, once the build command runs (the log shows the command too: the marker is
    // what only running it prints).
    std::string crashing;
    EXPECT_TRUE(core::testing::WaitUntil(
        [&] {
          crashing =
              NewestDeploy("http://127.0.0.1:" + api1, token, "scale", [](const std::string&) {
                return true;
              }).first;
          return crashing != done.first && count(log_of(crashing), "build-42-started") > 0;
        },
        std::chrono::minutes(2)))
        << "the build never started";
    // The build log names the worker (worker-<pid>-...): that process is killed.
    std::string victim;
    {
      const std::string log = log_of(crashing);
      const std::string tag = "started by worker worker-";
      const auto at = log.find(tag);
      ASSERT_NE(at, std::string::npos) << log;
      const pid_t pid = std::atoi(log.c_str() + at + tag.size());
      for (const auto& [name, p] : pids_) {
        if (p == pid) victim = name;
      }
      EXPECT_FALSE(victim.empty()) << "no worker of this test has pid " << pid << ": " << log;
    }
    ASSERT_FALSE(victim.empty());
    const pid_t victim_pid = pids_.at(victim);
    const auto crash_from = Clock::now();
    Kill(victim, SIGKILL);
    // One started in its place clears the volume the dead one left mounted.
    Start("worker", "worker3-", worker_flags);
    std::pair<std::string, std::string> retried;
    EXPECT_TRUE(core::testing::WaitUntil(
        [&] {
          retried = NewestDeploy("http://127.0.0.1:" + api1, token, "scale",
                                 [](const std::string&) { return true; });
          return retried.second == "ready" || retried.second == "error";
        },
        std::chrono::minutes(5)));
    EXPECT_EQ(retried.first, crashing);
    EXPECT_EQ(retried.second, "ready")
        << ReadFile(dir_ + "/worker1-stderr") << ReadFile(dir_ + "/worker2-stderr")
        << ReadFile(dir_ + "/worker3-stderr");
    // The build ran again from the start on another worker.
    const std::string log = log_of(crashing);
    EXPECT_EQ(count(log, "build-42-started"), 2u) << log;
    both_serve("after a crash");
    crash_delay = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - crash_from);
    std::string mounted;  // the dead worker's build volumes still mounted
    std::istringstream mounts(ReadFile("/proc/self/mountinfo"));
    const std::string dead = DataDir() + "/builds/ws-" + std::to_string(victim_pid) + "-";
    for (std::string line; std::getline(mounts, line);) {
      if (line.find(dead) != std::string::npos) mounted += line + "\n";
    }
    EXPECT_EQ(mounted, "") << "the killed worker's build volume is still mounted";
    built = true;
  }

  const auto total = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  std::printf(
      "scale-out (blobs: %s): publish seen by both edges after %lld ms, rollback %lld ms, "
      "rollback after a PostgreSQL restart %lld ms; git push built and served: %s; build whose "
      "worker was killed -9 served %lld ms after the kill; whole test %lld ms\n",
      s3_ ? "s3rver" : "local", static_cast<long long>(publish_delay.count()),
      static_cast<long long>(rollback_delay.count()),
      static_cast<long long>(after_restart_delay.count()),
      built ? "yes" : "left out (needs root and bubblewrap)",
      static_cast<long long>(crash_delay.count()), static_cast<long long>(total.count()));

  // Every process stops cleanly on SIGTERM, after all that.
  for (const auto& [name, pid] : pids_) {
    if (std::find(running_.begin(), running_.end(), pid) == running_.end()) continue;
    kill(pid, SIGTERM);
    EXPECT_EQ(Wait(pid).exit_code, 0) << name << ReadFile(dir_ + "/" + name + "stderr");
    std::erase(running_, pid);
  }
}

}  // namespace
}  // namespace replideploy::cli
