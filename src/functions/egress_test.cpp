// Public-only network egress of function processes (docs/functions.md, "Network"), with real
// Node.js, bubblewrap, slirp4netns and nft, inside a lab of network namespaces of the test's own
// (sandbox/egress_testing.hpp): the "public internet" is a namespace on this machine, nothing
// leaves it. Skipped, with the reason, where the machine cannot do it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <thread>

#include "core/testing.hpp"
#include "functions/runtime.hpp"
#include "functions/testing.hpp"
#include "sandbox/egress_testing.hpp"
#include "store/testing.hpp"

namespace replideploy::functions {
namespace {

namespace fs = std::filesystem;
namespace lab = sandbox::testing;
using core::testing::WaitUntil;

std::string Unavailable() {
  std::string reason = lab::RealTestsUnavailable();
  if (reason.empty() && ::access("/usr/bin/node", X_OK) != 0) reason = "needs /usr/bin/node";
  return reason;
}

#define SKIP_UNLESS_THE_LAB_CAN_RUN()                                             \
  do {                                                                            \
    const std::string reason = Unavailable();                                     \
    if (!reason.empty()) GTEST_SKIP() << "real function egress test: " << reason; \
  } while (0)

// Answers each connection to `listener` with `HTTP 200 <body>` until destroyed.
class WebServer {
 public:
  WebServer(int listener, std::string body)
      : body_(std::move(body)),
        thread_([this, listener](const std::stop_token& stop) { Serve(listener, stop); }) {}

 private:
  void Serve(int listener, const std::stop_token& stop) const {
    while (!stop.stop_requested()) {
      pollfd ready{listener, POLLIN, 0};
      if (::poll(&ready, 1, 100) <= 0) continue;
      lab::Fd conn(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
      if (conn.get() < 0) continue;
      std::string request;
      char buffer[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        pollfd in{conn.get(), POLLIN, 0};
        if (::poll(&in, 1, 5000) <= 0) break;
        const ssize_t n = ::read(conn.get(), buffer, sizeof buffer);
        if (n <= 0) break;
        request.append(buffer, static_cast<std::size_t>(n));
      }
      const std::string answer = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                                 std::to_string(body_.size()) + "\r\nConnection: close\r\n\r\n" +
                                 body_;
      [[maybe_unused]] const ssize_t sent =
          ::send(conn.get(), answer.data(), answer.size(), MSG_NOSIGNAL);
    }
  }

  std::string body_;
  std::jthread thread_;
};

// The lab with a functions runtime in it, as the server wires one (SandboxOptions). Make it on
// the lab's thread (lab::RunInOwnNetns): the runner's spare networks, the runtime's processes
// and their slirp4netns are then the lab's, and "the host" is the lab's namespace. The host
// answers HTTP "host" on every address at host_port() (the server's own listener, its private,
// link-local and public addresses); the internet answers "hello" on web_port() at 203.0.113.10
// (public) and 10.50.0.1 (private).
class FunctionLab {
 public:
  FunctionLab(bool network, std::chrono::milliseconds idle_timeout) {
    if (!internet_.ok()) {
      ADD_FAILURE() << "the internet's namespace could not be made";
      return;
    }
    host_listener_ = lab::Listen("0.0.0.0", 0);
    lab::BuildLab(internet_, "");
    host_web_.emplace(host_listener_.get(), "host");
    internet_web_.emplace(internet_.web_fd(), "hello");
    auto store = store::LocalBlobStore::Open(tmp_.path() + "/store");
    if (!store.ok()) {
      ADD_FAILURE() << store.error().message;
      return;
    }
    blobs_ = std::move(store).value();
    runner_.emplace(SandboxOptions(sandbox::BubblewrapOptions{}, network));
    RuntimeOptions options;
    options.root_dir = tmp_.path() + "/functions";
    options.network = network;
    options.timeout = std::chrono::seconds(30);
    options.idle_timeout = idle_timeout;
    runtime_.emplace(*blobs_, *runner_, std::move(options));
  }

  bool ok() const { return runtime_.has_value(); }
  FunctionRuntime& runtime() { return *runtime_; }
  sandbox::BubblewrapRunner& runner() { return *runner_; }
  int host_port() const { return lab::PortOf(host_listener_); }
  int web_port() const { return internet_.web_port(); }

  // A call of a function whose only module is `fn.mjs` = `module`, in a deploy of its own (so
  // its first call is a cold start).
  FunctionRequest Deployed(const std::string& module) {
    auto blob = blobs_->Put(testing::Zip({{"fn.mjs", module}}));
    EXPECT_TRUE(blob.ok());
    return testing::RequestFor(blob.ok() ? blob->sha256 : "", "fn",
                               "d" + std::to_string(++deploys_));
  }

  // Ends the runtime (every process), then the runner (its spare), as the server's shutdown.
  void Stop() {
    runtime_.reset();
    runner_.reset();
  }

 private:
  lab::Internet internet_;
  lab::Fd host_listener_;
  std::optional<WebServer> host_web_;
  std::optional<WebServer> internet_web_;
  store::testing::ScopedTempDir tmp_;
  std::unique_ptr<store::BlobStore> blobs_;
  std::optional<sandbox::BubblewrapRunner> runner_;
  std::optional<FunctionRuntime> runtime_;
  int deploys_ = 0;
};

// Prints how long the first call of a trivial function takes: a new process (its network taken
// from the spare, or none), Node.js and the bootstrap starting. A report, not a check.
void ReportColdStart(FunctionLab& lab, std::string_view network) {
  const FunctionRequest request = lab.Deployed("export default async () => new Response('hi');");
  const auto start = std::chrono::steady_clock::now();
  const FunctionResponse response = lab.runtime().Invoke(request);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  EXPECT_EQ(response.status, 200) << response.body;
  std::cout << "[ functions ] cold start, network " << network << ": " << took.count() << " ms\n";
}

// Fetches every URL of the request's JSON body ({name: url}) at once and answers {name: "ok
// <body>" | "error <code>"}, as a function reporting a failed fetch() would.
constexpr const char* kFetcher = R"(
export default async (req) => {
  const out = {};
  await Promise.all(Object.entries(await req.json()).map(async ([name, url]) => {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
      out[name] = "ok " + (await res.text());
    } catch (e) {
      out[name] = "error " + (e.cause?.code ?? e.cause?.name ?? e.name);
    }
  }));
  return Response.json(out);
};)";

std::map<std::string, std::string> Fetch(FunctionLab& lab,
                                         const std::map<std::string, std::string>& urls) {
  FunctionRequest request = lab.Deployed(kFetcher);
  request.method = "POST";
  boost::json::object body;
  for (const auto& [name, url] : urls) body[name] = url;
  request.body = boost::json::serialize(body);
  const FunctionResponse response = lab.runtime().Invoke(request);
  EXPECT_EQ(response.status, 200) << response.body;
  std::map<std::string, std::string> results;
  boost::system::error_code ec;
  const boost::json::value answer = boost::json::parse(response.body, ec);
  if (ec || !answer.is_object()) {
    ADD_FAILURE() << "not a JSON object: " << response.body;
    return results;
  }
  for (const auto& [name, value] : answer.get_object()) {
    results[std::string(name)] = value.is_string() ? std::string(value.get_string()) : "?";
  }
  return results;
}

std::string Url(const std::string& address, int port) {
  return "http://" + address + ":" + std::to_string(port) + "/";
}

// The host's addresses and the private ones, all of which answer HTTP when reached.
std::map<std::string, std::string> RefusedUrls(const FunctionLab& lab) {
  const int host = lab.host_port();
  return {
      {"server-loopback", Url("127.0.0.1", host)},
      {"host-private-10", Url("10.99.0.1", host)},
      {"host-private-192", Url("192.168.7.7", host)},
      {"metadata", "http://169.254.169.254:" + std::to_string(host) + "/latest/meta-data/"},
      {"host-public", Url("192.0.2.2", host)},
      {"host-through-slirp", Url("10.0.2.2", host)},
      {"private-on-the-internet", Url("10.50.0.1", lab.web_port())},
  };
}

TEST(FunctionEgress, FetchReachesThePublicInternetButNotTheHostOrPrivateAddresses) {
  SKIP_UNLESS_THE_LAB_CAN_RUN();
  lab::RunInOwnNetns([] {
    FunctionLab lab(/*network=*/true, std::chrono::minutes(5));
    ASSERT_TRUE(lab.ok());
    ASSERT_TRUE(WaitUntil([&] { return lab.runner().SpareNetworksForTest() == 1; }));
    ReportColdStart(lab, "public (the spare)");
    auto urls = RefusedUrls(lab);
    urls["public"] = Url("203.0.113.10", lab.web_port());
    const auto results = Fetch(lab, urls);
    ASSERT_EQ(results.size(), urls.size());
    EXPECT_EQ(results.at("public"), "ok hello");
    for (const auto& [name, result] : results) {
      if (name == "public") continue;
      // Refused by the rules (a TCP reset), not timed out: the host answers HTTP on all of them.
      EXPECT_EQ(result, "error ECONNREFUSED") << name;
    }
  });
}

TEST(FunctionEgress, NetworkNoneReachesNothing) {
  SKIP_UNLESS_THE_LAB_CAN_RUN();
  lab::RunInOwnNetns([] {
    FunctionLab lab(/*network=*/false, std::chrono::minutes(5));
    ASSERT_TRUE(lab.ok());
    ReportColdStart(lab, "none");
    auto urls = RefusedUrls(lab);
    urls["public"] = Url("203.0.113.10", lab.web_port());
    const auto results = Fetch(lab, urls);
    ASSERT_EQ(results.size(), urls.size());
    for (const auto& [name, result] : results) {
      EXPECT_TRUE(result.starts_with("error ")) << name << ": " << result;
    }
    EXPECT_EQ(lab.runner().SpareNetworksForTest(), 0U);
  });
}

// slirp4netns processes of ours (each SandboxNetwork has one).
std::size_t SlirpProcesses() {
  std::size_t count = 0;
  for (const pid_t pid : lab::ChildrenOfThisProcess()) {
    std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
    std::string name;
    if (std::getline(comm, name) && name == "slirp4netns") ++count;
  }
  return count;
}

// Network namespaces we hold open (each SandboxNetwork holds its own).
std::size_t NetworkNamespaceFds() {
  std::size_t count = 0;
  std::error_code ec;
  for (const auto& fd : fs::directory_iterator("/proc/self/fd", ec)) {
    if (fs::read_symlink(fd.path(), ec).string().starts_with("net:[")) ++count;
  }
  return count;
}

// Every process has its own network; it goes when the process is reaped idle, crashes or is
// killed at shutdown, and the spare goes with the runner.
TEST(FunctionEgress, EveryNetworkIsTornDownWithItsProcessAndTheSpareWithTheRunner) {
  SKIP_UNLESS_THE_LAB_CAN_RUN();
  lab::RunInOwnNetns([] {
    const std::size_t slirps_before = SlirpProcesses();
    const std::size_t namespaces_before = NetworkNamespaceFds();
    // Networks alive: `n` of them, one slirp4netns and one namespace each.
    const auto networks_are = [&](std::size_t n) {
      return WaitUntil([&] {
        return SlirpProcesses() == slirps_before + n &&
               NetworkNamespaceFds() == namespaces_before + n;
      });
    };
    // Idle processes are reaped within a second.
    FunctionLab lab(/*network=*/true, std::chrono::milliseconds(0));
    ASSERT_TRUE(lab.ok());
    FunctionRuntime& runtime = lab.runtime();
    // The spare, made ahead by the runner's own thread (its slirp4netns runs a moment before
    // the runner lists it).
    EXPECT_TRUE(networks_are(1));
    EXPECT_TRUE(WaitUntil([&] { return lab.runner().SpareNetworksForTest() == 1; }));

    const auto fetched = Fetch(lab, {{"public", Url("203.0.113.10", lab.web_port())}});
    EXPECT_EQ(fetched.at("public"), "ok hello");
    ASSERT_TRUE(WaitUntil([&] { return runtime.ProcessCountForTest() == 0; }));
    // Reaped: its network went with it; a new spare replaced the one it took.
    EXPECT_TRUE(networks_are(1));
    EXPECT_TRUE(WaitUntil([&] { return lab.runner().SpareNetworksForTest() == 1; }));

    const FunctionResponse crashed =
        runtime.Invoke(lab.Deployed("export default async () => process.exit(3);"));
    EXPECT_EQ(crashed.status, 502) << crashed.body;
    ASSERT_TRUE(WaitUntil([&] { return runtime.ProcessCountForTest() == 0; }));
    EXPECT_TRUE(networks_are(1));

    // Busy when the server shuts down: killed, its call answered, its network gone.
    FunctionRequest hang =
        lab.Deployed("export default () => new Promise(() => setInterval(() => {}, 1000));");
    FunctionResponse hung;
    std::thread caller([&] { hung = runtime.Invoke(hang); });
    EXPECT_TRUE(WaitUntil([&] { return runtime.BusyCountForTest() == 1; }));
    EXPECT_TRUE(networks_are(2));  // the process's and the spare
    runtime.Shutdown();
    caller.join();
    EXPECT_EQ(hung.status, 502) << hung.body;
    lab.Stop();
    EXPECT_EQ(SlirpProcesses(), slirps_before);
    EXPECT_EQ(NetworkNamespaceFds(), namespaces_before);
  });
}

}  // namespace
}  // namespace replideploy::functions
