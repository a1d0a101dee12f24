// Functions through the real binary: deploys with function zips over the API, served by the
// edge in sandboxed Node.js (needs bubblewrap and Node.js; skipped with a message otherwise).
#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include "cli/binary_fixture.hpp"
#include "core/crypto.hpp"
#include "core/testing.hpp"

namespace replideploy::cli {
namespace {

class Functions : public BinaryFixture {};

std::string Zip(const std::vector<std::pair<std::string, std::string>>& files) {
  std::vector<char> buffer(std::size_t{1} << 20);
  size_t used = 0;
  archive* a = archive_write_new();
  archive_write_set_format_zip(a);
  archive_write_open_memory(a, buffer.data(), buffer.size(), &used);
  for (const auto& [name, content] : files) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, static_cast<la_int64_t>(content.size()));
    archive_write_header(a, e);
    archive_write_data(a, content.data(), content.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return std::string(buffer.data(), used);
}

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
  auto call = [&](const std::string& method, const std::string& path, const std::string& body,
                  const std::string& token, const std::string& host = {}) {
    auto got = Call(base, method, path, body, token, host);
    EXPECT_TRUE(got.ok());
    return got.ok() ? *got : http::ClientResponse{};
  };
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

}  // namespace
}  // namespace replideploy::cli
