// Operating the real binary: the metrics listener (/metrics, /healthz, /readyz), JSON logs, the
// drain on SIGTERM, and backup/restore. See docs/operations.md.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <regex>
#include <string>
#include <thread>

#include "cli/binary_fixture.hpp"
#include "core/crypto.hpp"
#include "core/metrics_testing.hpp"

namespace replideploy::cli {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class OpsBinary : public BinaryFixture {
 protected:
  // The metrics listener's port from the role's stdout (bounded wait), or "".
  std::string MetricsPort(const std::string& name = "") {
    const std::regex re("metrics, healthz and readyz on 127\\.0\\.0\\.1:([0-9]+)");
    std::smatch m;
    std::string out;
    for (int i = 0; i < 600; ++i) {
      out = ReadFile(dir_ + "/" + name + "stdout");
      if (std::regex_search(out, m, re)) return m[1].str();
      std::this_thread::sleep_for(50ms);
    }
    return "";
  }

  // Creates site `name` and deploys `files` (path -> content) through the API; true once ready.
  static bool DeploySite(const std::string& base, const std::string& token, const std::string& name,
                         const std::map<std::string, std::string>& files) {
    auto site = Call(base, "POST", "/api/v1/sites", R"({"name":")" + name + "\"}", token, "");
    if (!site.ok() || site->status != 201) return false;
    const std::string id = JsonField(
        Call(base, "POST", "/api/v1/sites/" + name + "/deploys", "{}", token, "")->body, "id");
    if (id.empty()) return false;
    boost::json::object digests;
    for (const auto& [path, content] : files) digests[path] = core::HexEncode(core::Sha1(content));
    const std::string body = boost::json::serialize(boost::json::object{{"files", digests}});
    if (Call(base, "PUT", "/api/v1/deploys/" + id, body, token, "")->status != 200) return false;
    for (const auto& [path, content] : files) {
      http::ClientRequest upload;
      upload.method = "PUT";
      upload.url = base + "/api/v1/deploys/" + id + "/files/" + path;
      upload.headers.Set("Authorization", "Bearer " + token);
      upload.body = content;
      upload.timeout = 300s;
      auto uploaded = http::Fetch(upload);
      if (!uploaded.ok() || uploaded->status != 200) return false;
    }
    const auto deploy = NewestDeploy(
        base, token, name, [](const std::string& s) { return s == "ready" || s == "error"; });
    return deploy.second == "ready";
  }

  // What a shell command printed on stdout ("" when it failed).
  static std::string ShellOutput(const std::string& command) {
    std::string out;
    FILE* pipe = ::popen((command + " 2>/dev/null").c_str(), "r");
    if (pipe == nullptr) return out;
    char buffer[256];
    while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) out += buffer;
    return ::pclose(pipe) == 0 ? out : "";
  }

  // The value of the exposition line that starts with `series` ("name{labels}"), or -1.
  static double Sample(const std::string& exposition, const std::string& series) {
    std::istringstream in(exposition);
    for (std::string line; std::getline(in, line);) {
      if (line.starts_with(series + " ")) return std::stod(line.substr(series.size() + 1));
    }
    return -1;
  }

  // /metrics from the listener at `ops`, checked against the text format (a test failure when
  // it is not valid exposition text); "" when it cannot be read.
  static std::string Scrape(const std::string& ops) {
    auto got = Call(ops, "GET", "/metrics", "", "", "");
    if (!got.ok() || got->status != 200) return "";
    EXPECT_EQ(core::metrics::testing::CheckExposition(got->body), "") << got->body;
    return got->body;
  }

  // Scrapes (bounded wait) until `series` has `value`; returns the last scrape.
  static std::string ScrapeUntil(const std::string& ops, const std::string& series, double value) {
    std::string text;
    for (int i = 0; i < 600; ++i) {
      text = Scrape(ops);
      if (Sample(text, series) == value) break;
      std::this_thread::sleep_for(50ms);
    }
    return text;
  }
};

TEST_F(OpsBinary, MetricsHealthAndReadinessOnTheirOwnListener) {
  pid_t pid = 0;
  const std::string port =
      StartServer(pid, {"--build-workers", "0", "--metrics-listen", "127.0.0.1:0"});
  ASSERT_FALSE(port.empty()) << ReadFile(dir_ + "/stderr");
  const std::string metrics_port = MetricsPort();
  ASSERT_FALSE(metrics_port.empty()) << ReadFile(dir_ + "/stdout");
  ASSERT_NE(metrics_port, port);
  const std::string base = "http://127.0.0.1:" + port;
  const std::string ops = "http://127.0.0.1:" + metrics_port;

  auto healthz = Call(ops, "GET", "/healthz", "", "", "");
  ASSERT_TRUE(healthz.ok());
  EXPECT_EQ(healthz->status, 200);
  auto readyz = Call(ops, "GET", "/readyz", "", "", "");
  ASSERT_TRUE(readyz.ok());
  EXPECT_EQ(readyz->status, 200) << readyz->body;

  // A site's host on the main listener never reaches the metrics.
  auto from_site = Call(base, "GET", "/metrics", "", "", "anything.localhost");
  ASSERT_TRUE(from_site.ok());
  EXPECT_EQ(from_site->body.find("replideploy_http_request_duration_seconds"), std::string::npos);

  const std::string api_2xx =
      "replideploy_http_request_duration_seconds_count{role=\"api\",code=\"2xx\"}";
  auto before = Call(ops, "GET", "/metrics", "", "", "");
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->status, 200);
  EXPECT_EQ(before->headers.Get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(core::metrics::testing::CheckExposition(before->body), "") << before->body;
  EXPECT_GT(Sample(before->body, "process_start_time_seconds"), 1.6e9) << before->body;
  EXPECT_EQ(Sample(before->body, "replideploy_build_jobs{state=\"queued\"}"), 0) << before->body;
  const double api_before = std::max(0.0, Sample(before->body, api_2xx));
  ASSERT_EQ(Call(base, "GET", "/healthz", "", "", "")->status, 200);
  // A request is counted when its exchange is logged, just after its last byte is sent: wait
  // (bounded) for the count.
  const std::string after = ScrapeUntil(ops, api_2xx, api_before + 1);
  EXPECT_EQ(Sample(after, api_2xx), api_before + 1) << after;

  // The edge counts by role and by site, and publishes are counted.
  const std::string token = SignUpToken(base, "ops@example.com");
  ASSERT_FALSE(token.empty());
  ASSERT_TRUE(DeploySite(base, token, "metered", {{"index.html", "metered home"}}));
  auto page = Call(base, "GET", "/", "", "", "metered.localhost");
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->body, "metered home");
  auto missing = Call(base, "GET", "/nope", "", "", "metered.localhost");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404);
  // The edge's answers: 404 for the unknown host above and /nope, 200 for the page.
  const std::string edge_4xx =
      "replideploy_http_request_duration_seconds_count{role=\"edge\",code=\"4xx\"}";
  const std::string edge_2xx =
      "replideploy_http_request_duration_seconds_count{role=\"edge\",code=\"2xx\"}";
  // Each answer is counted by the thread that sent it, once sent: the page's count may come
  // after /nope's (another connection, maybe another thread), so wait for both.
  ScrapeUntil(ops, edge_4xx, 2);
  const std::string edge = ScrapeUntil(ops, edge_2xx, 1);
  EXPECT_EQ(Sample(edge, edge_4xx), 2) << edge;
  EXPECT_EQ(Sample(edge, edge_2xx), 1) << edge;
  EXPECT_EQ(Sample(edge, "replideploy_edge_site_requests_total{site=\"metered\",code=\"2xx\"}"), 1)
      << edge;
  EXPECT_EQ(Sample(edge, "replideploy_edge_site_requests_total{site=\"metered\",code=\"4xx\"}"), 1);
  EXPECT_EQ(Sample(edge, "replideploy_deploys_published_total{kind=\"publish\"}"), 1);

  // The blob store gone: not ready (503, the JSON error body), and ready again once it is back.
  fs::rename(DataDir() + "/store", DataDir() + "/store-away");
  auto not_ready = Call(ops, "GET", "/readyz", "", "", "");
  fs::rename(DataDir() + "/store-away", DataDir() + "/store");
  ASSERT_TRUE(not_ready.ok());
  EXPECT_EQ(not_ready->status, 503);
  EXPECT_NE(not_ready->body.find(R"("code":"unavailable")"), std::string::npos) << not_ready->body;
  EXPECT_NE(not_ready->body.find("blob store"), std::string::npos) << not_ready->body;
  EXPECT_EQ(Call(ops, "GET", "/readyz", "", "", "")->status, 200);
  EXPECT_EQ(Call(ops, "GET", "/elsewhere", "", "", "")->status, 404);

  kill(pid, SIGTERM);
  Outcome r = Wait(pid);
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// Builds pushed with git: each counted once by its outcome, the live one counted as a publish,
// and the queue's gauge back at 0 once they are done.
TEST_F(OpsBinary, BuildsAreCountedByOutcome) {
  if (geteuid() != 0) GTEST_SKIP() << "the build sandbox drops to a build user: run as root";
  if (access("/usr/bin/bwrap", X_OK) != 0) GTEST_SKIP() << "bubblewrap is not installed";
  pid_t pid = 0;
  const std::string port = StartServer(pid, {"--metrics-listen", "127.0.0.1:0"});
  ASSERT_FALSE(port.empty()) << ReadFile(dir_ + "/stderr");
  const std::string metrics_port = MetricsPort();
  ASSERT_FALSE(metrics_port.empty()) << ReadFile(dir_ + "/stdout");
  const std::string base = "http://127.0.0.1:" + port;
  const std::string ops = "http://127.0.0.1:" + metrics_port;
  const std::string succeeded = "replideploy_build_duration_seconds_count{outcome=\"succeeded\"}";
  const std::string failed = "replideploy_build_duration_seconds_count{outcome=\"failed\"}";
  const std::string published = "replideploy_deploys_published_total{kind=\"publish\"}";
  const std::string queued = "replideploy_build_jobs{state=\"queued\"}";
  const std::string running = "replideploy_build_jobs{state=\"running\"}";
  const std::string before = Scrape(ops);
  EXPECT_EQ(Sample(before, succeeded), -1) << "no build yet, no series";
  EXPECT_EQ(Sample(before, queued), 0);

  const std::string token = SignUpToken(base, "builds@example.com");
  ASSERT_FALSE(token.empty());
  ASSERT_EQ(Call(base, "POST", "/api/v1/sites", R"({"name":"built"})", token, "")->status, 201);
  const std::string repo = dir_ + "/repo";
  const std::string remote = "http://x:" + token + "@127.0.0.1:" + port + "/git/built.git";
  ASSERT_TRUE(CommitAndPush(repo,
                            {{"index.html", "built home"},
                             {"netlify.toml",
                              "[build]\n  command = \"mkdir -p out && cp index.html out/\"\n"
                              "  publish = \"out\"\n"}},
                            remote))
      << ReadFile(repo + ".log");
  auto first = NewestDeploy(base, token, "built",
                            [](const std::string& s) { return s == "ready" || s == "error"; });
  ASSERT_EQ(first.second, "ready") << ReadFile(dir_ + "/stderr");
  EXPECT_EQ(Call(base, "GET", "/", "", "", "built.localhost")->body, "built home");
  // The worker counts the build once it has seen the deploy processed: wait (bounded).
  std::string after = ScrapeUntil(ops, succeeded, 1);
  EXPECT_EQ(Sample(after, succeeded), 1) << after;
  // Counted just after the deploy's processing commits: wait (bounded) too.
  after = ScrapeUntil(ops, published, 1);
  EXPECT_EQ(Sample(after, published), 1) << after;

  ASSERT_TRUE(CommitAndPush(repo, {{"netlify.toml", "[build]\n  command = \"exit 3\"\n"}}, remote))
      << ReadFile(repo + ".log");
  auto second = NewestDeploy(base, token, "built",
                             [&](const std::string& s) { return s == "error" || s == "ready"; });
  ASSERT_NE(second.first, first.first);
  EXPECT_EQ(second.second, "error");
  after = ScrapeUntil(ops, running, 0);
  EXPECT_EQ(Sample(after, failed), 1) << after;
  EXPECT_EQ(Sample(after, succeeded), 1) << after;
  EXPECT_EQ(Sample(after, published), 1) << "a failed build publishes nothing";
  EXPECT_EQ(Sample(after, queued), 0) << after;
  EXPECT_EQ(Sample(after, running), 0) << after;
  // Bucket counts of a build that took a moment: in the histogram's +Inf bucket at least.
  EXPECT_EQ(
      Sample(after, "replideploy_build_duration_seconds_bucket{outcome=\"failed\",le=\"+Inf\"}"),
      1);
  kill(pid, SIGTERM);
  EXPECT_EQ(Wait(pid).exit_code, 0);
}

TEST_F(OpsBinary, MetricsListenTakenIsOneClearLine) {
  pid_t first = 0;
  ASSERT_FALSE(
      StartServer(first, {"--build-workers", "0", "--metrics-listen", "127.0.0.1:0"}).empty());
  const std::string taken = MetricsPort();
  ASSERT_FALSE(taken.empty());
  Outcome second = Exec({"edge", "--listen", "127.0.0.1:0", "--data-dir", DataDir(),
                         "--metrics-listen", "127.0.0.1:" + taken});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.err.find("metrics-listen: cannot listen"), std::string::npos) << second.err;
  kill(first, SIGTERM);
  EXPECT_EQ(Wait(first).exit_code, 0);
}

TEST_F(OpsBinary, JsonLogsAreOneObjectPerLine) {
  pid_t pid = 0;
  const std::string port = StartServer(pid, {"--build-workers", "0", "--log-format", "json"});
  ASSERT_FALSE(port.empty()) << ReadFile(dir_ + "/stderr");
  ASSERT_EQ(Call("http://127.0.0.1:" + port, "GET", "/healthz", "", "", "")->status, 200);
  kill(pid, SIGTERM);
  Outcome r = Wait(pid);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream in(r.err);
  int lines = 0;
  bool saw_request = false;
  for (std::string line; std::getline(in, line);) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(line, ec);
    ASSERT_FALSE(ec) << line;
    ASSERT_TRUE(v.is_object()) << line;
    EXPECT_TRUE(v.at("ts").is_string());
    EXPECT_TRUE(v.at("level").is_string());
    EXPECT_EQ(v.at("role").as_string(), "serve");
    if (v.at("msg").as_string().find("\"GET /healthz\" 200") != boost::json::string::npos) {
      saw_request = true;
    }
    ++lines;
  }
  EXPECT_GT(lines, 2);
  EXPECT_TRUE(saw_request) << r.err;
}

// A blocking loopback connection with a small receive window, so that a large answer stays
// in flight until the test reads it.
class SlowReader {
 public:
  explicit SlowReader(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    timeval timeout{60, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~SlowReader() { ::close(fd_); }
  SlowReader(const SlowReader&) = delete;
  SlowReader& operator=(const SlowReader&) = delete;
  bool Send(std::string_view data) {
    return connected_ &&
           ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
  }
  // Reads up to `max` bytes; false at the end of the stream (or an error or timeout).
  bool ReadSome(std::size_t max) {
    std::string chunk(max, '\0');
    const ssize_t n = ::recv(fd_, chunk.data(), chunk.size(), 0);
    if (n <= 0) return false;
    received.append(chunk.data(), static_cast<std::size_t>(n));
    return true;
  }
  std::string received;

 private:
  int fd_ = -1;
  bool connected_ = false;
};

// SIGTERM while a large file is on its way to a slow client: the server stops accepting but the
// answer goes out whole, and the process exits 0.
TEST_F(OpsBinary, SigtermLetsAnAnswerInFlightFinish) {
  pid_t pid = 0;
  const std::string port =
      StartServer(pid, {"--build-workers", "0", "--shutdown-grace-seconds", "120"});
  ASSERT_FALSE(port.empty()) << ReadFile(dir_ + "/stderr");
  const std::string base = "http://127.0.0.1:" + port;
  const std::string token = SignUpToken(base, "drain@example.com");
  ASSERT_FALSE(token.empty());
  std::string big(std::size_t{24} << 20, '\0');
  std::uint32_t x = 2463534242u;
  for (std::size_t i = 0; i + 4 <= big.size(); i += 4) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    std::memcpy(big.data() + i, &x, 4);
  }
  ASSERT_TRUE(DeploySite(base, token, "drain", {{"index.html", "home"}, {"big.bin", big}}));

  SlowReader reader(static_cast<std::uint16_t>(std::stoi(port)));
  ASSERT_TRUE(
      reader.Send("GET /big.bin HTTP/1.1\r\nHost: drain.localhost\r\nConnection: close\r\n\r\n"));
  // The head and the first bytes are in: the request is in flight.
  while (reader.received.find("\r\n\r\n") == std::string::npos) ASSERT_TRUE(reader.ReadSome(4096));
  ASSERT_TRUE(reader.ReadSome(4096));
  kill(pid, SIGTERM);
  // Wait (bounded) until the server says it is shutting down, then take the rest.
  for (int i = 0; i < 600 && ReadFile(dir_ + "/stderr").find("shutting down") == std::string::npos;
       ++i) {
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_NE(ReadFile(dir_ + "/stderr").find("shutting down"), std::string::npos);
  while (reader.ReadSome(64 * 1024)) {
  }
  const std::size_t end = reader.received.find("\r\n\r\n");
  ASSERT_NE(end, std::string::npos);
  EXPECT_NE(reader.received.find("200 OK"), std::string::npos);
  const std::string body = reader.received.substr(end + 4);
  EXPECT_EQ(body.size(), big.size());
  EXPECT_TRUE(body == big) << "the body differs from the file";
  Outcome r = Wait(pid);
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// A backup taken while the server runs, restored into a fresh data dir: a server started on it
// serves the deploy and accepts the old API token.
TEST_F(OpsBinary, BackupThenRestoreIntoAFreshDataDirServesTheDeploy) {
  pid_t pid = 0;
  std::string port = StartServer(pid, {"--build-workers", "0"});
  ASSERT_FALSE(port.empty()) << ReadFile(dir_ + "/stderr");
  std::string base = "http://127.0.0.1:" + port;
  const std::string token = SignUpToken(base, "backup@example.com");
  ASSERT_FALSE(token.empty());
  ASSERT_TRUE(DeploySite(base, token, "kept",
                         {{"index.html", "kept home"}, {"about/index.html", "about us"}}));

  // A commit pushed to the platform's git remote (no build worker: its job stays queued), so
  // that the backup has a repository to keep.
  const std::string repo = dir_ + "/repo";
  ASSERT_TRUE(CommitAndPush(repo, {{"index.html", "pushed"}},
                            "http://x:" + token + "@127.0.0.1:" + port + "/git/kept.git"))
      << ReadFile(repo + ".log");
  const std::string pushed = ShellOutput("cd '" + repo + "' && git rev-parse HEAD");
  ASSERT_EQ(pushed.size(), 41u) << pushed;

  const std::string backup_dir = dir_ + "/backup";
  Outcome backup = Exec({"backup", "--to", backup_dir, "--data-dir", DataDir()});
  ASSERT_EQ(backup.exit_code, 0) << backup.err;
  EXPECT_NE(backup.out.find("backup written to"), std::string::npos) << backup.out;
  EXPECT_TRUE(fs::exists(backup_dir + "/manifest.json"));
  EXPECT_TRUE(fs::exists(backup_dir + "/replideploy.db"));
  EXPECT_TRUE(fs::exists(backup_dir + "/secret.key"));
  // Again into the same folder: the blobs are there already.
  Outcome again = Exec({"backup", "--to", backup_dir, "--data-dir", DataDir()});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find(" 0 new)"), std::string::npos) << again.out;

  kill(pid, SIGTERM);
  ASSERT_EQ(Wait(pid).exit_code, 0);
  fs::rename(DataDir(), dir_ + "/old-data");

  Outcome restore = Exec({"restore", "--from", backup_dir, "--data-dir", DataDir()});
  ASSERT_EQ(restore.exit_code, 0) << restore.err;
  // A data dir that is not empty is refused, unless --force.
  Outcome refused = Exec({"restore", "--from", backup_dir, "--data-dir", DataDir()});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("not empty"), std::string::npos) << refused.err;
  Outcome forced = Exec({"restore", "--from", backup_dir, "--data-dir", DataDir(), "--force"});
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
  Outcome no_backup = Exec({"restore", "--from", dir_ + "/nothing", "--data-dir", dir_ + "/x"});
  EXPECT_EQ(no_backup.exit_code, 1);
  EXPECT_NE(no_backup.err.find("manifest.json is missing"), std::string::npos) << no_backup.err;

  port = StartServer(pid, {"--build-workers", "0"});
  ASSERT_FALSE(port.empty()) << ReadFile(dir_ + "/stderr");
  base = "http://127.0.0.1:" + port;
  auto home = Call(base, "GET", "/", "", "", "kept.localhost");
  ASSERT_TRUE(home.ok());
  EXPECT_EQ(home->status, 200);
  EXPECT_EQ(home->body, "kept home");
  auto about = Call(base, "GET", "/about/", "", "", "kept.localhost");
  ASSERT_TRUE(about.ok());
  EXPECT_EQ(about->body, "about us");
  auto sites = Call(base, "GET", "/api/v1/sites", "", token, "");
  ASSERT_TRUE(sites.ok());
  EXPECT_EQ(sites->status, 200);
  EXPECT_NE(sites->body.find("\"kept\""), std::string::npos) << sites->body;
  // The platform's repository came back with the pushed commit.
  const std::string restored = ShellOutput("git ls-remote 'http://x:" + token +
                                           "@127.0.0.1:" + port + "/git/kept.git' refs/heads/main");
  EXPECT_EQ(restored.substr(0, 40), pushed.substr(0, 40)) << restored;
  kill(pid, SIGTERM);
  EXPECT_EQ(Wait(pid).exit_code, 0);
}

}  // namespace
}  // namespace replideploy::cli
