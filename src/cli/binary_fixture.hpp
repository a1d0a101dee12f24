// A test fixture that runs the real `replideploy` binary (REPLIDEPLOY_BINARY, set by ctest):
// spawning it, starting `serve` on a loopback port, calling its API, pushing commits to it.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "http/client.hpp"

namespace replideploy::cli {

struct Outcome {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class BinaryFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* path = std::getenv("REPLIDEPLOY_BINARY");
    ASSERT_NE(path, nullptr) << "REPLIDEPLOY_BINARY must name the built binary (ctest sets it)";
    binary_ = path;
    std::string tmpl = TempParent() + "/rd-binary-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr) << TempParent();
    dir_ = tmpl;
  }
  // Where the test's folder (and the server's data dir in it) is made.
  virtual std::string TempParent() const { return "/tmp"; }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Starts the binary with stdout/stderr going to files; returns the pid.
  pid_t Spawn(std::vector<std::string> args, const std::vector<std::string>& env = {},
              const std::string& name = "") {
    const std::string out = dir_ + "/" + name + "stdout", err = dir_ + "/" + name + "stderr";
    pid_t pid = fork();
    if (pid == 0) {
      FILE* o = freopen(out.c_str(), "w", stdout);
      FILE* e = freopen(err.c_str(), "w", stderr);
      if (o == nullptr || e == nullptr) _exit(127);
      // `deploy`'s cache (cli/deploy_cache.hpp) in the test's folder, not the user's.
      static std::string cache_env;
      cache_env = "XDG_CACHE_HOME=" + dir_ + "/xdg-cache";
      putenv(cache_env.data());
      for (const auto& kv : env) putenv(const_cast<char*>(kv.c_str()));
      std::vector<char*> argv{const_cast<char*>(binary_.c_str())};
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(binary_.c_str(), argv.data());
      _exit(127);
    }
    return pid;
  }
  Outcome Wait(pid_t pid) {
    int status = 0;
    waitpid(pid, &status, 0);
    Outcome run;
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    run.out = ReadFile(dir_ + "/stdout");
    run.err = ReadFile(dir_ + "/stderr");
    return run;
  }
  Outcome Exec(std::vector<std::string> args, const std::vector<std::string>& env = {}) {
    return Wait(Spawn(std::move(args), env));
  }
  std::string DataDir() { return dir_ + "/data"; }

  // Starts `serve` on port 0 over DataDir() and waits (bounded) for the line naming the port.
  // Returns the port, or "" when the server did not come up.
  std::string StartServer(pid_t& pid, std::vector<std::string> extra = {}) {
    return StartRole(pid, "serve", std::move(extra));
  }
  // The same for any role (`api`, `edge`, ...); its output goes to <name>stdout, <name>stderr.
  std::string StartRole(pid_t& pid, const std::string& role, std::vector<std::string> extra = {},
                        const std::string& name = "") {
    std::filesystem::remove(dir_ + "/" + name + "stdout");
    std::vector<std::string> args = {role, "--listen", "127.0.0.1:0", "--data-dir", DataDir()};
    args.insert(args.end(), extra.begin(), extra.end());
    pid = Spawn(args, {}, name);
    const std::regex re("listening on 127\\.0\\.0\\.1:([0-9]+)");
    std::smatch m;
    std::string out;
    for (int i = 0; i < 600 && !std::regex_search(out, m, re); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      out = ReadFile(dir_ + "/" + name + "stdout");
    }
    return std::regex_search(out, m, re) ? m[1].str() : "";
  }

  static Result<http::ClientResponse> Call(const std::string& base, const std::string& method,
                                           const std::string& path, const std::string& body,
                                           const std::string& token, const std::string& host) {
    http::ClientRequest r;
    r.method = method;
    r.url = base + path;
    r.body = body;
    if (!token.empty()) r.headers.Set("Authorization", "Bearer " + token);
    if (!host.empty()) r.headers.Set("Host", host);
    return http::Fetch(r);
  }

  // A test's calls of the server at `base`: the answer, or an empty one and a failed
  // expectation when there is none; without a host, `default_host` (none when empty).
  struct Caller {
    std::string base;
    std::string default_host;
    http::ClientResponse operator()(const std::string& method, const std::string& path,
                                    const std::string& body, const std::string& token) const {
      return (*this)(method, path, body, token, default_host);
    }
    http::ClientResponse operator()(const std::string& method, const std::string& path,
                                    const std::string& body, const std::string& token,
                                    const std::string& host) const {
      auto got = Call(base, method, path, body, token, host);
      EXPECT_TRUE(got.ok());
      return got.ok() ? *got : http::ClientResponse{};
    }
  };

  // A string field of a JSON object body, or "".
  static std::string JsonField(const std::string& body, const char* name) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(body, ec);
    return ec || !v.is_object() || !v.as_object().contains(name) || !v.at(name).is_string()
               ? std::string()
               : std::string(v.at(name).as_string());
  }

  // Registers, logs in and creates an API token on the server at `base`; returns the token.
  static std::string SignUpToken(const std::string& base, const std::string& email) {
    const std::string creds = R"({"email":")" + email + R"(","password":"password123"})";
    (void)Call(base, "POST", "/auth/register", creds, "", "");
    auto login = Call(base, "POST", "/auth/login", creds, "", "");
    if (!login.ok()) return "";
    const std::string jwt = JsonField(login->body, "token");
    auto token = Call(base, "POST", "/api/v1/tokens", R"({"name":"t"})", jwt, "");
    return token.ok() ? JsonField(token->body, "token") : "";
  }

  // Commits `files` in the repository at `repo` (created if needed) and pushes main to `remote`.
  // What git said goes to `repo`.log.
  static bool CommitAndPush(const std::string& repo,
                            const std::map<std::string, std::string>& files,
                            const std::string& remote) {
    std::filesystem::create_directories(repo);
    for (const auto& [path, content] : files) std::ofstream(repo + "/" + path) << content;
    const std::string cmd = "cd '" + repo +
                            "' && (test -d .git || git init -q -b main) && git add -A && git -c "
                            "user.email=t@e -c user.name=t commit -qm change && git push -q '" +
                            remote + "' main >'" + repo + ".log' 2>&1";
    return std::system(cmd.c_str()) == 0;
  }

  // The newest deploy of a site: (id, state), waiting (bounded) until `until` says stop.
  static std::pair<std::string, std::string> NewestDeploy(
      const std::string& base, const std::string& token, const std::string& site,
      const std::function<bool(const std::string& state)>& until, int tries = 1800) {
    std::pair<std::string, std::string> d;
    for (int i = 0; i < tries; ++i) {
      auto list = Call(base, "GET", "/api/v1/sites/" + site + "/deploys", "", token, "");
      boost::system::error_code ec;
      boost::json::value v = boost::json::parse(list.ok() ? list->body : "", ec);
      if (!ec && v.is_array() && !v.as_array().empty()) {
        d = {std::string(v.as_array().front().at("id").as_string()),
             std::string(v.as_array().front().at("state").as_string())};
        if (until(d.second)) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return d;
  }

  std::string binary_;
  std::string dir_;
};

// The functions tests' fixture, shared by the files they are split into (one suite,
// `Functions`, needs one fixture type).
class Functions : public BinaryFixture {};

}  // namespace replideploy::cli
