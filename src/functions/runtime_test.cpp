// The functions runtime with real Node.js in the real sandbox (bubblewrap): skipped, with a
// message, where either is missing.
#include "functions/runtime.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <thread>

#include "core/crypto.hpp"
#include "core/metrics.hpp"
#include "core/testing.hpp"
#include "functions/prewarm.hpp"
#include "functions/testing.hpp"
#include "sandbox/runner.hpp"
#include "store/testing.hpp"

namespace replideploy::functions {
namespace {

namespace fs = std::filesystem;

using testing::Zip;

bool HaveNodeAndSandbox() {
  return ::access("/usr/bin/bwrap", X_OK) == 0 && ::access("/usr/bin/node", X_OK) == 0;
}

class FunctionRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveNodeAndSandbox()) GTEST_SKIP() << "needs /usr/bin/bwrap and /usr/bin/node";
    auto store = store::LocalBlobStore::Open(tmp_.path() + "/store");
    ASSERT_TRUE(store.ok()) << store.error().message;
    blobs_ = std::move(store).value();
  }

  FunctionRuntime& Runtime(RuntimeOptions options = {}) {
    options.root_dir = tmp_.path() + "/functions";
    runtime_ = std::make_unique<FunctionRuntime>(*blobs_, runner_, std::move(options));
    return *runtime_;
  }

  // Stores `zip` and returns a request for it as function `name` of deploy `deploy`.
  FunctionRequest Deployed(const std::string& zip, const std::string& name = "fn",
                           const std::string& deploy = "d1") {
    auto blob = blobs_->Put(zip);
    EXPECT_TRUE(blob.ok());
    return testing::RequestFor(blob.ok() ? blob->sha256 : "", name, deploy);
  }

  store::testing::ScopedTempDir tmp_;
  std::unique_ptr<store::BlobStore> blobs_;
  sandbox::BubblewrapRunner runner_;
  std::unique_ptr<FunctionRuntime> runtime_;
};

std::string HeaderOf(const FunctionResponse& r, std::string_view name, int nth = 0) {
  for (const auto& [k, v] : r.headers) {
    std::string lower;
    for (char c : k) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == name && nth-- == 0) return v;
  }
  return "";
}

TEST_F(FunctionRuntimeTest, V1HandlerGetsNetlifysEvent) {
  auto& rt = Runtime();
  FunctionRequest r = Deployed(Zip({{"fn.js", R"(
exports.handler = async (event, context) => ({
  statusCode: 201,
  headers: { "x-method": event.httpMethod, "content-type": "application/json" },
  multiValueHeaders: { "set-cookie": ["a=1", "b=2"] },
  body: JSON.stringify({ q: event.queryStringParameters, mq: event.multiValueQueryStringParameters,
    path: event.path, rawUrl: event.rawUrl, rawQuery: event.rawQuery, h: event.headers["x-in"],
    cookie: event.headers.cookie, body: event.body, b64: event.isBase64Encoded,
    id: context.awsRequestId }),
});)"}}));
  r.method = "POST";
  r.raw_query = "a=1&a=2&b=x%20y";
  r.raw_url += "?" + r.raw_query;
  r.headers = {{"X-In", "hello"}, {"Cookie", "c=3"}, {"Content-Type", "text/plain"}};
  r.body = "the body";
  const FunctionResponse res = rt.Invoke(r);
  ASSERT_EQ(res.status, 201) << res.body;
  EXPECT_EQ(HeaderOf(res, "x-method"), "POST");
  EXPECT_EQ(HeaderOf(res, "set-cookie", 0), "a=1");
  EXPECT_EQ(HeaderOf(res, "set-cookie", 1), "b=2");
  EXPECT_NE(res.body.find(R"("q":{"a":"1,2","b":"x y"})"), std::string::npos) << res.body;
  EXPECT_NE(res.body.find(R"("mq":{"a":["1","2"],"b":["x y"]})"), std::string::npos) << res.body;
  EXPECT_NE(res.body.find(R"("path":"/.netlify/functions/fn")"), std::string::npos);
  EXPECT_NE(res.body.find(R"("rawQuery":"a=1&a=2&b=x%20y")"), std::string::npos);
  EXPECT_NE(res.body.find(R"("h":"hello","cookie":"c=3")"), std::string::npos) << res.body;
  EXPECT_NE(res.body.find(R"("body":"the body","b64":false,"id":"req-1")"), std::string::npos)
      << res.body;
}

TEST_F(FunctionRuntimeTest, V1CallbackStyleAndWarmReuse) {
  auto& rt = Runtime();
  FunctionRequest r = Deployed(Zip({{"fn.js", R"(
let calls = 0;
exports.handler = function (event, context, callback) {
  calls += 1;
  callback(null, { statusCode: 200, body: "call " + calls });
};)"}}));
  EXPECT_EQ(rt.Invoke(r).body, "call 1");
  // The same warm process answers the next call.
  EXPECT_EQ(rt.Invoke(r).body, "call 2");
  EXPECT_EQ(rt.ProcessCountForTest(), 1u);
}

// What netlify-cli (zip-it-and-ship-it) uploads for a v2 function: its entry point names the
// user's module.
TEST_F(FunctionRuntimeTest, V2FunctionFromNetlifysZipLayout) {
  auto& rt = Runtime();
  FunctionRequest r = Deployed(Zip({
      {"___netlify-entry-point.mjs",
       "import * as bootstrap from './___netlify-bootstrap.mjs';"
       "export const handler = bootstrap.getLambdaHandler('./hello.mjs')"},
      {"___netlify-bootstrap.mjs", "throw new Error('Netlify bootstrap is not ours to run');"},
      {"hello.mjs", R"(
export default async (req, context) => {
  context.cookies.set({ name: "seen", value: "yes", path: "/" });
  const url = new URL(req.url);
  return Response.json({
    method: req.method, q: url.searchParams.get("q"), h: req.headers.get("x-in"),
    site: context.site.name, deploy: context.deploy.id, ctx: context.deploy.context,
    requestId: context.requestId, ip: context.ip, cookie: context.cookies.get("c"),
    home: Netlify.env.get("LAMBDA_TASK_ROOT"),
  }, { status: 202, headers: { "x-out": "v2" } });
};)"},
  }));
  r.raw_query = "q=%C3%A9";
  r.raw_url += "?" + r.raw_query;
  r.headers = {{"X-In", "hello"}, {"Cookie", "c=3; d=4"}};
  const FunctionResponse res = rt.Invoke(r);
  ASSERT_EQ(res.status, 202) << res.body;
  EXPECT_EQ(HeaderOf(res, "x-out"), "v2");
  EXPECT_EQ(HeaderOf(res, "set-cookie"), "seen=yes; Path=/");
  EXPECT_EQ(res.body, R"({"method":"GET","q":"é","h":"hello","site":"mysite","deploy":"d1",)"
                      R"("ctx":"production","requestId":"req-1","ip":"203.0.113.7","cookie":"3",)"
                      R"("home":"/var/task"})");
}

TEST_F(FunctionRuntimeTest, BinaryBodiesBothWays) {
  auto& rt = Runtime();
  FunctionRequest r = Deployed(Zip({{"fn.mjs", R"(
export default async (req) => {
  const bytes = new Uint8Array(await req.arrayBuffer());
  return new Response(bytes.reverse(), { headers: { "content-type": "application/octet-stream" } });
};)"}}));
  r.method = "POST";
  r.headers = {{"Content-Type", "application/octet-stream"}};
  for (int i = 0; i < 256; ++i) r.body += static_cast<char>(i);
  const FunctionResponse res = rt.Invoke(r);
  ASSERT_EQ(res.status, 200) << res.body;
  std::string expected(r.body.rbegin(), r.body.rend());
  EXPECT_EQ(res.body, expected);
  // And a v1 handler answering base64.
  FunctionRequest v1 =
      Deployed(Zip({{"bin.js",
                     "exports.handler = async () => ({ statusCode: 200, body: "
                     "Buffer.from([0, 255, 1]).toString('base64'), isBase64Encoded: true });"}}),
               "bin");
  EXPECT_EQ(rt.Invoke(v1).body, std::string("\x00\xff\x01", 3));
}

TEST_F(FunctionRuntimeTest, ThrownErrorIs502AndTheProcessStaysWarm) {
  auto& rt = Runtime();
  FunctionRequest r = Deployed(Zip({{"fn.mjs", R"(
let n = 0;
export default async () => {
  n += 1;
  if (n === 1) throw new Error("boom");
  return new Response("after " + n);
};)"}}));
  auto calls = [](const char* code) {
    auto& h = core::metrics::Default().GetHistogram(
        "replideploy_function_invocation_duration_seconds", "", core::metrics::LatencyBuckets(),
        {{"code", code}});
    return h.Read().cumulative.back();
  };
  const std::uint64_t ok_before = calls("2xx"), failed_before = calls("5xx");
  EXPECT_EQ(rt.Invoke(r).status, 502);
  const FunctionResponse again = rt.Invoke(r);
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body, "after 2");
  // Each call is counted by the class of what the client got.
  EXPECT_EQ(calls("2xx") - ok_before, 1u);
  EXPECT_EQ(calls("5xx") - failed_before, 1u);
}

TEST_F(FunctionRuntimeTest, CrashAndLoadFailureAre502) {
  auto& rt = Runtime();
  FunctionRequest crash =
      Deployed(Zip({{"fn.js", "exports.handler = async () => { process.exit(3); };"}}));
  EXPECT_EQ(rt.Invoke(crash).status, 502);
  FunctionRequest broken = Deployed(Zip({{"bad.js", "this is not javascript"}}), "bad");
  EXPECT_EQ(rt.Invoke(broken).status, 502);
  FunctionRequest missing = Deployed(Zip({{"other.js", "exports.handler = 1"}}), "missing");
  EXPECT_EQ(rt.Invoke(missing).status, 502);
}

TEST_F(FunctionRuntimeTest, BodiesOver6MBAre413And502) {
  auto& rt = Runtime();
  FunctionRequest r = Deployed(Zip({{"fn.mjs", R"(
export default async (req) => {
  const n = Number(new URL(req.url).searchParams.get("n"));
  return new Response(new Uint8Array(n), { headers: { "content-type": "application/octet-stream" } });
};)"}}));
  r.raw_url += "?n=" + std::to_string(kMaxBodyBytes);
  const FunctionResponse fits = rt.Invoke(r);
  EXPECT_EQ(fits.status, 200);
  EXPECT_EQ(fits.body.size(), kMaxBodyBytes);
  r.raw_url += "0";  // ten times as much
  EXPECT_EQ(rt.Invoke(r).status, 502);
  FunctionRequest big = r;
  big.method = "POST";
  big.body.assign(kMaxBodyBytes + 1, 'x');
  EXPECT_EQ(rt.Invoke(big).status, 413);
}

TEST_F(FunctionRuntimeTest, InfiniteLoopTimesOutWith504AndTheProcessIsReplaced) {
  RuntimeOptions options;
  options.timeout = std::chrono::seconds(2);
  auto& rt = Runtime(options);
  FunctionRequest r = Deployed(Zip({{"fn.js", R"(
exports.handler = async (event) => {
  if (event.queryStringParameters.loop) for (;;) {}
  return { statusCode: 200, body: "pid " + process.pid + " ok" };
};)"}}));
  r.raw_query = "loop=1";
  EXPECT_EQ(rt.Invoke(r).status, 504);
  r.raw_query = "";
  const FunctionResponse next = rt.Invoke(r);
  EXPECT_EQ(next.status, 200);
  EXPECT_NE(next.body.find(" ok"), std::string::npos);
  EXPECT_EQ(rt.ProcessCountForTest(), 1u);
}

// The function log: what the function prints (secrets masked, with the call's request id), a
// thrown error's stack, and the platform's lines for a 502 and a 504; every call is reported
// to on_call with its status.
TEST_F(FunctionRuntimeTest, FunctionLogGetsOutputThrownErrorsAndTimeoutsMasked) {
  struct Seen {
    std::string stream, request_id, line, site, deploy, function;
  };
  std::mutex mu;
  std::vector<Seen> lines;
  std::vector<int> statuses;
  RuntimeOptions options;
  options.timeout = std::chrono::seconds(2);
  options.environment = [](const FunctionRequest&) -> Result<FunctionEnvironment> {
    FunctionEnvironment env;
    env.vars = {{"API_SECRET", "hunter2-secret"}};
    env.secrets = {"hunter2-secret"};
    return env;
  };
  options.on_log = [&](const LogRecord& r) {
    std::lock_guard lock(mu);
    lines.push_back({std::string(r.stream), std::string(r.request_id), std::string(r.line),
                     std::string(r.site_id), std::string(r.deploy_id),
                     std::string(r.function_name)});
  };
  options.on_call = [&](const FunctionRequest&, int status, std::chrono::milliseconds) {
    std::lock_guard lock(mu);
    statuses.push_back(status);
  };
  auto& rt = Runtime(options);
  FunctionRequest r = Deployed(Zip({{"fn.js", R"(
exports.handler = async (event) => {
  const q = event.queryStringParameters;
  if (q.throw) throw new TypeError("thrown-marker " + process.env.API_SECRET);
  if (q.loop) for (;;) {}
  console.log("log-marker " + process.env.API_SECRET);
  console.error("err-marker");
  return { statusCode: 200, body: "ok" };
};)"}}));
  auto has = [&](const std::string& stream, const std::string& text,
                 const std::string& request_id = "") {
    std::lock_guard lock(mu);
    for (const auto& l : lines) {
      if (l.stream == stream && l.line.find(text) != std::string::npos &&
          (request_id.empty() || l.request_id == request_id)) {
        return true;
      }
    }
    return false;
  };
  r.request_id = "req-log";
  EXPECT_EQ(rt.Invoke(r).status, 200);
  r.request_id = "req-throw";
  r.raw_query = "throw=1";
  EXPECT_EQ(rt.Invoke(r).status, 502);
  r.request_id = "req-loop";
  r.raw_query = "loop=1";
  EXPECT_EQ(rt.Invoke(r).status, 504);
  EXPECT_TRUE(core::testing::WaitUntil([&] {
    return has("stdout", "log-marker ****", "req-log") && has("stderr", "err-marker") &&
           has("stderr", "TypeError: thrown-marker ****") && has("stderr", "at exports.handler") &&
           has("platform", "502: the function threw after", "req-throw") &&
           has("platform", "TypeError: thrown-marker ****", "req-throw") &&
           has("platform", "504: timed out after 2 s", "req-loop");
  }));
  std::lock_guard lock(mu);
  for (const auto& l : lines) {
    EXPECT_EQ(l.line.find("hunter2"), std::string::npos) << l.line;
    EXPECT_EQ(l.site, "site-1");
    EXPECT_EQ(l.deploy, "d1");
    EXPECT_EQ(l.function, "fn");
  }
  EXPECT_EQ(statuses, (std::vector<int>{200, 502, 504}));
}

// A function past its memory limit is killed by the sandbox's cgroup: that call is 502 and the
// next one gets a new process.
TEST_F(FunctionRuntimeTest, MemoryHogIs502AndTheNextCallGetsANewProcess) {
  RuntimeOptions options;
  options.limits.memory_bytes = std::int64_t{256} << 20;
  auto& rt = Runtime(options);
  FunctionRequest r = Deployed(Zip({{"fn.js", R"(
const boot = Math.random().toString(36).slice(2);
exports.handler = async (event) => {
  if (event.queryStringParameters.hog) {
    const kept = [];
    for (;;) kept.push(Buffer.alloc(16 << 20, 1));  // filled, so the pages are really used
  }
  return { statusCode: 200, body: "process " + boot };
};)"}}));
  const FunctionResponse first = rt.Invoke(r);
  if (first.status == 502) {
    // Without a writable cgroup the limit is RLIMIT_AS, under which Node.js does not start.
    GTEST_SKIP() << "no writable cgroup here (" << first.body << ")";
  }
  ASSERT_EQ(first.status, 200) << first.body;
  r.raw_query = "hog=1";
  const FunctionResponse hog = rt.Invoke(r);
  EXPECT_EQ(hog.status, 502) << hog.body;
  r.raw_query = "";
  const FunctionResponse next = rt.Invoke(r);
  EXPECT_EQ(next.status, 200) << next.body;
  EXPECT_EQ(next.body.rfind("process ", 0), 0u) << next.body;
  EXPECT_NE(next.body, first.body);  // not the killed process
  EXPECT_EQ(rt.ProcessCountForTest(), 1u);
}

TEST_F(FunctionRuntimeTest, FunctionSeesNeitherHostDataNorOtherBundles) {
  auto& rt = Runtime();
  FunctionRequest other = Deployed(Zip({{"secret.js",
                                         "// SECRET-OF-ANOTHER-SITE\nexports.handler = async () => "
                                         "({ statusCode: 200, body: 'other' });"}}),
                                   "secret", "d2");
  ASSERT_EQ(rt.Invoke(other).body, "other");
  const std::string other_bundle = tmp_.path() + "/functions/bundles/" + other.bundle_sha256;
  ASSERT_TRUE(fs::exists(other_bundle + "/secret.js"));
  FunctionRequest r = Deployed(Zip({{"fn.js", R"(
const fs = require("fs");
exports.handler = async (event) => {
  const out = {};
  for (const p of event.multiValueQueryStringParameters.p) {
    try { out[p] = "READ " + fs.readdirSync(p).join(","); } catch (e) { out[p] = e.code; }
  }
  try { fs.writeFileSync("/var/task/x", "x"); out.write = "WROTE"; } catch (e) { out.write = e.code; }
  return { statusCode: 200, body: JSON.stringify(out) };
};)"}}));
  const std::string store_dir = tmp_.path() + "/store";
  r.raw_query = "p=" + store_dir + "&p=" + other_bundle + "&p=" + tmp_.path() + "&p=/var/task";
  const FunctionResponse res = rt.Invoke(r);
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.body.find("SECRET"), std::string::npos);
  EXPECT_NE(res.body.find("\"" + store_dir + "\":\"ENOENT\""), std::string::npos) << res.body;
  EXPECT_NE(res.body.find("\"" + other_bundle + "\":\"ENOENT\""), std::string::npos) << res.body;
  EXPECT_NE(res.body.find("\"" + tmp_.path() + "\":\"ENOENT\""), std::string::npos) << res.body;
  // Its own bundle is readable, not writable.
  EXPECT_NE(res.body.find(R"("/var/task":"READ fn.js")"), std::string::npos) << res.body;
  EXPECT_NE(res.body.find(R"("write":"EROFS")"), std::string::npos) << res.body;
}

// The sandbox has a network namespace of its own: the server's loopback is not reachable.
TEST_F(FunctionRuntimeTest, FunctionCannotReachTheHostsLoopback) {
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string port = std::to_string(ntohs(addr.sin_port));
  auto& rt = Runtime();
  FunctionRequest r = Deployed(Zip({{"fn.mjs", R"(
import net from "node:net";
export default async (req) => {
  const port = Number(new URL(req.url).searchParams.get("port"));
  const result = await new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port }, () => { s.destroy(); resolve("CONNECTED"); });
    s.on("error", (e) => resolve(e.code));
  });
  return new Response(result);
};)"}}));
  r.raw_url += "?port=" + port;
  const FunctionResponse res = rt.Invoke(r);
  ::close(listener);
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, "ECONNREFUSED");
}

TEST_F(FunctionRuntimeTest, EachDeployRunsItsOwnVersion) {
  auto& rt = Runtime();
  auto version = [](const std::string& v) {
    return Zip({{"fn.mjs", "export default async () => new Response('" + v + "');"}});
  };
  FunctionRequest old_deploy = Deployed(version("version 1"), "fn", "d1");
  FunctionRequest new_deploy = Deployed(version("version 2"), "fn", "d2");
  EXPECT_EQ(rt.Invoke(new_deploy).body, "version 2");
  EXPECT_EQ(rt.Invoke(old_deploy).body, "version 1");  // a rollback
  EXPECT_EQ(rt.Invoke(new_deploy).body, "version 2");
}

TEST_F(FunctionRuntimeTest, CallsPastTheCapQueueThenGet429) {
  RuntimeOptions options;
  options.max_processes = 1;
  options.max_queue = 1;
  options.timeout = std::chrono::minutes(2);  // the hung call ends by Shutdown, not by timeout
  auto& rt = Runtime(options);
  FunctionRequest r = Deployed(Zip({{"fn.js", R"(
exports.handler = () => new Promise(() => {});  // never answers
)"}}));
  auto first = std::async(std::launch::async, [&] { return rt.Invoke(r); });
  while (rt.BusyCountForTest() < 1) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  auto queued = std::async(std::launch::async, [&] { return rt.Invoke(r); });
  while (rt.WaitingCountForTest() < 1) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const FunctionResponse refused = rt.Invoke(r);
  EXPECT_EQ(refused.status, 429);
  EXPECT_EQ(HeaderOf(refused, "retry-after"), "1");
  rt.Shutdown();
  EXPECT_EQ(first.get().status, 502);
  EXPECT_EQ(queued.get().status, 503);
}

// The site's cap counts calls of all its functions: with 1, a call of another function of the
// same site waits (then 429 past the site's queue), while another site's call runs at once.
TEST_F(FunctionRuntimeTest, SiteCapQueuesAndRefusesOnlyThatSite) {
  RuntimeOptions options;
  options.max_per_site = 1;
  options.max_queue = 1;
  options.timeout = std::chrono::minutes(2);  // the hung call ends by Shutdown, not by timeout
  auto& rt = Runtime(options);
  const FunctionRequest hang =
      Deployed(Zip({{"hang.js", "exports.handler = () => new Promise(() => {});"}}), "hang");
  const FunctionRequest quick = Deployed(
      Zip({{"quick.js", "exports.handler = async () => ({ statusCode: 200, body: 'quick' });"}}),
      "quick");
  auto first = std::async(std::launch::async, [&] { return rt.Invoke(hang); });
  ASSERT_TRUE(core::testing::WaitUntil([&] { return rt.BusyCountForTest() == 1; }));
  auto queued = std::async(std::launch::async, [&] { return rt.Invoke(quick); });
  ASSERT_TRUE(core::testing::WaitUntil([&] { return rt.SiteWaitingCountForTest() == 1; }));
  const FunctionResponse refused = rt.Invoke(quick);
  EXPECT_EQ(refused.status, 429);
  EXPECT_EQ(HeaderOf(refused, "retry-after"), "1");
  EXPECT_EQ(HeaderOf(refused, "content-type"), "application/json");
  EXPECT_NE(refused.body.find(R"({"error":{"code":"site_concurrency_limit","message":)"),
            std::string::npos)
      << refused.body;

  FunctionRequest elsewhere = quick;
  elsewhere.site_id = "site-2";
  elsewhere.deploy_id = "d2";
  const FunctionResponse other_site = rt.Invoke(elsewhere);
  EXPECT_EQ(other_site.status, 200) << other_site.body;
  EXPECT_EQ(other_site.body, "quick");
  EXPECT_EQ(rt.SiteWaitingCountForTest(), 1u) << "site-1's call still waits";
  EXPECT_EQ(queued.wait_for(std::chrono::seconds(0)), std::future_status::timeout);

  rt.Shutdown();
  EXPECT_EQ(first.get().status, 502);
  EXPECT_EQ(queued.get().status, 503);
}

// Pre-warming on publish: the first function by name gets a process before any call (a
// background function, and those past max_per_deploy, get none), and the first call is answered
// by that process: no process is started for it, and the module was loaded once.
TEST_F(FunctionRuntimeTest, PrewarmedProcessAnswersTheFirstCall) {
  auto& rt = Runtime();
  const std::string counting = R"(
globalThis.loads = (globalThis.loads || 0) + 1;
let calls = 0;
exports.handler = async () => ({ statusCode: 200, body: "loads " + loads + " calls " + (++calls) });
)";
  const FunctionRequest first = Deployed(Zip({{"a-fn.js", counting}}), "a-fn");
  const FunctionRequest second = Deployed(Zip({{"b-fn.js", counting}}), "b-fn");
  const FunctionRequest background = Deployed(Zip({{"x-background.js", counting}}), "x-background");
  std::vector<std::string> looked_up;
  PrewarmOptions options;
  options.max_per_deploy = 1;
  Prewarmer prewarmer(
      rt,
      [&](const std::string& site_id) -> Result<std::vector<FunctionRequest>> {
        looked_up.push_back(site_id);
        return std::vector<FunctionRequest>{background, second, first};
      },
      options);
  EXPECT_EQ(rt.ProcessCountForTest(), 0u);
  prewarmer.SitePublished("site-1");
  ASSERT_TRUE(core::testing::WaitUntil([&] { return prewarmer.DoneCountForTest() == 1; }));
  EXPECT_EQ(looked_up, std::vector<std::string>{"site-1"});
  EXPECT_EQ(rt.ProcessCountForTest(), 1u) << "one process: a-fn's";
  EXPECT_EQ(rt.BusyCountForTest(), 0u);

  const FunctionResponse answer = rt.Invoke(first);
  EXPECT_EQ(answer.status, 200) << answer.body;
  EXPECT_EQ(answer.body, "loads 1 calls 1");
  EXPECT_EQ(rt.ProcessCountForTest(), 1u) << "the call took the warm process";
  // Warming a function that has a process already starts none.
  ASSERT_TRUE(rt.Warm(first).ok());
  EXPECT_EQ(rt.ProcessCountForTest(), 1u);
}

}  // namespace
}  // namespace replideploy::functions
