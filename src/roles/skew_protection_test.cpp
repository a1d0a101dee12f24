// Skew protection end to end (migration 0021): the site API's skew_protection fields, and what
// the edge does with the __rd_dpl cookie across publishes. SQLite and PostgreSQL.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>

#include "core/crypto.hpp"
#include "core/testing.hpp"
#include "db/testing.hpp"
#include "edge/edge.hpp"
#include "http/client.hpp"
#include "http/server.hpp"
#include "roles/api_calls_testing.hpp"
#include "roles/roles.hpp"
#include "store/testing.hpp"

namespace replideploy::api {
namespace {

namespace json = boost::json;

using Reply = roles::ApiReply;

class SkewProtection : public ::testing::TestWithParam<db::Engine>, protected roles::ApiCalls {
 protected:
  void SetUp() override {
    core::InitCrypto();
    tdb_ = std::make_unique<db::testing::TestDatabase>(GetParam());
    RD_SKIP_IF_UNAVAILABLE(*tdb_);
    roles::PlatformOptions options;
    options.users = {std::string(32, 'j'), 3600, core::PasswordCost::Minimum()};
    options.processor_interval = std::chrono::milliseconds(50);
    blobs_ = store::LocalBlobStore::Open(dir_.path() + "/blobs").value();
    app_ = std::make_unique<roles::Platform>(tdb_->db(), *blobs_, clock_, options);
    http::ServerOptions server_options;
    server_options.port = 0;
    server_options.shutdown_grace = std::chrono::seconds(5);
    server_ = std::make_unique<http::Server>(server_options, app_->Resolver());
    ASSERT_TRUE(server_->Listen().ok());
    app_->SetPublicPort(server_->port());
    server_->Start();
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  // A GET of the site `web` at its own address, with a Cookie header when given.
  Reply Web(const std::string& path, const std::string& cookie = {}) {
    return Call("GET", path, "", "", "web.localhost", cookie);
  }
  static std::string Pin(const std::string& deploy_id) {
    return "theme=dark; " + std::string(edge::kSkewProtectionCookie) + "=" + deploy_id;
  }

  // Deploys `files` through the digest API; waits until ready. Returns the deploy's id.
  std::string Deploy(const std::string& token, const std::string& site,
                     const std::map<std::string, std::string>& files, bool draft = false) {
    clock_.Advance(1000);  // each publish at its own moment
    Reply created = CallJson("POST", "/api/v1/sites/" + site + "/deploys",
                             json::object{{"draft", draft}}, token);
    EXPECT_EQ(created.status, 200) << created.raw;
    if (created.status != 200) return "";
    const std::string id(created.body.at("id").as_string());
    json::object digests;
    for (const auto& [path, content] : files) digests[path] = core::HexEncode(core::Sha1(content));
    EXPECT_EQ(CallJson("PUT", "/api/v1/sites/" + site + "/deploys/" + id,
                       json::object{{"files", digests}}, token)
                  .status,
              200);
    for (const auto& [path, content] : files) {
      EXPECT_EQ(Call("PUT", "/api/v1/deploys/" + id + "/files/" + path, content, token).status,
                200);
    }
    std::string state;
    core::testing::WaitUntil([&] {
      Reply d = Call("GET", "/api/v1/sites/" + site + "/deploys/" + id, "", token);
      state = d.body.is_object() ? std::string(d.body.at("state").as_string()) : "";
      return state == "ready" || state == "error";
    });
    EXPECT_EQ(state, "ready");
    if (!draft) {
      // published: the site's own address serves it
      core::testing::WaitUntil([&] {
        return Call("GET", "/", "", "", site + ".localhost").headers.Get("X-RepliDeploy-Deploy") ==
               id;
      });
    }
    return id;
  }

  static std::map<std::string, std::string> Version(const std::string& v) {
    return {{"index.html", "<!doctype html><p>page " + v + "</p>"},
            {"app.js", "console.log('" + v + "');"},
            {"about.html", "<!doctype html><p>about " + v + "</p>"}};
  }

  core::ManualClock clock_{1'800'000'000'000};
  store::testing::ScopedTempDir dir_;
  std::unique_ptr<db::testing::TestDatabase> tdb_;
  std::unique_ptr<store::LocalBlobStore> blobs_;
  std::unique_ptr<roles::Platform> app_;
  std::unique_ptr<http::Server> server_;
};

TEST_P(SkewProtection, PinsAssetsToTheDeployOfThePage) {
  const std::string token = SignUp("skew@example.com");
  ASSERT_EQ(CallJson("POST", "/api/v1/sites", json::object{{"name", "web"}}, token).status, 201);
  ASSERT_EQ(CallJson("POST", "/api/v1/sites", json::object{{"name", "other"}}, token).status, 201);
  const std::string v1 = Deploy(token, "web", Version("v1"));
  const std::string other = Deploy(token, "other", Version("o1"));

  // Off by default: no cookie, and a cookie is ignored.
  Reply site = Call("GET", "/api/v1/sites/web", "", token);
  ASSERT_EQ(site.status, 200) << site.raw;
  EXPECT_EQ(site.body.at("skew_protection"), json::value(false));
  EXPECT_EQ(site.body.at("skew_protection_max_age"), json::value(0));
  Reply page = Web("/");
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.headers.Get("Set-Cookie"), "");
  EXPECT_EQ(page.headers.Get("Vary").find("Cookie"), std::string_view::npos);

  // On: the default window.
  Reply patched =
      CallJson("PATCH", "/api/v1/sites/web", json::object{{"skew_protection", true}}, token);
  ASSERT_EQ(patched.status, 200) << patched.raw;
  EXPECT_EQ(patched.body.at("skew_protection"), json::value(true));
  EXPECT_EQ(patched.body.at("skew_protection_max_age"), json::value(43200));

  // The page sets the cookie (plain HTTP: not Secure), is for this visitor only.
  page = Web("/");
  EXPECT_EQ(page.raw, Version("v1")["index.html"]);
  EXPECT_EQ(page.headers.Get("Set-Cookie"),
            "__rd_dpl=" + v1 + "; Path=/; Max-Age=43200; HttpOnly; SameSite=Lax");
  EXPECT_EQ(page.headers.Get("Cache-Control"), "private, no-cache");
  EXPECT_NE(page.headers.Get("Vary").find("Cookie"), std::string_view::npos);
  // An asset of the live deploy: no cookie set, but Vary: Cookie.
  Reply asset = Web("/app.js");
  EXPECT_EQ(asset.headers.Get("Set-Cookie"), "");
  EXPECT_NE(asset.headers.Get("Vary").find("Cookie"), std::string_view::npos);
  EXPECT_EQ(asset.headers.Get("Cache-Control"), "public, max-age=0, must-revalidate");

  // A publish: the old cookie still gets the old deploy's asset (twice: the blocking path, then
  // from memory), never shared; without it the new one's.
  const std::string v2 = Deploy(token, "web", Version("v2"));
  for (int i = 0; i < 2; ++i) {
    asset = Web("/app.js", Pin(v1));
    EXPECT_EQ(asset.status, 200);
    EXPECT_EQ(asset.raw, Version("v1")["app.js"]);
    EXPECT_EQ(asset.headers.Get("X-RepliDeploy-Deploy"), v1);
    EXPECT_EQ(asset.headers.Get("Cache-Control"), "private, no-cache");
    EXPECT_NE(asset.headers.Get("Vary").find("Cookie"), std::string_view::npos);
  }
  EXPECT_EQ(Web("/app.js").raw, Version("v2")["app.js"]);
  // Pages always come from the live deploy, and move the cookie on.
  page = Web("/", Pin(v1));
  EXPECT_EQ(page.raw, Version("v2")["index.html"]);
  EXPECT_EQ(page.headers.Get("Set-Cookie"),
            "__rd_dpl=" + v2 + "; Path=/; Max-Age=43200; HttpOnly; SameSite=Lax");
  EXPECT_EQ(Web("/about.html", Pin(v1)).raw, Version("v2")["about.html"]);
  EXPECT_EQ(Web("/about", Pin(v1)).raw, Version("v2")["about.html"]);
  // A deploy URL is what it names, whatever the cookie.
  EXPECT_EQ(Call("GET", "/app.js", "", "", v2 + "--web.localhost", Pin(v1)).raw,
            Version("v2")["app.js"]);

  // Ignored: another site's deploy, a garbage value, the live deploy's id, a ready deploy that
  // was never published.
  const std::string draft = Deploy(token, "web", Version("draft"), /*draft=*/true);
  for (const std::string& cookie :
       {Pin(other), Pin("zzz"), Pin(""), Pin(v2), Pin(draft), std::string("__rd_dpl"),
        "__rd_dpl=" + v1 + "x", Pin("\"" + v1)}) {
    asset = Web("/app.js", cookie);
    EXPECT_EQ(asset.status, 200) << cookie;
    EXPECT_EQ(asset.raw, Version("v2")["app.js"]) << cookie;
    EXPECT_EQ(asset.headers.Get("Cache-Control"), "public, max-age=0, must-revalidate") << cookie;
  }
  // The other site (no skew protection) ignores a cookie of its own deploys too.
  EXPECT_EQ(Call("GET", "/app.js", "", "", "other.localhost", Pin(other)).raw,
            Version("o1")["app.js"]);

  // A one-minute window: v1 was replaced two minutes before v3 came, v2 at once.
  patched =
      CallJson("PATCH", "/api/v1/sites/web", json::object{{"skew_protection_max_age", 60}}, token);
  ASSERT_EQ(patched.status, 200) << patched.raw;
  EXPECT_EQ(patched.body.at("skew_protection_max_age"), json::value(60));
  clock_.Advance(120'000);
  const std::string v3 = Deploy(token, "web", Version("v3"));
  EXPECT_EQ(Web("/app.js", Pin(v1)).raw, Version("v3")["app.js"]);
  EXPECT_EQ(Web("/app.js", Pin(v2)).raw, Version("v2")["app.js"]);
  EXPECT_EQ(Web("/").headers.Get("Set-Cookie"),
            "__rd_dpl=" + v3 + "; Path=/; Max-Age=60; HttpOnly; SameSite=Lax");

  // A rollback to v1 in the same millisecond as v3's publish (ties are read generously): v1 is
  // live again, v3 (replaced now) pinnable, v2 still.
  ASSERT_EQ(Call("POST", "/api/v1/sites/web/deploys/" + v1 + "/restore", "", token).status, 200);
  core::testing::WaitUntil([&] { return Web("/").headers.Get("X-RepliDeploy-Deploy") == v1; });
  EXPECT_EQ(Web("/app.js", Pin(v3)).raw, Version("v3")["app.js"]);
  EXPECT_EQ(Web("/app.js", Pin(v2)).raw, Version("v2")["app.js"]);
  EXPECT_EQ(Web("/app.js").raw, Version("v1")["app.js"]);

  // Off again: no cookie, and the cookie is ignored.
  patched = CallJson("PATCH", "/api/v1/sites/web", json::object{{"skew_protection", false}}, token);
  ASSERT_EQ(patched.status, 200) << patched.raw;
  EXPECT_EQ(patched.body.at("skew_protection_max_age"), json::value(0));
  EXPECT_EQ(Web("/").headers.Get("Set-Cookie"), "");
  asset = Web("/app.js", Pin(v3));
  EXPECT_EQ(asset.raw, Version("v1")["app.js"]);
  EXPECT_EQ(asset.headers.Get("Vary").find("Cookie"), std::string_view::npos);
}

TEST_P(SkewProtection, SettingIsValidated) {
  const std::string token = SignUp("skew-api@example.com");
  ASSERT_EQ(CallJson("POST", "/api/v1/sites", json::object{{"name", "web"}}, token).status, 201);
  ASSERT_EQ(
      CallJson("PATCH", "/api/v1/sites/web", json::object{{"skew_protection_max_age", 3600}}, token)
          .status,
      200);
  const std::vector<json::object> bad = {
      {{"skew_protection", "yes"}},
      {{"skew_protection_max_age", "3600"}},
      {{"skew_protection_max_age", 1.5}},
      {{"skew_protection_max_age", 59}},
      {{"skew_protection_max_age", -1}},
      {{"skew_protection_max_age", 7 * 24 * 3600 + 1}},
      {{"skew_protection", false}, {"skew_protection_max_age", 600}},
      {{"skew_protection", true}, {"skew_protection_max_age", 0}},
  };
  for (const json::object& body : bad) {
    Reply reply = CallJson("PATCH", "/api/v1/sites/web", body, token);
    EXPECT_GE(reply.status, 400) << json::serialize(body);
    EXPECT_LT(reply.status, 500) << json::serialize(body);
    ASSERT_TRUE(reply.body.is_object()) << reply.raw;
    EXPECT_TRUE(reply.body.at("error").at("code").is_string()) << reply.raw;
    EXPECT_TRUE(reply.body.at("error").at("message").is_string()) << reply.raw;
  }
  Reply site = Call("GET", "/api/v1/sites/web", "", token);
  EXPECT_EQ(site.body.at("skew_protection_max_age"), json::value(3600));
  // true keeps a window already set; a whole week is allowed.
  Reply patched =
      CallJson("PATCH", "/api/v1/sites/web", json::object{{"skew_protection", true}}, token);
  EXPECT_EQ(patched.body.at("skew_protection_max_age"), json::value(3600));
  patched = CallJson("PATCH", "/api/v1/sites/web",
                     json::object{{"skew_protection_max_age", 7 * 24 * 3600}}, token);
  EXPECT_EQ(patched.status, 200) << patched.raw;
}

INSTANTIATE_TEST_SUITE_P(Engines, SkewProtection, ::testing::ValuesIn(db::testing::Engines()),
                         db::testing::EngineParamName);

}  // namespace
}  // namespace replideploy::api
