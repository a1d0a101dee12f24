// Runs the real `replideploy` binary: start-up errors, the version, and a serve/SIGTERM cycle.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include "cli/binary_fixture.hpp"
#include "core/crypto.hpp"
#include "core/testing.hpp"
#include "http/client.hpp"

namespace replideploy::cli {
namespace {

namespace fs = std::filesystem;

class Binary : public BinaryFixture {};

// The last non-empty line: start-up errors must be one clear line, not a trace.
std::string LastLine(const std::string& text) {
  std::istringstream in(text);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  return last;
}

TEST_F(Binary, Version) {
  Outcome r = Exec({"version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(r.out.starts_with("replideploy ")) << r.out;
}

TEST_F(Binary, HelpOnEveryCommand) {
  for (const char* cmd : {"serve", "api", "edge", "migrate", "worker"}) {
    Outcome r = Exec({cmd, "--help"});
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_NE(r.out.find("--data-dir"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("REPLIDEPLOY_DATA_DIR"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("--build-workers"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("--github-client-id"), std::string::npos) << r.out;
  }
  EXPECT_EQ(Exec({"--help"}).exit_code, 0);
  // Settings that do not make sense are one clear line.
  Outcome runner = Exec({"serve", "--build-runner", "podman", "--data-dir", DataDir()});
  EXPECT_EQ(runner.exit_code, 2);
  EXPECT_NE(runner.err.find("build-runner must be bubblewrap or docker"), std::string::npos)
      << runner.err;
  Outcome half = Exec({"serve", "--github-client-id", "x", "--data-dir", DataDir()});
  EXPECT_NE(half.exit_code, 0);
  EXPECT_NE(half.err.find("must be set together"), std::string::npos) << half.err;
  Outcome no_workers = Exec({"worker", "--build-workers", "0", "--data-dir", DataDir()});
  EXPECT_NE(no_workers.exit_code, 0);
  EXPECT_NE(no_workers.err.find("at least 1"), std::string::npos) << no_workers.err;
}

TEST_F(Binary, PortTakenIsOneClearLine) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const std::string listen_at = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  Outcome r = Exec({"serve", "--listen", listen_at, "--data-dir", DataDir()});
  close(fd);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(LastLine(r.err).find("Address already in use"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("terminate"), std::string::npos) << r.err;
}

TEST_F(Binary, BadConfigKey) {
  const std::string config = dir_ + "/rd.toml";
  std::ofstream(config) << "listen = \"127.0.0.1:0\"\nbogus-key = 1\n";
  Outcome r = Exec({"serve", "--config", config, "--data-dir", DataDir()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(LastLine(r.err).find("unknown key 'bogus-key'"), std::string::npos) << r.err;
}

TEST_F(Binary, BadDatabaseUrl) {
  Outcome r = Exec({"serve", "--listen", "127.0.0.1:0", "--data-dir", DataDir(), "--database",
                    "mysql://root@localhost/x"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(LastLine(r.err).find("unsupported database URL"), std::string::npos) << r.err;
}

TEST_F(Binary, UnreachablePostgresHidesPassword) {
  Outcome r = Exec({"migrate", "--data-dir", DataDir(), "--database",
                    "postgres://user:sekrit@127.0.0.1:1/db?connect_timeout=5"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.err.find("sekrit"), std::string::npos) << r.err;
  EXPECT_FALSE(LastLine(r.err).empty());
}

TEST_F(Binary, UnwritableDataDir) {
  // /proc refuses new files even for root.
  Outcome r = Exec({"serve", "--listen", "127.0.0.1:0", "--data-dir", "/proc/rd-data"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(LastLine(r.err).find("data dir"), std::string::npos) << r.err;
}

TEST_F(Binary, EnvironmentAndFlagPrecedence) {
  // A bad value in the environment is used (and rejected) when no flag overrides it...
  Outcome env_only = Exec({"serve", "--data-dir", DataDir()}, {"REPLIDEPLOY_LISTEN=nonsense"});
  EXPECT_NE(env_only.exit_code, 0);
  EXPECT_NE(env_only.err.find("invalid listen address 'nonsense'"), std::string::npos)
      << env_only.err;
  // ...and the flag wins over it.
  Outcome flag = Exec({"migrate", "--listen", "127.0.0.1:0", "--data-dir", DataDir()},
                      {"REPLIDEPLOY_LISTEN=nonsense"});
  EXPECT_EQ(flag.exit_code, 0) << flag.err;
}

TEST_F(Binary, MigrateThenServeAndStopOnSigterm) {
  Outcome migrate = Exec({"migrate", "--data-dir", DataDir()});
  ASSERT_EQ(migrate.exit_code, 0) << migrate.err;
  EXPECT_TRUE(fs::exists(DataDir() + "/replideploy.db"));

  pid_t pid = 0;
  const std::string port = StartServer(pid);
  ASSERT_FALSE(port.empty()) << ReadFile(dir_ + "/stdout") << ReadFile(dir_ + "/stderr");
  const std::string base = "http://127.0.0.1:" + port;
  auto health = http::Fetch({"GET", base + "/readyz"});
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(health->status, 200);

  struct stat st {};
  ASSERT_EQ(stat((DataDir() + "/secret.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);

  kill(pid, SIGTERM);
  Outcome r = Wait(pid);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("stopped"), std::string::npos) << r.err;
}

// The server is killed (SIGKILL) in the middle of a deploy's uploads: after a restart the
// previous deploy still serves, and the interrupted one resumes where it stopped.
TEST_F(Binary, KillDuringUploadLeavesLiveSiteAndResumes) {
  namespace json = boost::json;
  ASSERT_EQ(Exec({"migrate", "--data-dir", DataDir()}).exit_code, 0);
  auto start = [&](pid_t& pid) -> std::string {
    const std::string port = StartServer(pid);
    return port.empty() ? "" : "http://127.0.0.1:" + port;
  };
  pid_t pid = 0;
  std::string base = start(pid);
  ASSERT_FALSE(base.empty()) << ReadFile(dir_ + "/stderr");

  auto call = [&](const std::string& method, const std::string& path, const std::string& body,
                  const std::string& token, const std::string& host = {}) {
    auto got = Call(base, method, path, body, token, host);
    EXPECT_TRUE(got.ok());
    return got.ok() ? *got : http::ClientResponse{};
  };
  auto field = [](const http::ClientResponse& r, const char* name) {
    return JsonField(r.body, name);
  };
  auto sha1 = [](const std::string& s) { return core::HexEncode(core::Sha1(s)); };

  call("POST", "/auth/register", R"({"email":"k@example.com","password":"password123"})", "");
  const std::string token = field(
      call("POST", "/auth/login", R"({"email":"k@example.com","password":"password123"})", ""),
      "token");
  ASSERT_FALSE(token.empty());
  ASSERT_EQ(call("POST", "/api/v1/sites", R"({"name":"crash"})", token).status, 201);

  auto wait_state = [&](const std::string& id, const std::string& want) {
    std::string state;
    for (int i = 0; i < 600 && state != want; ++i) {
      state = field(call("GET", "/api/v1/deploys/" + id, "", token), "state");
      if (state != want) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return state;
  };
  // v1, complete.
  const std::string v1 = field(call("POST", "/api/v1/sites/crash/deploys", "{}", token), "id");
  call("PUT", "/api/v1/deploys/" + v1, R"({"files":{"index.html":")" + sha1("v1") + "\"}}", token);
  ASSERT_EQ(call("PUT", "/api/v1/deploys/" + v1 + "/files/index.html", "v1", token).status, 200);
  ASSERT_EQ(wait_state(v1, "ready"), "ready");

  // v2: one of two files uploaded, then the server dies.
  const std::string v2 = field(call("POST", "/api/v1/sites/crash/deploys", "{}", token), "id");
  call("PUT", "/api/v1/deploys/" + v2,
       R"({"files":{"index.html":")" + sha1("v2") + R"(","b.txt":")" + sha1("b2") + "\"}}", token);
  ASSERT_EQ(call("PUT", "/api/v1/deploys/" + v2 + "/files/index.html", "v2", token).status, 200);
  kill(pid, SIGKILL);
  Wait(pid);

  base = start(pid);
  ASSERT_FALSE(base.empty()) << ReadFile(dir_ + "/stderr");
  EXPECT_EQ(call("GET", "/", "", "", "crash.localhost").body, "v1");
  EXPECT_EQ(field(call("GET", "/api/v1/deploys/" + v2, "", token), "state"), "uploading");
  ASSERT_EQ(call("PUT", "/api/v1/deploys/" + v2 + "/files/b.txt", "b2", token).status, 200);
  EXPECT_EQ(wait_state(v2, "ready"), "ready");
  EXPECT_EQ(call("GET", "/", "", "", "crash.localhost").body, "v2");
  kill(pid, SIGTERM);
  EXPECT_EQ(Wait(pid).exit_code, 0);
}

// `replideploy deploy` of a folder whose _redirects has a line Netlify skips: the deploy goes
// live with the other rules, and the command prints the warning with file, line and reason.
TEST_F(Binary, DeployPrintsSkippedRuleWarnings) {
  ASSERT_EQ(Exec({"migrate", "--data-dir", DataDir()}).exit_code, 0);
  pid_t pid = 0;
  const std::string port = StartRole(pid, "serve", {}, "srv-");
  ASSERT_FALSE(port.empty()) << ReadFile(dir_ + "/srv-stderr");
  const std::string base = "http://127.0.0.1:" + port;
  const std::string token = SignUpToken(base, "cli@example.com");
  ASSERT_FALSE(token.empty());
  auto site = Call(base, "POST", "/api/v1/sites", R"({"name":"warned"})", token, "");
  ASSERT_TRUE(site.ok());
  ASSERT_EQ(site->status, 201);
  const std::string folder = dir_ + "/public";
  fs::create_directories(folder);
  std::ofstream(folder + "/index.html") << "home";
  std::ofstream(folder + "/_redirects") << "/mid/*.jpg /img\n/a /b 302\n";

  Outcome run = Exec(
      {"deploy", folder, "--site", "warned", "--prod", "--api-url", base, "--auth-token", token});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_NE(run.err.find("Warning: _redirects:1: '*' is only allowed at the end of FROM"),
            std::string::npos)
      << run.err;
  EXPECT_NE(run.out.find("Deploy is live"), std::string::npos) << run.out;
  auto redirected = Call(base, "GET", "/a", "", "", "warned.localhost");
  ASSERT_TRUE(redirected.ok());
  EXPECT_EQ(redirected->status, 302);
  kill(pid, SIGTERM);
  EXPECT_EQ(Wait(pid).exit_code, 0);
}

// A built deploy whose _redirects has a line Netlify skips goes live, and its build log lists
// the warning before "Deploy is live".
TEST_F(Binary, BuildLogListsSkippedRules) {
  ASSERT_EQ(Exec({"migrate", "--data-dir", DataDir()}).exit_code, 0);
  pid_t pid = 0;
  const std::string port = StartRole(pid, "serve", {}, "srv-");
  ASSERT_FALSE(port.empty()) << ReadFile(dir_ + "/srv-stderr");
  const std::string base = "http://127.0.0.1:" + port;
  const std::string token = SignUpToken(base, "built@example.com");
  ASSERT_FALSE(token.empty());
  auto site = Call(base, "POST", "/api/v1/sites", R"({"name":"built"})", token, "");
  ASSERT_TRUE(site.ok());
  ASSERT_EQ(site->status, 201);
  ASSERT_TRUE(
      CommitAndPush(dir_ + "/repo",
                    {{"index.html", "built"},
                     {"_redirects", "/r 307\n/a /b 302\n"},
                     // The publish folder has no netlify.toml: its rules apply all the same,
                     // as on Netlify, and so do its warnings.
                     {"netlify.toml",
                      "[build]\n  command = \"mkdir -p out && cp index.html _redirects out/\"\n"
                      "  publish = \"out\"\n"
                      "[[redirects]]\n  from = \"/toml\"\n  to = \"/a\"\n  status = 308\n"
                      "[[redirects]]\n  from = \"/bad\"\n  status = 301\n"}},
                    "http://x:" + token + "@127.0.0.1:" + port + "/git/built.git"));
  const auto [id, state] = NewestDeploy(
      base, token, "built", [](const std::string& s) { return s == "ready" || s == "error"; });
  ASSERT_EQ(state, "ready") << ReadFile(dir_ + "/srv-stderr");
  std::string log;
  // The worker writes its last lines once it has seen the deploy ready.
  core::testing::WaitUntil([&] {
    auto got = Call(base, "GET", "/api/v1/deploys/" + id + "/log", "", token, "");
    log = got.ok() ? got->body : "";
    return log.find("Deploy is live") != std::string::npos;
  });
  const std::size_t warning = log.find("Warning: _redirects:1: missing destination");
  EXPECT_NE(warning, std::string::npos) << log;
  EXPECT_LT(warning, log.find("Deploy is live")) << log;
  EXPECT_NE(log.find("Warning: netlify.toml:"), std::string::npos) << log;
  auto redirected = Call(base, "GET", "/a", "", "", "built.localhost");
  ASSERT_TRUE(redirected.ok());
  EXPECT_EQ(redirected->status, 302);
  auto from_toml = Call(base, "GET", "/toml", "", "", "built.localhost");
  ASSERT_TRUE(from_toml.ok());
  EXPECT_EQ(from_toml->status, 308);
  EXPECT_EQ(from_toml->headers.Get("Location"), "/a");
  kill(pid, SIGTERM);
  EXPECT_EQ(Wait(pid).exit_code, 0);
}

// The roles run apart over one database and data dir: what `replideploy api` publishes, a
// separate `replideploy edge` serves (and sees the next publish too); each answers only its part.
TEST_F(Binary, EdgeServesWhatTheApiRolePublished) {
  ASSERT_EQ(Exec({"migrate", "--data-dir", DataDir()}).exit_code, 0);
  pid_t api_pid = 0, edge_pid = 0;
  const std::string api_port = StartRole(api_pid, "api", {}, "api-");
  ASSERT_FALSE(api_port.empty()) << ReadFile(dir_ + "/api-stderr");
  const std::string edge_port = StartRole(edge_pid, "edge", {}, "edge-");
  ASSERT_FALSE(edge_port.empty()) << ReadFile(dir_ + "/edge-stderr");
  const std::string api = "http://127.0.0.1:" + api_port;
  const std::string edge = "http://127.0.0.1:" + edge_port;
  auto call = [](const std::string& base, const std::string& method, const std::string& path,
                 const std::string& body, const std::string& token, const std::string& host = {}) {
    auto got = Call(base, method, path, body, token, host);
    EXPECT_TRUE(got.ok());
    return got.ok() ? *got : http::ClientResponse{};
  };
  auto sha1 = [](const std::string& s) { return core::HexEncode(core::Sha1(s)); };
  const std::string token = SignUpToken(api, "roles@example.com");
  ASSERT_FALSE(token.empty());
  ASSERT_EQ(call(api, "POST", "/api/v1/sites", R"({"name":"apart"})", token).status, 201);
  auto publish = [&](const std::string& content) {
    const std::string id =
        JsonField(call(api, "POST", "/api/v1/sites/apart/deploys", "{}", token).body, "id");
    call(api, "PUT", "/api/v1/deploys/" + id,
         R"({"files":{"index.html":")" + sha1(content) + "\"}}", token);
    EXPECT_EQ(
        call(api, "PUT", "/api/v1/deploys/" + id + "/files/index.html", content, token).status,
        200);
  };
  auto edge_body = [&] { return call(edge, "GET", "/", "", "", "apart.localhost").body; };

  publish("v1");
  EXPECT_TRUE(core::testing::WaitUntil([&] { return edge_body() == "v1"; })) << edge_body();
  publish("v2");
  EXPECT_TRUE(core::testing::WaitUntil([&] { return edge_body() == "v2"; })) << edge_body();
  // The edge has no API and the API serves no site.
  EXPECT_EQ(call(edge, "GET", "/api/v1/sites", "", token, "localhost").status, 404);
  EXPECT_NE(call(api, "GET", "/", "", "", "apart.localhost").body, "v2");

  kill(edge_pid, SIGTERM);
  kill(api_pid, SIGTERM);
  EXPECT_EQ(Wait(edge_pid).exit_code, 0);
  EXPECT_EQ(Wait(api_pid).exit_code, 0);
}

// `git push` to the platform's own remote builds the commit in the sandbox and publishes it; a
// failing build leaves the live site as it was and says why in the deploy.
TEST_F(Binary, GitPushBuildsAndPublishes) {
  namespace json = boost::json;
  if (geteuid() != 0) GTEST_SKIP() << "the build sandbox drops to a build user: run as root";
  if (access("/usr/bin/bwrap", X_OK) != 0) GTEST_SKIP() << "bubblewrap is not installed";
  ASSERT_EQ(Exec({"migrate", "--data-dir", DataDir()}).exit_code, 0);
  pid_t pid = 0;
  const std::string port = StartServer(pid);
  ASSERT_FALSE(port.empty()) << ReadFile(dir_ + "/stderr");
  const std::string base = "http://127.0.0.1:" + port;
  auto call = [&](const std::string& method, const std::string& path, const std::string& body,
                  const std::string& token, const std::string& host = {}) {
    auto got = Call(base, method, path, body, token, host);
    return got.ok() ? *got : http::ClientResponse{};
  };
  auto field = [](const std::string& body, const char* name) { return JsonField(body, name); };
  call("POST", "/auth/register", R"({"email":"git@example.com","password":"password123"})", "");
  const std::string jwt = field(
      call("POST", "/auth/login", R"({"email":"git@example.com","password":"password123"})", "")
          .body,
      "token");
  const std::string token =
      field(call("POST", "/api/v1/tokens", R"({"name":"git"})", jwt).body, "token");
  ASSERT_FALSE(token.empty());
  ASSERT_EQ(call("POST", "/api/v1/sites", R"({"name":"from-git"})", token).status, 201);
  ASSERT_EQ(
      call("PUT", "/api/v1/sites/from-git/env/MY_SECRET", R"({"value":"hunter2-secret"})", token)
          .status,
      200);

  const std::string repo = dir_ + "/repo";
  auto sh = [&](const std::string& cmd) {
    return std::system(("cd '" + repo + "' && " + cmd + " >/dev/null 2>&1").c_str());
  };
  fs::create_directories(repo);
  std::ofstream(repo + "/index.html") << "<h1>v1 from git</h1>";
  std::ofstream(repo + "/netlify.toml")
      << "[build]\n  command = \"echo token is $MY_SECRET && mkdir -p out && cp index.html out/ && "
         "id -u > out/uid.txt && "
         "(cat /etc/shadow > out/shadow.txt 2>&1; ls /root > out/root.txt 2>&1; true)\"\n"
         "  publish = \"out\"\n";
  ASSERT_EQ(
      sh("git init -q -b main && git add . && git -c user.email=t@e -c user.name=t commit -qm v1"),
      0);
  const std::string remote = "http://x:" + token + "@127.0.0.1:" + port + "/git/from-git.git";
  ASSERT_EQ(sh("git push -q '" + remote + "' main"), 0);

  auto newest = [&]() {
    http::ClientResponse list = call("GET", "/api/v1/sites/from-git/deploys", "", token);
    boost::system::error_code ec;
    json::value v = json::parse(list.body, ec);
    if (ec || !v.is_array() || v.as_array().empty()) return std::pair<std::string, std::string>();
    const auto& d = v.as_array().front();
    return std::pair<std::string, std::string>(std::string(d.at("id").as_string()),
                                               std::string(d.at("state").as_string()));
  };
  auto wait_final = [&]() {
    std::pair<std::string, std::string> d;
    for (int i = 0; i < 1200; ++i) {
      d = newest();
      if (d.second == "ready" || d.second == "error") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return d;
  };
  auto first = wait_final();
  ASSERT_EQ(first.second, "ready") << ReadFile(dir_ + "/stderr");
  EXPECT_EQ(call("GET", "/", "", "", "from-git.localhost").body, "<h1>v1 from git</h1>");
  const std::string uid = call("GET", "/uid.txt", "", "", "from-git.localhost").body;
  EXPECT_NE(uid, "0\n") << "builds never run as root";
  EXPECT_EQ(call("GET", "/shadow.txt", "", "", "from-git.localhost").body.find("root:"),
            std::string::npos);
  http::ClientResponse log = call("GET", "/api/v1/deploys/" + first.first + "/log", "", token);
  EXPECT_NE(log.body.find("Publishing"), std::string::npos) << log.body;
  EXPECT_NE(log.body.find("token is ****"), std::string::npos) << "the build got the variable";
  EXPECT_EQ(log.body.find("hunter2-secret"), std::string::npos) << "and the log masks it";

  // A failing build: the deploy says why, the site keeps serving v1.
  std::ofstream(repo + "/netlify.toml") << "[build]\n  command = \"echo about to fail; exit 3\"\n";
  ASSERT_EQ(sh("git -c user.email=t@e -c user.name=t commit -qam broken"), 0);
  ASSERT_EQ(sh("git push -q '" + remote + "' main"), 0);
  auto second = wait_final();
  ASSERT_NE(second.first, first.first);
  EXPECT_EQ(second.second, "error");
  http::ClientResponse failed = call("GET", "/api/v1/deploys/" + second.first, "", token);
  EXPECT_NE(field(failed.body, "error_message").find("status 3"), std::string::npos) << failed.body;
  EXPECT_EQ(call("GET", "/", "", "", "from-git.localhost").body, "<h1>v1 from git</h1>");
  // A Vite site with no build settings: detected, installed from the npm registry inside the
  // sandbox, built; the second build restores node_modules from the site's cache.
  const std::string vite = dir_ + "/vite";
  fs::create_directories(vite);
  std::ofstream(vite + "/package.json")
      << R"({"name":"v","private":true,"scripts":{"build":"vite build"},"devDependencies":{"vite":"7.3.0"}})";
  std::ofstream(vite + "/index.html")
      << "<!doctype html><div id=app></div><script type=module src=/main.js></script>";
  std::ofstream(vite + "/main.js") << "document.getElementById('app').textContent = 'vite ' + 42;";
  ASSERT_EQ(call("POST", "/api/v1/sites", R"({"name":"vite-site"})", token).status, 201);
  auto vsh = [&](const std::string& cmd) {
    return std::system(("cd '" + vite + "' && " + cmd + " >/dev/null 2>&1").c_str());
  };
  const std::string vite_remote = "http://x:" + token + "@127.0.0.1:" + port + "/git/vite-site.git";
  ASSERT_EQ(vsh("git init -q -b main && git add . && git -c user.email=t@e -c user.name=t commit "
                "-qm v1 && "
                "git push -q '" +
                vite_remote + "' main"),
            0);
  auto vite_newest = [&]() {
    std::pair<std::string, std::string> d;
    for (int i = 0; i < 1800; ++i) {
      http::ClientResponse list = call("GET", "/api/v1/sites/vite-site/deploys", "", token);
      boost::system::error_code ec;
      json::value v = json::parse(list.body, ec);
      if (!ec && v.is_array() && !v.as_array().empty()) {
        d = {std::string(v.as_array().front().at("id").as_string()),
             std::string(v.as_array().front().at("state").as_string())};
        if (d.second == "ready" || d.second == "error") break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return d;
  };
  auto built = vite_newest();
  ASSERT_EQ(built.second, "ready")
      << call("GET", "/api/v1/deploys/" + built.first + "/log", "", token).body;
  EXPECT_NE(call("GET", "/", "", "", "vite-site.localhost").body.find("/assets/index-"),
            std::string::npos);
  ASSERT_EQ(vsh("echo '// v2' >> main.js && git -c user.email=t@e -c user.name=t commit -qam v2 && "
                "git push -q '" +
                vite_remote + "' main"),
            0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto rebuilt = vite_newest();
  ASSERT_NE(rebuilt.first, built.first);
  EXPECT_EQ(rebuilt.second, "ready");
  const std::string rebuilt_log =
      call("GET", "/api/v1/deploys/" + rebuilt.first + "/log", "", token).body;
  EXPECT_NE(rebuilt_log.find("Restored the production build cache made by deploy " + built.first),
            std::string::npos)
      << rebuilt_log;

  // Without a token, git is asked for credentials.
  EXPECT_EQ(call("GET", "/git/from-git.git/info/refs?service=git-receive-pack", "", "").status,
            401);
  kill(pid, SIGTERM);
  EXPECT_EQ(Wait(pid).exit_code, 0);
}

// A WebSocket viewer of a deploy's live log: every message it receives, in order.
struct LogViewer {
  struct Message {
    std::string type;
    std::string state;
    std::vector<std::string> lines;
  };
  std::vector<Message> messages;
  int close_code = 0;
  std::function<void(const Message&)> on_message;

  // Connects with the token as a subprotocol (as browsers do) and reads until the server
  // closes the connection.
  void Follow(const std::string& port, const std::string& deploy_id, const std::string& token) {
    namespace beast = boost::beast;
    boost::asio::io_context io;
    beast::websocket::stream<boost::asio::ip::tcp::socket> ws(io);
    boost::system::error_code ec;
    ws.next_layer().connect(
        {boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(std::stoi(port))},
        ec);
    if (ec) return;
    ws.set_option(beast::websocket::stream_base::decorator([&](beast::websocket::request_type& r) {
      r.set(beast::http::field::sec_websocket_protocol, "replideploy.log.v1, bearer." + token);
    }));
    ws.handshake("127.0.0.1", "/api/v1/deploys/" + deploy_id + "/log/stream", ec);
    if (ec) return;
    for (;;) {
      beast::flat_buffer buffer;
      ws.read(buffer, ec);
      if (ec) break;
      boost::json::value v = boost::json::parse(beast::buffers_to_string(buffer.data()), ec);
      if (ec || !v.is_object()) continue;
      Message m;
      m.type = std::string(v.at("type").as_string());
      if (v.as_object().contains("state")) m.state = std::string(v.at("state").as_string());
      if (m.type == "lines") {
        for (const auto& line : v.at("lines").as_array()) {
          m.lines.emplace_back(line.at("line").as_string());
        }
      }
      if (on_message) on_message(m);
      messages.push_back(std::move(m));
    }
    close_code = ws.reason().code;
  }
  // The index of the first message holding a line containing `text`, or -1.
  int FirstWith(const std::string& text) const {
    for (std::size_t i = 0; i < messages.size(); ++i) {
      for (const auto& l : messages[i].lines) {
        if (l.find(text) != std::string::npos) return static_cast<int>(i);
      }
    }
    return -1;
  }
};

TEST_F(Binary, LogLinesArriveOverTheWebSocketWhileTheBuildRuns) {
  pid_t pid = 0;
  const std::string port = StartServer(pid);
  ASSERT_FALSE(port.empty()) << ReadFile(dir_ + "/stderr");
  const std::string base = "http://127.0.0.1:" + port;
  const std::string token = SignUpToken(base, "ws@example.com");
  ASSERT_FALSE(token.empty());
  ASSERT_EQ(Call(base, "POST", "/api/v1/sites", R"({"name":"live"})", token, "")->status, 201);
  // The build prints a line, then waits until the test, having seen that line over the
  // WebSocket, drops a file into the build's workspace: the line cannot have come from a
  // finished log.
  ASSERT_TRUE(CommitAndPush(dir_ + "/repo",
                            {{"index.html", "<h1>live</h1>"},
                             {"netlify.toml",
                              R"([build]
  command = 'printf "\033[32mstep %s\033[0m\n" one; for i in $(seq 1200); do test -e /workspace/go && break; sleep 0.1; done; echo step $((1 + 1)); mkdir -p out && cp index.html out/'
  publish = "out"
)"}},
                            "http://x:" + token + "@127.0.0.1:" + port + "/git/live.git"));
  auto building = NewestDeploy(base, token, "live", [](const std::string& s) {
    return s == "building" || s == "ready" || s == "error";
  });
  ASSERT_EQ(building.second, "building");

  std::string state_when_seen;
  LogViewer first, second;
  first.on_message = [&](const LogViewer::Message& m) {
    for (const auto& l : m.lines) {
      if (l.find("step one") == std::string::npos || !state_when_seen.empty()) continue;
      state_when_seen = JsonField(
          Call(base, "GET", "/api/v1/deploys/" + building.first, "", token, "")->body, "state");
      for (const auto& job : fs::directory_iterator(DataDir() + "/builds")) {
        std::ofstream(job.path() / "go") << "go";
      }
    }
  };
  std::thread other([&] { second.Follow(port, building.first, token); });
  first.Follow(port, building.first, token);
  other.join();

  EXPECT_EQ(state_when_seen, "building") << "the line arrived while the build waited for it";
  for (const LogViewer* viewer : {&first, &second}) {
    const int one = viewer->FirstWith("step one");
    const int two = viewer->FirstWith("step 2");
    ASSERT_GE(one, 0);
    ASSERT_GE(two, one);
    // The viewer that released the build got the second line in a later message. (The other
    // may have read both in one batch, if it connected after the release.)
    if (viewer == &first) {
      EXPECT_GT(two, one);
    }
    ASSERT_FALSE(viewer->messages.empty());
    EXPECT_EQ(viewer->messages.back().type, "end");
    EXPECT_EQ(viewer->messages.back().state, "ready");
    EXPECT_EQ(viewer->close_code, 1000);
  }
  // Colours are passed through for the dashboard to render.
  bool coloured = false;
  for (const auto& m : first.messages) {
    for (const auto& l : m.lines) coloured |= l.find("\x1b[32mstep one") != std::string::npos;
  }
  EXPECT_TRUE(coloured);

  // A finished deploy: the whole log, then the end, at once.
  LogViewer late;
  late.Follow(port, building.first, token);
  EXPECT_GE(late.FirstWith("step 2"), 0);
  ASSERT_FALSE(late.messages.empty());
  EXPECT_EQ(late.messages.back().type, "end");
  // No token, or someone else's deploy: closed with a code a browser can read.
  LogViewer stranger;
  stranger.Follow(port, building.first, "not-a-token");
  EXPECT_EQ(stranger.close_code, 4401);
  EXPECT_TRUE(stranger.messages.empty());
  LogViewer other_user;
  other_user.Follow(port, building.first, SignUpToken(base, "other@example.com"));
  EXPECT_EQ(other_user.close_code, 4404);
  // Not a WebSocket request: a clear error.
  EXPECT_EQ(
      Call(base, "GET", "/api/v1/deploys/" + building.first + "/log/stream", "", token, "")->status,
      426);
  kill(pid, SIGTERM);
  EXPECT_EQ(Wait(pid).exit_code, 0);
}

TEST_F(Binary, KillingAWorkerMidBuildRetriesTheBuildElsewhere) {
  pid_t pid = 0;
  // This server builds nothing itself; separate worker processes do, with a short lease.
  const std::string port = StartServer(pid, {"--build-workers", "0", "--build-lease-seconds", "2"});
  ASSERT_FALSE(port.empty()) << ReadFile(dir_ + "/stderr");
  const std::string base = "http://127.0.0.1:" + port;
  const std::vector<std::string> worker_args = {"worker", "--data-dir", DataDir(),
                                                "--build-lease-seconds", "2"};
  pid_t worker = Spawn(worker_args, {}, "worker1-");
  const std::string token = SignUpToken(base, "worker@example.com");
  ASSERT_EQ(Call(base, "POST", "/api/v1/sites", R"({"name":"retry"})", token, "")->status, 201);
  // The build waits until the test drops a file into its workspace: the first attempt is still
  // building when its worker is killed, and the retry finishes when the test lets it.
  ASSERT_TRUE(CommitAndPush(dir_ + "/repo",
                            {{"index.html", "<h1>retried</h1>"}, {"netlify.toml", R"([build]
  command = "echo at the gate; for i in $(seq 1200); do test -e /workspace/go && break; sleep 0.1; done; mkdir -p out && cp index.html out/"
  publish = "out"
)"}},
                            "http://x:" + token + "@127.0.0.1:" + port + "/git/retry.git"));
  auto building = NewestDeploy(base, token, "retry", [](const std::string& s) {
    return s == "building" || s == "ready" || s == "error";
  });
  ASSERT_EQ(building.second, "building") << ReadFile(dir_ + "/worker1-stderr");
  // Kill the worker while its build runs: no goodbye, no lease renewal.
  kill(worker, SIGKILL);
  Wait(worker);
  pid_t rescuer = Spawn(worker_args, {}, "worker2-");
  // The retry cleared the workspace and waits at the gate again: open it.
  const auto retry_at_gate = [&] {
    auto log = Call(base, "GET", "/api/v1/deploys/" + building.first + "/log", "", token, "");
    const std::size_t retry = log.ok() ? log->body.find("attempt 2") : std::string::npos;
    return retry != std::string::npos && log->body.find("at the gate", retry) != std::string::npos;
  };
  EXPECT_TRUE(core::testing::WaitUntil(retry_at_gate)) << ReadFile(dir_ + "/worker2-stderr");
  for (const auto& job : fs::directory_iterator(DataDir() + "/builds")) {
    std::ofstream(job.path() / "go") << "go";
  }
  auto done = NewestDeploy(base, token, "retry",
                           [](const std::string& s) { return s == "ready" || s == "error"; });
  EXPECT_EQ(done.first, building.first) << "the same deploy, built again";
  EXPECT_EQ(done.second, "ready") << ReadFile(dir_ + "/worker2-stderr");
  const std::string log =
      Call(base, "GET", "/api/v1/deploys/" + done.first + "/log", "", token, "")->body;
  EXPECT_NE(log.find("attempt 2"), std::string::npos) << log;
  EXPECT_EQ(Call(base, "GET", "/", "", "", "retry.localhost")->body, "<h1>retried</h1>");
  // A worker stopping politely hands its build back instead of failing it.
  kill(rescuer, SIGTERM);
  EXPECT_EQ(Wait(rescuer).exit_code, 0);
  kill(pid, SIGTERM);
  EXPECT_EQ(Wait(pid).exit_code, 0);
}

// The worker runs as root after the sandboxed build: symlinks planted by the repository or the
// build must not make it publish host files or move host folders.
TEST_F(Binary, SymlinksCannotLeadTheWorkerOutsideTheRepository) {
  pid_t pid = 0;
  const std::string port = StartServer(pid);
  ASSERT_FALSE(port.empty()) << ReadFile(dir_ + "/stderr");
  const std::string base = "http://127.0.0.1:" + port;
  const std::string token = SignUpToken(base, "links@example.com");
  const std::string host_dir = dir_ + "/host";
  fs::create_directories(host_dir + "/node_modules");
  std::ofstream(host_dir + "/node_modules/marker") << "host";
  std::ofstream(host_dir + "/secret.txt") << "host secret";
  auto push_and_wait = [&](const std::string& site,
                           const std::function<void(const std::string&)>& make) {
    EXPECT_EQ(
        Call(base, "POST", "/api/v1/sites", R"({"name":")" + site + R"("})", token, "")->status,
        201);
    const std::string repo = dir_ + "/" + site;
    fs::create_directories(repo);
    make(repo);
    EXPECT_TRUE(CommitAndPush(
        repo, {}, "http://x:" + token + "@127.0.0.1:" + port + "/git/" + site + ".git"));
    auto done = NewestDeploy(base, token, site,
                             [](const std::string& s) { return s == "ready" || s == "error"; });
    auto d = Call(base, "GET", "/api/v1/deploys/" + done.first, "", token, "");
    return std::pair(done.second, JsonField(d->body, "error_message"));
  };
  // A committed symlink as the publish folder.
  auto committed = push_and_wait("link-publish", [&](const std::string& repo) {
    fs::create_directory_symlink(host_dir, repo + "/out");
    std::ofstream(repo + "/netlify.toml") << "[build]\n  command = \"true\"\n  publish = \"out\"\n";
  });
  EXPECT_EQ(committed.first, "error");
  EXPECT_NE(committed.second.find("symbolic link"), std::string::npos) << committed.second;
  // A symlink made by the build.
  auto built = push_and_wait("link-built", [&](const std::string& repo) {
    std::ofstream(repo + "/netlify.toml")
        << "[build]\n  command = \"ln -s " << host_dir << " out\"\n  publish = \"out\"\n";
  });
  EXPECT_EQ(built.first, "error");
  EXPECT_NE(built.second.find("symbolic link"), std::string::npos) << built.second;
  // The build swaps its base folder (where node_modules is moved back from) for a link to a
  // host folder: nothing there is moved.
  auto swapped = push_and_wait("link-base", [&](const std::string& repo) {
    fs::create_directories(repo + "/site");
    std::ofstream(repo + "/site/package.json") << R"({"name":"x","version":"1.0.0"})";
    std::ofstream(repo + "/site/package-lock.json")
        << R"({"name":"x","version":"1.0.0","lockfileVersion":3,"requires":true,)"
           R"("packages":{"":{"name":"x","version":"1.0.0"}}})";
    std::ofstream(repo + "/netlify.toml")
        << "[build]\n  base = \"site\"\n  command = \"cd .. && rm -rf site && ln -s " << host_dir
        << " site\"\n  publish = \".\"\n";
  });
  EXPECT_EQ(swapped.first, "error");
  EXPECT_NE(swapped.second.find("symbolic link"), std::string::npos) << swapped.second;
  EXPECT_EQ(ReadFile(host_dir + "/node_modules/marker"), "host") << "the host folder stays";
  EXPECT_EQ(ReadFile(host_dir + "/secret.txt"), "host secret");
  for (const char* site : {"link-publish", "link-built", "link-base"}) {
    EXPECT_EQ(Call(base, "GET", "/secret.txt", "", "", std::string(site) + ".localhost")->status,
              404);
  }
  kill(pid, SIGTERM);
  EXPECT_EQ(Wait(pid).exit_code, 0);
}

// SIGTERM while someone watches a build's log: the viewer is told (1001) and the server exits
// cleanly (the sockets held by the log hub are let go before the server's I/O context ends).
TEST_F(Binary, StopsCleanlyWhileLiveLogViewersAreConnected) {
  pid_t pid = 0;
  const std::string port = StartServer(pid);
  ASSERT_FALSE(port.empty()) << ReadFile(dir_ + "/stderr");
  const std::string base = "http://127.0.0.1:" + port;
  const std::string token = SignUpToken(base, "stop@example.com");
  ASSERT_EQ(Call(base, "POST", "/api/v1/sites", R"({"name":"watched"})", token, "")->status, 201);
  ASSERT_TRUE(CommitAndPush(
      dir_ + "/repo",
      {{"index.html", "x"}, {"netlify.toml", "[build]\n  command = \"echo waiting; sleep 600\"\n"}},
      "http://x:" + token + "@127.0.0.1:" + port + "/git/watched.git"));
  auto building = NewestDeploy(base, token, "watched", [](const std::string& s) {
    return s == "building" || s == "ready" || s == "error";
  });
  ASSERT_EQ(building.second, "building");
  LogViewer viewer;
  std::atomic<bool> saw_line{false};
  viewer.on_message = [&](const LogViewer::Message& m) {
    for (const auto& l : m.lines) {
      if (l == "waiting") saw_line = true;
    }
  };
  std::thread follower([&] { viewer.Follow(port, building.first, token); });
  for (int i = 0; i < 600 && !saw_line; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(saw_line);
  kill(pid, SIGTERM);
  const Outcome stopped = Wait(pid);
  follower.join();
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
  EXPECT_EQ(viewer.close_code, 1001);
  EXPECT_EQ(stopped.err.find("AddressSanitizer"), std::string::npos) << stopped.err;
}

}  // namespace
}  // namespace replideploy::cli
