// Functions through the real binary: deploys with function zips over the API, served by the
// edge in sandboxed Node.js (needs bubblewrap and Node.js; skipped with a message otherwise).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "cli/binary_fixture.hpp"
#include "core/crypto.hpp"
#include "core/testing.hpp"
#include "functions/testing.hpp"

namespace replideploy::cli {
namespace {

using functions::testing::Zip;

TEST_F(Functions, RollbackSwitchesFunctionVersionsAndBundlesSeeNoHostData) {
  if (::access("/usr/bin/bwrap", X_OK) != 0 || ::access("/usr/bin/node", X_OK) != 0) {
    GTEST_SKIP() << "needs /usr/bin/bwrap and /usr/bin/node";
  }
  if (::geteuid() != 0) GTEST_SKIP() << "functions run in the sandbox only as root";
  ASSERT_EQ(Exec({"migrate", "--data-dir", DataDir()}).exit_code, 0);
  pid_t pid = 0;
  const std::string port = StartServer(pid);
  ASSERT_FALSE(port.empty()) << ReadFile(dir_ + "/stderr");
  const std::string base = "http://127.0.0.1:" + port;
  const Caller call{base};
  const std::string token = SignUpToken(base, "fn@example.com");
  ASSERT_FALSE(token.empty());
  ASSERT_EQ(call("POST", "/api/v1/sites", R"({"name":"fns"})", token).status, 201);

  // Deploys index.html and the function `hello` (and `peek`), waits until it is ready.
  auto deploy = [&](const std::string& version) {
    const std::string id =
        JsonField(call("POST", "/api/v1/sites/fns/deploys", "{}", token).body, "id");
    const std::string hello =
        Zip({{"hello.mjs", "export default async (req) => new Response('" + version +
                               " ' + req.method + ' ' + (await req.text()).length);"}});
    // Unique per deploy: a zip the store already has is not uploaded again.
    const std::string peek = Zip({{"peek.js", "// " + version + R"(
const fs = require("fs");
exports.handler = async (event) => {
  try { return { statusCode: 200, body: "READ " + fs.readdirSync(event.queryStringParameters.p) }; }
  catch (e) { return { statusCode: 200, body: e.code }; }
};)"}});
    const std::string files = R"({"files":{"index.html":")" + core::HexEncode(core::Sha1(version)) +
                              R"("},"functions":{"hello":")" +
                              core::HexEncode(core::Sha256(hello)) + R"(","peek":")" +
                              core::HexEncode(core::Sha256(peek)) + "\"}}";
    EXPECT_EQ(call("PUT", "/api/v1/deploys/" + id, files, token).status, 200);
    EXPECT_EQ(call("PUT", "/api/v1/deploys/" + id + "/files/index.html", version, token).status,
              200);
    EXPECT_EQ(call("PUT", "/api/v1/deploys/" + id + "/functions/hello", hello, token).status, 200);
    EXPECT_EQ(call("PUT", "/api/v1/deploys/" + id + "/functions/peek", peek, token).status, 200);
    EXPECT_TRUE(core::testing::WaitUntil([&] {
      return JsonField(call("GET", "/api/v1/deploys/" + id, "", token).body, "state") == "ready";
    }));
    return id;
  };
  auto fn = [&](const std::string& host = "fns.localhost") {
    return call("GET", "/.netlify/functions/hello", "", "", host);
  };

  const std::string v1 = deploy("version 1");
  EXPECT_TRUE(core::testing::WaitUntil([&] { return fn().body == "version 1 GET 0"; }))
      << fn().status << " " << fn().body;
  const std::string v2 = deploy("version 2");
  EXPECT_TRUE(core::testing::WaitUntil([&] { return fn().body == "version 2 GET 0"; }))
      << fn().body;
  EXPECT_EQ(call("GET", "/api/hello", "", "", "fns.localhost").body, "version 2 GET 0");
  // Bodies past the edge's usual 1 MiB reach a function.
  EXPECT_EQ(
      call("POST", "/.netlify/functions/hello", std::string(3 << 20, 'x'), "", "fns.localhost")
          .body,
      "version 2 POST 3145728");

  // Rollback: the first request after it runs the old deploy's function.
  ASSERT_EQ(call("POST", "/api/v1/sites/fns/deploys/" + v1 + "/restore", "", token).status, 200);
  EXPECT_EQ(fn().body, "version 1 GET 0");
  EXPECT_EQ(call("GET", "/", "", "", "fns.localhost").body, "version 1");
  // Each deploy's own URL keeps its version.
  EXPECT_EQ(fn(v2 + "--fns.localhost").body, "version 2 GET 0");
  EXPECT_EQ(call("GET", "/.netlify/functions/missing", "", "", "fns.localhost").status, 404);

  // The data dir (database, keys, blobs, other bundles) is not there for a function.
  const std::string data = std::filesystem::absolute(DataDir()).string();
  for (const std::string& p : {data, data + "/store", data + "/functions/bundles"}) {
    EXPECT_EQ(call("GET", "/.netlify/functions/peek?p=" + p, "", "", "fns.localhost").body,
              "ENOENT")
        << p;
  }
  EXPECT_EQ(call("GET", "/.netlify/functions/peek?p=/var/task", "", "", "fns.localhost").body,
            "READ peek.js");
  kill(pid, SIGTERM);
  EXPECT_EQ(Wait(pid).exit_code, 0) << ReadFile(dir_ + "/stderr");
}

// Netlify's v2 `export const config = { path, excludedPath, method, preferStatic }`, as
// netlify-cli sends it in the deploy's functions_config: the function answers at its paths with
// context.params, before files unless preferStatic, and no longer at /.netlify/functions/<name>.
TEST_F(Functions, ConfigPathRoutesWithParamsMethodsExclusionsAndPreferStatic) {
  if (::access("/usr/bin/bwrap", X_OK) != 0 || ::access("/usr/bin/node", X_OK) != 0) {
    GTEST_SKIP() << "needs /usr/bin/bwrap and /usr/bin/node";
  }
  if (::geteuid() != 0) GTEST_SKIP() << "functions run in the sandbox only as root";
  ASSERT_EQ(Exec({"migrate", "--data-dir", DataDir()}).exit_code, 0);
  pid_t pid = 0;
  const std::string port = StartServer(pid);
  ASSERT_FALSE(port.empty()) << ReadFile(dir_ + "/stderr");
  const std::string base = "http://127.0.0.1:" + port;
  const Caller call{base, "routes.localhost"};
  const std::string token = SignUpToken(base, "routes@example.com");
  ASSERT_FALSE(token.empty());
  ASSERT_EQ(call("POST", "/api/v1/sites", R"({"name":"routes"})", token, "").status, 201);

  const std::string items = Zip({{"items.mjs", R"(
export default async (req, context) =>
  new Response("items " + req.method + " " + JSON.stringify(context.params) + " " + new URL(req.url).pathname);
export const config = { path: "/api/items/:id", method: ["GET", "POST"], excludedPath: "/api/items/static" };
)"}});
  const std::string page = Zip({{"page.mjs", R"(
export default async (req) => new Response("page function " + new URL(req.url).pathname);
)"}});
  // Site variables (scope "functions": every variable here) and Netlify's context variables
  // reach Netlify.env; secret values are masked in the function's log lines.
  const std::string plain = Zip({{"plain.mjs", R"(
export default async () => {
  console.log("the secret is " + Netlify.env.get("API_SECRET"));
  const e = (k) => Netlify.env.get(k);
  return new Response([e("GREETING"), e("CONTEXT"), e("NETLIFY"), e("SITE_NAME"), e("DEPLOY_ID"),
                       e("URL"), e("DEPLOY_URL").split("--")[1], e("API_SECRET")].join(" "));
};)"}});
  ASSERT_EQ(
      call("PUT", "/api/v1/sites/routes/env/API_SECRET", R"({"value":"hunter2-secret"})", token, "")
          .status,
      200);
  ASSERT_EQ(call("PUT", "/api/v1/sites/routes/env/GREETING",
                 R"({"value":"hi-prod","context":"production"})", token, "")
                .status,
            200);
  const std::map<std::string, std::string> files = {
      {"page.html", "static page"},
      {"shadow.html", "static shadow"},
      {"_redirects", "/old-items/:id /api/items/:id 200\n"}};
  std::string files_json;
  for (const auto& [path, content] : files) {
    files_json += (files_json.empty() ? "" : ",") +
                  ("\"" + path + "\":\"" + core::HexEncode(core::Sha1(content)) + "\"");
  }
  auto sha = [](const std::string& zip) { return core::HexEncode(core::Sha256(zip)); };
  // What netlify-cli 27 sends (zip-it-and-ship-it's routes; `expression` is ignored here).
  const std::string config = R"({
    "items": {"routes": [{"pattern": "/api/items/:id", "expression": "^\\/api\\/items\\/([^\\/]+?)\\/?$",
                          "methods": ["GET", "POST"]}],
              "excluded_routes": [{"pattern": "/api/items/static", "literal": "/api/items/static"}],
              "build_data": {"runtimeAPIVersion": 2}},
    "page": {"routes": [{"pattern": "/page.html", "literal": "/page.html", "methods": [], "prefer_static": true},
                        {"pattern": "/shadow.html", "literal": "/shadow.html", "methods": []}]}})";
  const std::string body = "{\"files\":{" + files_json + "},\"functions\":{\"items\":\"" +
                           sha(items) + "\",\"page\":\"" + sha(page) + "\",\"plain\":\"" +
                           sha(plain) + "\"},\"functions_config\":" + config + "}";
  // A pattern that is not URLPattern syntax is refused with the deploy.
  const std::string bad =
      R"({"functions":{"items":")" + sha(items) +
      R"("},"functions_config":{"items":{"routes":[{"pattern":"/api/(unclosed"}]}}})";
  const auto refused = call("POST", "/api/v1/sites/routes/deploys", bad, token, "");
  EXPECT_EQ(refused.status, 422) << refused.body;
  EXPECT_NE(refused.body.find("invalid_function_config"), std::string::npos) << refused.body;

  const auto created = call("POST", "/api/v1/sites/routes/deploys", body, token, "");
  ASSERT_EQ(created.status, 200) << created.body;
  const std::string id = JsonField(created.body, "id");
  for (const auto& [path, content] : files) {
    EXPECT_EQ(call("PUT", "/api/v1/deploys/" + id + "/files/" + path, content, token, "").status,
              200);
  }
  for (const auto& [name, zip] : {std::pair{"items", items}, {"page", page}, {"plain", plain}}) {
    EXPECT_EQ(call("PUT", "/api/v1/deploys/" + id + "/functions/" + name, zip, token, "").status,
              200);
  }
  ASSERT_TRUE(core::testing::WaitUntil([&] {
    return JsonField(call("GET", "/api/v1/deploys/" + id, "", token, "").body, "state") == "ready";
  }));

  EXPECT_EQ(call("GET", "/api/items/42", "", "").body, R"(items GET {"id":"42"} /api/items/42)");
  EXPECT_EQ(call("POST", "/api/items/7/", "x", "").body, R"(items POST {"id":"7"} /api/items/7/)");
  // A method the route does not take, and the excluded path, fall through to files: none.
  EXPECT_EQ(call("DELETE", "/api/items/42", "", "").status, 404);
  EXPECT_EQ(call("GET", "/api/items/static", "", "").status, 404);
  // With a path of its own the function is not at its default URL.
  EXPECT_EQ(call("GET", "/.netlify/functions/items", "", "").status, 404);
  const std::string env = call("GET", "/.netlify/functions/plain", "", "").body;
  EXPECT_EQ(env, "hi-prod production true routes " + id +
                     " http://routes.localhost routes.localhost hunter2-secret");
  EXPECT_TRUE(core::testing::WaitUntil([&] {
    return (ReadFile(dir_ + "/stdout") + ReadFile(dir_ + "/stderr")).find("the secret is ****") !=
           std::string::npos;
  }));
  EXPECT_EQ((ReadFile(dir_ + "/stdout") + ReadFile(dir_ + "/stderr")).find("the secret is hunter2"),
            std::string::npos);
  // preferStatic: the file wins; without it the function wins over the file.
  EXPECT_EQ(call("GET", "/page.html", "", "").body, "static page");
  EXPECT_EQ(call("GET", "/shadow.html", "", "").body, "page function /shadow.html");
  // A rewrite to a function's path runs it with the target's params and the original URL.
  EXPECT_EQ(call("GET", "/old-items/9", "", "").body, R"(items GET {"id":"9"} /old-items/9)");
  kill(pid, SIGTERM);
  EXPECT_EQ(Wait(pid).exit_code, 0) << ReadFile(dir_ + "/stderr");
}

// Reads from a raw connection to 127.0.0.1:`port` after sending `request` until `want` is in
// what came (true), or the connection ends or 30 s pass (false). `got` holds what came.
bool ReadUntil(const std::string& port, const std::string& request, const std::string& want,
               std::string& got) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(std::stoi(port)));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return false;
  }
  (void)!::write(fd, request.data(), request.size());
  bool found = false;
  for (int i = 0; i < 300 && !found; ++i) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
    found = got.find(want) != std::string::npos;
  }
  ::close(fd);
  return found;
}

// A v2 Response on a ReadableStream reaches the client as it is produced (chunked): an endless
// stream shows its first pieces (it never ends, so a buffered answer would show nothing), and
// the function's process is stopped when the client leaves.
TEST_F(Functions, StreamedResponsesArriveAsProduced) {
  if (::access("/usr/bin/bwrap", X_OK) != 0 || ::access("/usr/bin/node", X_OK) != 0) {
    GTEST_SKIP() << "needs /usr/bin/bwrap and /usr/bin/node";
  }
  if (::geteuid() != 0) GTEST_SKIP() << "functions run in the sandbox only as root";
  ASSERT_EQ(Exec({"migrate", "--data-dir", DataDir()}).exit_code, 0);
  pid_t pid = 0;
  const std::string port = StartServer(pid);
  ASSERT_FALSE(port.empty()) << ReadFile(dir_ + "/stderr");
  const std::string base = "http://127.0.0.1:" + port;
  const Caller call{base, "streams.localhost"};
  const std::string token = SignUpToken(base, "streams@example.com");
  ASSERT_FALSE(token.empty());
  ASSERT_EQ(call("POST", "/api/v1/sites", R"({"name":"streams"})", token, "").status, 201);
  const std::string endless = Zip({{"endless.mjs", R"(
export default async () => {
  let n = 0;
  const body = new ReadableStream({
    async pull(controller) {
      n++;
      controller.enqueue(new TextEncoder().encode(`tick ${n}\n`));
      await new Promise((r) => setTimeout(r, 50));
    },
  });
  return new Response(body, { headers: { "content-type": "text/plain", "x-kind": "endless" } });
};)"}});
  const std::string finite = Zip({{"finite.mjs", R"(
export default async () => {
  const parts = ["one ", "two ", "three"];
  const body = new ReadableStream({
    pull(controller) {
      if (parts.length) controller.enqueue(new TextEncoder().encode(parts.shift()));
      else controller.close();
    },
  });
  return new Response(body, { status: 201 });
};)"}});
  auto sha = [](const std::string& zip) { return core::HexEncode(core::Sha256(zip)); };
  const auto created =
      call("POST", "/api/v1/sites/streams/deploys",
           R"({"functions":{"endless":")" + sha(endless) + R"(","finite":")" + sha(finite) + "\"}}",
           token, "");
  ASSERT_EQ(created.status, 200) << created.body;
  const std::string id = JsonField(created.body, "id");
  EXPECT_EQ(call("PUT", "/api/v1/deploys/" + id + "/functions/endless", endless, token, "").status,
            200);
  EXPECT_EQ(call("PUT", "/api/v1/deploys/" + id + "/functions/finite", finite, token, "").status,
            200);
  ASSERT_TRUE(core::testing::WaitUntil([&] {
    return JsonField(call("GET", "/api/v1/deploys/" + id, "", token, "").body, "state") == "ready";
  }));

  const auto whole = call("GET", "/.netlify/functions/finite", "", "");
  EXPECT_EQ(whole.status, 201);
  EXPECT_EQ(whole.body, "one two three");

  const std::string request =
      "GET /.netlify/functions/endless HTTP/1.1\r\nHost: streams.localhost\r\n\r\n";
  std::string got;
  EXPECT_TRUE(ReadUntil(port, request, "tick 3\n", got)) << got;
  EXPECT_NE(got.find("Transfer-Encoding: chunked"), std::string::npos) << got;
  EXPECT_NE(got.find("x-kind: endless"), std::string::npos) << got;
  // The client left: the function's process is stopped and the next call gets a new one.
  got.clear();
  EXPECT_TRUE(ReadUntil(port, request, "tick 2\n", got)) << got;
  kill(pid, SIGTERM);
  EXPECT_EQ(Wait(pid).exit_code, 0) << ReadFile(dir_ + "/stderr");
}

}  // namespace
}  // namespace replideploy::cli
