// Custom domains through the API and the edge (issue 12 points 1 and 2): status codes, JSON
// errors, owner checks, Netlify's site fields, and the edge serving a custom host (the pair's
// other member answering 301). DNS is a real Knot on loopback.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>

#include "core/crypto.hpp"
#include "core/testing.hpp"
#include "db/testing.hpp"
#include "domains/knot_testing.hpp"
#include "http/client.hpp"
#include "http/server.hpp"
#include "roles/api_calls_testing.hpp"
#include "roles/roles.hpp"
#include "store/testing.hpp"

namespace replideploy {
namespace {

namespace json = boost::json;
using db::testing::TestDatabase;

using Reply = roles::ApiReply;

class DomainsApi : public ::testing::TestWithParam<db::Engine>, protected roles::ApiCalls {
 protected:
  void SetUp() override {
    core::InitCrypto();
    tdb_ = std::make_unique<TestDatabase>(GetParam());
    RD_SKIP_IF_UNAVAILABLE(*tdb_);
    RD_KNOT_OR_SKIP(
        knot_, (std::map<std::string, std::string>{{"example.com",
                                                    "www IN CNAME web.localhost.\n"
                                                    "@ IN A 203.0.113.10\n"
                                                    "shop IN CNAME elsewhere.example.com.\n"}}));
    roles::PlatformOptions options;
    options.users = {std::string(32, 'j'), 3600, core::PasswordCost::Minimum()};
    options.processor_interval = std::chrono::milliseconds(50);
    options.dns_resolver = knot_->address();
    options.domains.edge_ipv4 = {"203.0.113.10"};
    options.domain_check_interval = std::chrono::milliseconds(0);
    blobs_ = store::LocalBlobStore::Open(dir_.path()).value();
    app_ = std::make_unique<roles::Platform>(tdb_->db(), *blobs_, clock_, options);
    http::ServerOptions server_options;
    server_options.port = 0;
    server_ = std::make_unique<http::Server>(server_options, app_->Resolver());
    ASSERT_TRUE(server_->Listen().ok());
    app_->SetPublicPort(server_->port());
    server_->Start();
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
    alice_ = SignUp("alice@example.com");
    bob_ = SignUp("bob@example.com");
    ASSERT_EQ(CallJson("POST", "/api/v1/sites", json::object{{"name", "web"}}, alice_).status, 201);
    ASSERT_EQ(CallJson("POST", "/api/v1/sites", json::object{{"name", "bobs"}}, bob_).status, 201);
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  void Publish(const std::string& content) {
    Reply created = CallJson("POST", "/api/v1/sites/web/deploys", json::object{}, alice_);
    ASSERT_EQ(created.status, 200) << created.raw;
    const std::string id(created.body.at("id").as_string());
    ASSERT_EQ(
        CallJson("PUT", "/api/v1/sites/web/deploys/" + id,
                 json::object{{"files", {{"index.html", core::HexEncode(core::Sha1(content))}}}},
                 alice_)
            .status,
        200);
    ASSERT_EQ(Call("PUT", "/api/v1/deploys/" + id + "/files/index.html", content, alice_).status,
              200);
    std::string state;
    core::testing::WaitUntil([&] {
      Reply d = Call("GET", "/api/v1/sites/web/deploys/" + id, "", alice_);
      state = d.body.is_object() ? std::string(d.body.at("state").as_string()) : "";
      return state == "ready" || state == "error";
    });
    ASSERT_EQ(state, "ready");
  }
  static std::string ErrorCodeOf(const Reply& r) {
    if (!r.body.is_object() || !r.body.as_object().contains("error")) return "<no error body>";
    EXPECT_TRUE(r.body.at("error").at("message").is_string());
    return std::string(r.body.at("error").at("code").as_string());
  }

  core::ManualClock clock_{1'800'000'000'000};
  store::testing::ScopedTempDir dir_;
  std::unique_ptr<TestDatabase> tdb_;
  std::unique_ptr<domains::testing::KnotServer> knot_;
  std::unique_ptr<store::LocalBlobStore> blobs_;
  std::unique_ptr<roles::Platform> app_;
  std::unique_ptr<http::Server> server_;
  std::string alice_, bob_;
};

TEST_P(DomainsApi, AddListCheckAndDelete) {
  const std::string domains = "/api/v1/sites/web/domains";
  Reply added = CallJson("POST", domains, json::object{{"name", "WWW.example.com"}}, alice_);
  ASSERT_EQ(added.status, 201) << added.raw;
  EXPECT_EQ(added.body.at("name").as_string(), "www.example.com");
  EXPECT_EQ(added.body.at("state").as_string(), "pending_dns");
  EXPECT_EQ(added.body.at("primary").as_bool(), true);
  EXPECT_EQ(added.body.at("pair").as_string(), "example.com");
  const json::value& record = added.body.at("dns_records").at(0);
  EXPECT_EQ(record.at("type").as_string(), "CNAME");
  EXPECT_EQ(record.at("value").as_string(), "web.localhost");

  Reply list = Call("GET", domains, "", alice_);
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.body.as_array().size(), 2u);
  Reply apex = Call("GET", domains + "/example.com", "", alice_);
  ASSERT_EQ(apex.status, 200);
  EXPECT_EQ(apex.body.at("redirect_to").as_string(), "www.example.com");
  EXPECT_EQ(apex.body.at("dns_records").at(0).at("type").as_string(), "A");
  EXPECT_EQ(apex.body.at("dns_records").at(0).at("value").as_string(), "203.0.113.10");

  Reply checked = Call("POST", domains + "/www.example.com/check", "", alice_);
  ASSERT_EQ(checked.status, 200) << checked.raw;
  EXPECT_EQ(checked.body.at("state").as_string(), "dns_ok");
  EXPECT_EQ(checked.body.at("dns_report").at("records").at(0).at("ok").as_bool(), true);

  ASSERT_EQ(CallJson("POST", domains, json::object{{"name", "shop.example.com"}}, alice_).status,
            201);
  Reply pending = Call("POST", domains + "/shop.example.com/check", "", alice_);
  EXPECT_EQ(pending.body.at("state").as_string(), "pending_dns");
  EXPECT_EQ(pending.body.at("state_reason").as_string(),
            "shop.example.com has CNAME elsewhere.example.com, expected web.localhost");
  EXPECT_TRUE(pending.body.at("next_check_at").is_string());

  EXPECT_EQ(Call("DELETE", domains + "/shop.example.com", "", alice_).status, 204);
  EXPECT_EQ(Call("GET", domains + "/shop.example.com", "", alice_).status, 404);
  EXPECT_EQ(Call("DELETE", domains + "/shop.example.com", "", alice_).status, 404);

  // The account's audit log has the changes, newest first.
  Reply audit = Call("GET", "/api/v1/audit", "", alice_);
  ASSERT_EQ(audit.status, 200) << audit.raw;
  std::vector<std::string> actions;
  for (const auto& e : audit.body.at("events").as_array()) {
    const std::string action(e.at("action").as_string());
    if (action.starts_with("domain.")) actions.push_back(action);
  }
  EXPECT_EQ(actions, (std::vector<std::string>{"domain.removed", "domain.added", "domain.added"}));
}

TEST_P(DomainsApi, BadInputIsA4xxJsonError) {
  const std::string domains = "/api/v1/sites/web/domains";
  Reply r = Call("POST", domains, "", alice_);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(ErrorCodeOf(r), "<no error body>");
  r = Call("POST", domains, "{\"name\":", alice_);
  EXPECT_EQ(r.status, 400);
  r = CallJson("POST", domains, json::object{{"name", 5}}, alice_);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(ErrorCodeOf(r), "<no error body>");
  for (const char* bad : {"", "bad..name", "1.2.3.4", "web.localhost", "x", "a_b.example.com"}) {
    r = CallJson("POST", domains, json::object{{"name", bad}}, alice_);
    EXPECT_EQ(r.status, 422) << bad;
    EXPECT_EQ(ErrorCodeOf(r), "invalid_domain") << bad;
  }
  ASSERT_EQ(CallJson("POST", domains, json::object{{"name", "blog.example.org"}}, alice_).status,
            201);
  r = CallJson("POST", domains, json::object{{"name", "blog.example.org"}}, alice_);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(ErrorCodeOf(r), "domain_exists");
  r = CallJson("PATCH", domains + "/blog.example.org", json::object{{"primary", false}}, alice_);
  EXPECT_EQ(r.status, 422);
  r = CallJson("PATCH", domains + "/blog.example.org", json::object{{"primary", "yes"}}, alice_);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(
      CallJson("PATCH", domains + "/nope.example.org", json::object{{"primary", true}}, alice_)
          .status,
      404);
  EXPECT_EQ(Call("POST", domains + "/nope.example.org/check", "", alice_).status, 404);
  EXPECT_EQ(Call("GET", "/api/v1/sites/nope/domains", "", alice_).status, 404);
}

TEST_P(DomainsApi, OwnersOnly) {
  const std::string domains = "/api/v1/sites/web/domains";
  ASSERT_EQ(CallJson("POST", domains, json::object{{"name", "www.example.com"}}, alice_).status,
            201);
  EXPECT_EQ(CallJson("POST", domains, json::object{{"name", "x.example.org"}}).status, 401);
  EXPECT_EQ(Call("GET", domains).status, 401);
  // Bob sees none of Alice's site.
  EXPECT_EQ(CallJson("POST", domains, json::object{{"name", "x.example.org"}}, bob_).status, 404);
  EXPECT_EQ(Call("GET", domains, "", bob_).status, 404);
  EXPECT_EQ(Call("GET", domains + "/www.example.com", "", bob_).status, 404);
  EXPECT_EQ(Call("DELETE", domains + "/www.example.com", "", bob_).status, 404);
  EXPECT_EQ(
      CallJson("PATCH", domains + "/www.example.com", json::object{{"primary", true}}, bob_).status,
      404);
  EXPECT_EQ(Call("POST", domains + "/www.example.com/check", "", bob_).status, 404);
  // Nor may he take the name without the TXT record.
  Reply taken = CallJson("POST", "/api/v1/sites/bobs/domains",
                         json::object{{"name", "www.example.com"}}, bob_);
  EXPECT_EQ(taken.status, 409);
  EXPECT_EQ(ErrorCodeOf(taken), "domain_taken");
  EXPECT_NE(std::string(taken.body.at("error").at("message").as_string())
                .find("_replideploy-challenge.www.example.com"),
            std::string::npos);
  EXPECT_EQ(Call("GET", domains + "/www.example.com", "", alice_).status, 200);
}

TEST_P(DomainsApi, NetlifySiteFields) {
  Reply site = Call("GET", "/api/v1/sites/web", "", alice_);
  EXPECT_TRUE(site.body.at("custom_domain").is_null());
  EXPECT_TRUE(site.body.at("domain_aliases").as_array().empty());
  Reply patched = CallJson("PATCH", "/api/v1/sites/web",
                           json::object{{"custom_domain", "www.example.com"},
                                        {"domain_aliases", json::array{"blog.example.org"}}},
                           alice_);
  ASSERT_EQ(patched.status, 200) << patched.raw;
  EXPECT_EQ(patched.body.at("custom_domain").as_string(), "www.example.com");
  EXPECT_EQ(patched.body.at("domain_aliases"), (json::array{"blog.example.org"}));
  // The apex came with www, redirecting: listed under domains, not as an alias.
  EXPECT_EQ(Call("GET", "/api/v1/sites/web/domains/example.com", "", alice_).status, 200);

  Reply bad = CallJson("PATCH", "/api/v1/sites/web",
                       json::object{{"domain_aliases", json::array{"ok.example.org", 7}}}, alice_);
  EXPECT_EQ(bad.status, 400);
  bad = CallJson("PATCH", "/api/v1/sites/web", json::object{{"custom_domain", "bad..x"}}, alice_);
  EXPECT_EQ(bad.status, 422);
  EXPECT_EQ(Call("GET", "/api/v1/sites/web/domains/ok.example.org", "", alice_).status, 404);

  patched =
      CallJson("PATCH", "/api/v1/sites/web", json::object{{"custom_domain", nullptr}}, alice_);
  ASSERT_EQ(patched.status, 200);
  EXPECT_TRUE(patched.body.at("custom_domain").is_null());
  EXPECT_EQ(patched.body.at("domain_aliases"), (json::array{"blog.example.org"}));
}

TEST_P(DomainsApi, EdgeServesCustomHostsAndRedirectsThePair) {
  Publish("<h1>custom</h1>");
  ASSERT_EQ(
      CallJson("POST", "/api/v1/sites/web/domains", json::object{{"name", "example.com"}}, alice_)
          .status,
      201);
  Reply page = Call("GET", "/", "", "", "example.com");
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.raw, "<h1>custom</h1>");
  Reply moved = Call("GET", "/a/b?x=1&y=2", "", "", "www.example.com:8443");
  EXPECT_EQ(moved.status, 301);
  EXPECT_EQ(moved.headers.Get("Location"), "http://example.com:8443/a/b?x=1&y=2");

  // The user picks www: the redirect turns round at once (the edge's cache hears of it).
  ASSERT_EQ(CallJson("PATCH", "/api/v1/sites/web/domains/www.example.com",
                     json::object{{"primary", true}}, alice_)
                .status,
            200);
  EXPECT_EQ(Call("GET", "/", "", "", "www.example.com").raw, "<h1>custom</h1>");
  moved = Call("GET", "/", "", "", "example.com");
  EXPECT_EQ(moved.status, 301);
  EXPECT_EQ(moved.headers.Get("Location"), "http://www.example.com/");

  // Removed: no longer served.
  ASSERT_EQ(Call("DELETE", "/api/v1/sites/web/domains/www.example.com", "", alice_).status, 204);
  EXPECT_EQ(Call("GET", "/", "", "", "www.example.com").status, 404);
  EXPECT_EQ(Call("GET", "/", "", "", "example.com").status, 200);
  EXPECT_EQ(Call("GET", "/", "", "", "unknown.example.net").status, 404);
}

INSTANTIATE_TEST_SUITE_P(Engines, DomainsApi, ::testing::ValuesIn(db::testing::Engines()),
                         db::testing::EngineParamName);

}  // namespace
}  // namespace replideploy
