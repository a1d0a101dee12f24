// Issue 14, point 4, against a real server on SQLite and PostgreSQL: the API calls netlify-cli
// makes for `env:*`, `deploy --message/--alias/--prod-if-unlocked`, `api lockDeploy`, and the
// 501 answers for Netlify's hosted-only features. tests/netlify-cli runs the CLI itself.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>

#include "core/crypto.hpp"
#include "core/testing.hpp"
#include "roles/control_plane_testing.hpp"

namespace replideploy::api {
namespace {

namespace json = boost::json;
using testing::ControlPlaneTest;
using testing::Reply;

class NetlifyCliApi : public ControlPlaneTest {
 protected:
  void SetUp() override {
    ControlPlaneTest::SetUp();
    if (IsSkipped()) return;
    Start();
    ASSERT_EQ(Register("ann@example.com").status, 201);
    token_ = SignIn("ann@example.com");
    Reply accounts = Call("GET", "/api/v1/accounts", nullptr, token_);
    ASSERT_EQ(accounts.status, 200) << accounts.raw;
    slug_ = std::string(accounts.body.at(0).at("slug").as_string());
    Reply site = Call("POST", "/api/v1/sites", json::object{{"name", "cli-site"}}, token_);
    ASSERT_EQ(site.status, 201) << site.raw;
    site_id_ = std::string(site.body.at("id").as_string());
  }

  std::string EnvPath(const std::string& rest = {}, const std::string& query = {}) {
    return "/api/v1/accounts/" + slug_ + "/env" + rest + "?site_id=" + site_id_ + query;
  }

  // Deploys one index.html through the digest API as netlify-cli does; waits until ready.
  // `query` is appended to the create call ("?title=...").
  Reply Deploy(const std::string& content, const json::object& create,
               const std::string& query = {}) {
    Reply created = Call("POST", "/api/v1/sites/" + site_id_ + "/deploys" + query, create, token_);
    EXPECT_EQ(created.status, 200) << created.raw;
    if (created.status != 200) return created;
    const std::string id(created.body.at("id").as_string());
    Reply listed = Call(
        "PUT", "/api/v1/deploys/" + id,
        json::object{{"files", json::object{{"index.html", core::HexEncode(core::Sha1(content))}}}},
        token_);
    EXPECT_EQ(listed.status, 200) << listed.raw;
    if (!listed.body.at("required").as_array().empty()) {
      Reply up =
          Call("PUT", "/api/v1/deploys/" + id + "/files/index.html", json::value(content), token_);
      EXPECT_EQ(up.status, 200) << up.raw;
    }
    Reply d;
    core::testing::WaitUntil([&] {
      d = Call("GET", "/api/v1/deploys/" + id, nullptr, token_);
      return StringAt(d, "state") == "ready" || StringAt(d, "state") == "error";
    });
    EXPECT_EQ(StringAt(d, "state"), "ready") << d.raw;
    return d;
  }

  std::string token_, slug_, site_id_;
};

// What netlify-cli's env:import and env:set (new key) send, then what env:list/env:get read.
TEST_P(NetlifyCliApi, AccountEnvCreatesListsAndGetsSiteVariables) {
  json::array body{
      json::object{
          {"key", "API_URL"},
          {"scopes", json::array{"builds", "functions", "runtime", "post_processing"}},
          {"values", json::array{json::object{{"context", "all"}, {"value", "https://a"}}}}},
      json::object{
          {"key", "MODE"},
          {"values", json::array{json::object{{"context", "all"}, {"value", "dev"}},
                                 json::object{{"context", "production"}, {"value", "prod"}}}}}};
  Reply created = Call("POST", EnvPath(), body, token_);
  ASSERT_EQ(created.status, 201) << created.raw;
  ASSERT_EQ(created.body.as_array().size(), 2u);

  Reply list = Call("GET", EnvPath(), nullptr, token_);
  ASSERT_EQ(list.status, 200) << list.raw;
  ASSERT_EQ(list.body.as_array().size(), 2u);
  const json::value& mode = list.body.at(1);
  EXPECT_EQ(mode.at("key"), "MODE");
  EXPECT_EQ(mode.at("is_secret"), false);
  EXPECT_EQ(mode.at("scopes").as_array().size(), 4u);
  ASSERT_EQ(mode.at("values").as_array().size(), 2u);
  // A context's own value first, "all" last: netlify-cli takes the first that matches.
  EXPECT_EQ(mode.at("values").at(0).at("context"), "production");
  EXPECT_EQ(mode.at("values").at(0).at("value"), "prod");
  EXPECT_EQ(mode.at("values").at(0).at("id"), "production");
  EXPECT_EQ(mode.at("values").at(1).at("context"), "all");

  // @netlify/config asks for one context: only its values and "all" come back.
  Reply preview = Call("GET", EnvPath({}, "&context_name=deploy-preview"), nullptr, token_);
  ASSERT_EQ(preview.status, 200);
  EXPECT_EQ(preview.body.at(1).at("values").as_array().size(), 1u);

  Reply one = Call("GET", EnvPath("/API_URL"), nullptr, token_);
  ASSERT_EQ(one.status, 200) << one.raw;
  EXPECT_EQ(one.body.at("values").at(0).at("value"), "https://a");
  EXPECT_EQ(Call("GET", EnvPath("/NOPE"), nullptr, token_).status, 404);

  // The same variables through the site's own API, and in a build's environment.
  Reply site_env = Call("GET", "/api/v1/sites/" + site_id_ + "/env", nullptr, token_);
  ASSERT_EQ(site_env.status, 200);
  EXPECT_EQ(site_env.body.as_array().size(), 2u);

  // A second create of an existing key is refused and changes nothing.
  Reply again = Call(
      "POST", EnvPath(),
      json::array{
          json::object{{"key", "NEW_ONE"}, {"values", json::array{json::object{{"value", "1"}}}}},
          json::object{{"key", "MODE"}, {"values", json::array{json::object{{"value", "x"}}}}}},
      token_);
  EXPECT_EQ(again.status, 409) << again.raw;
  EXPECT_EQ(ErrorCodeOf(again), "env_var_exists");
  EXPECT_EQ(Call("GET", EnvPath("/NEW_ONE"), nullptr, token_).status, 404);
}

// env:set of an existing key (PUT), env:set --context (PATCH), env:unset (DELETE) and
// env:unset --context (DELETE of one value).
TEST_P(NetlifyCliApi, AccountEnvUpdatesAndDeletes) {
  ASSERT_EQ(Call("POST", EnvPath(),
                 json::array{json::object{
                     {"key", "K"},
                     {"values", json::array{json::object{{"context", "all"}, {"value", "v1"}}}}}},
                 token_)
                .status,
            201);
  Reply put =
      Call("PUT", EnvPath("/K"),
           json::object{{"key", "K"},
                        {"scopes", json::array{"builds"}},
                        {"values", json::array{json::object{{"context", "all"}, {"value", "v2"}}}}},
           token_);
  ASSERT_EQ(put.status, 200) << put.raw;
  EXPECT_EQ(put.body.at("values").at(0).at("value"), "v2");

  Reply patch =
      Call("PATCH", EnvPath("/K"), json::object{{"context", "production"}, {"value", "p"}}, token_);
  ASSERT_EQ(patch.status, 201) << patch.raw;
  EXPECT_EQ(patch.body.at("values").as_array().size(), 2u);

  EXPECT_EQ(Call("DELETE", EnvPath("/K/value/production"), nullptr, token_).status, 204);
  Reply after = Call("GET", EnvPath("/K"), nullptr, token_);
  ASSERT_EQ(after.status, 200);
  ASSERT_EQ(after.body.at("values").as_array().size(), 1u);
  EXPECT_EQ(after.body.at("values").at(0).at("context"), "all");
  EXPECT_EQ(Call("DELETE", EnvPath("/K/value/production"), nullptr, token_).status, 404);

  EXPECT_EQ(Call("DELETE", EnvPath("/K"), nullptr, token_).status, 204);
  EXPECT_EQ(Call("GET", EnvPath("/K"), nullptr, token_).status, 404);
  EXPECT_EQ(Call("DELETE", EnvPath("/K"), nullptr, token_).status, 404);
}

TEST_P(NetlifyCliApi, AccountEnvRefusesBadInputAndOthersAccounts) {
  auto expect = [&](const Reply& r, int status, const std::string& code) {
    EXPECT_EQ(r.status, status) << r.raw;
    EXPECT_EQ(ErrorCodeOf(r), code) << r.raw;
  };
  expect(Call("POST", EnvPath(), json::value("not json"), token_), 400, "bad_request");
  expect(Call("POST", EnvPath(), json::object{{"key", "A"}}, token_), 400, "bad_request");
  expect(Call("POST", EnvPath(), json::array{json::object{{"key", "A"}}}, token_), 400,
         "bad_request");
  expect(Call("POST", EnvPath(),
              json::array{json::object{{"key", "1A"},
                                       {"values", json::array{json::object{{"value", "v"}}}}}},
              token_),
         422, "invalid_key");
  expect(Call("POST", EnvPath(),
              json::array{json::object{
                  {"key", "A"},
                  {"values",
                   json::array{json::object{
                       {"context", "branch"}, {"context_parameter", "staging"}, {"value", "v"}}}}}},
              token_),
         422, "branch_values_unsupported");
  expect(Call("POST", EnvPath(),
              json::array{json::object{{"key", "A"},
                                       {"scopes", json::array{"everywhere"}},
                                       {"values", json::array{json::object{{"value", "v"}}}}}},
              token_),
         422, "invalid_scope");
  expect(Call("PUT", EnvPath("/A"),
              json::object{{"key", "B"}, {"values", json::array{json::object{{"value", "v"}}}}},
              token_),
         422, "rename_unsupported");
  // Secret values and account-wide variables are Netlify-hosted features: 501, named.
  Reply secret =
      Call("POST", EnvPath(),
           json::array{json::object{{"key", "S"},
                                    {"is_secret", true},
                                    {"values", json::array{json::object{{"value", "v"}}}}}},
           token_);
  expect(secret, 501, "not_implemented");
  EXPECT_NE(secret.raw.find("secret environment variables"), std::string::npos);
  Reply shared = Call("POST", "/api/v1/accounts/" + slug_ + "/env",
                      json::array{json::object{
                          {"key", "S"}, {"values", json::array{json::object{{"value", "v"}}}}}},
                      token_);
  expect(shared, 501, "not_implemented");
  EXPECT_NE(shared.raw.find("account-wide"), std::string::npos);
  // Reading the account's own variables: there are none.
  Reply none = Call("GET", "/api/v1/accounts/" + slug_ + "/env", nullptr, token_);
  EXPECT_EQ(none.status, 200);
  EXPECT_TRUE(none.body.as_array().empty());
  EXPECT_TRUE(Call("GET", EnvPath(), nullptr, token_).body.as_array().empty())
      << "nothing of the refused requests was stored";

  // Another user sees neither the account nor the site.
  ASSERT_EQ(Register("bob@example.com").status, 201);
  const std::string bob = SignIn("bob@example.com");
  expect(Call("GET", EnvPath(), nullptr, bob), 404, "not_found");
  Reply bob_accounts = Call("GET", "/api/v1/accounts", nullptr, bob);
  const std::string bob_slug(bob_accounts.body.at(0).at("slug").as_string());
  expect(Call("GET", "/api/v1/accounts/" + bob_slug + "/env?site_id=" + site_id_, nullptr, bob),
         404, "not_found");
  expect(Call("GET", EnvPath(), nullptr), 401, "unauthenticated");
}

TEST_P(NetlifyCliApi, DeployTitleFromTheQueryAndAliasUrls) {
  // `netlify deploy --message "first release"` sends ?title=..., not a body field.
  Reply titled = Deploy("<p>v1</p>", json::object{{"draft", false}}, "?title=first%20release");
  EXPECT_EQ(titled.body.at("title"), "first release");
  Reply body_title = Deploy("<p>v2</p>", json::object{{"draft", true}, {"title", "from body"}});
  EXPECT_EQ(body_title.body.at("title"), "from body");

  // `netlify deploy --alias feature-x`: the CLI prints deploy_ssl_url as the draft URL.
  Reply alias = Deploy("<p>alias</p>", json::object{{"draft", false}, {"branch", "feature-x"}});
  const std::string alias_url =
      "http://feature-x--cli-site.localhost:" + base_.substr(base_.rfind(':') + 1);
  EXPECT_EQ(alias.body.at("deploy_ssl_url").as_string(), alias_url);
  EXPECT_EQ(alias.body.at("deploy_url").as_string(), alias_url);
  const std::string permalink(alias.body.at("links").at("permalink").as_string());
  EXPECT_NE(permalink.find(StringAt(alias, "id") + "--cli-site."), std::string::npos)
      << "the deploy's own URL stays in links.permalink";
  // A production deploy keeps its own URL.
  EXPECT_NE(StringAt(titled, "deploy_ssl_url").find(StringAt(titled, "id") + "--cli-site."),
            std::string::npos);
}

TEST_P(NetlifyCliApi, LockShowsOnTheSiteAndKeepsPublishedAt) {
  Reply v1 = Deploy("<p>v1</p>", json::object{{"draft", false}});
  const std::string id = StringAt(v1, "id");
  const std::string published_at = StringAt(v1, "published_at");
  ASSERT_FALSE(published_at.empty()) << v1.raw;
  Reply site = Call("GET", "/api/v1/sites/" + site_id_, nullptr, token_);
  EXPECT_EQ(site.body.at("published_deploy").at("id").as_string(), id);
  EXPECT_EQ(site.body.at("published_deploy").at("locked"), false);

  clock_.Advance(60'000);
  Reply locked = Call("POST", "/api/v1/deploys/" + id + "/lock", nullptr, token_);
  ASSERT_EQ(locked.status, 200) << locked.raw;
  EXPECT_EQ(locked.body.at("locked"), true);
  EXPECT_EQ(StringAt(locked, "published_at"), published_at) << "locking is not a new publish";
  site = Call("GET", "/api/v1/sites/" + site_id_, nullptr, token_);
  // netlify-cli reads this to refuse `deploy --prod` and to draft `--prod-if-unlocked`.
  EXPECT_EQ(site.body.at("published_deploy").at("locked"), true);

  Reply unlocked = Call("POST", "/api/v1/deploys/" + id + "/unlock", nullptr, token_);
  ASSERT_EQ(unlocked.status, 200);
  EXPECT_EQ(StringAt(unlocked, "published_at"), published_at);
  site = Call("GET", "/api/v1/sites/" + site_id_, nullptr, token_);
  EXPECT_EQ(site.body.at("published_deploy").at("locked"), false);
}

TEST_P(NetlifyCliApi, HostedOnlyFeaturesAnswer501NamingThem) {
  struct Case {
    std::string method, path, feature;
  };
  const std::vector<Case> cases = {
      {"GET", "/api/v1/blobs/" + site_id_ + "/store/key", "Netlify Blobs"},
      {"PUT", "/api/v1/blobs/" + site_id_ + "/store/key", "Netlify Blobs"},
      {"GET", "/api/v1/blobs/" + site_id_, "Netlify Blobs"},
      {"GET", "/api/v1/sites/" + site_id_ + "/identity", "Netlify Identity"},
      {"POST", "/api/v1/sites/" + site_id_ + "/identity/users", "Netlify Identity"},
      {"POST", "/api/v1/sites/" + site_id_ + "/services/identity/instances",
       "add-on services (here"},
      {"PUT", "/api/v1/deploys/some-deploy/edge_functions/abc123", "edge functions"},
  };
  for (const Case& c : cases) {
    Reply r = Call(c.method, c.path, nullptr, token_);
    EXPECT_EQ(r.status, 501) << c.method << " " << c.path << ": " << r.raw;
    EXPECT_EQ(ErrorCodeOf(r), "not_implemented") << c.path;
    EXPECT_NE(r.raw.find(c.feature), std::string::npos) << c.path << ": " << r.raw;
  }
  // A deploy that declares edge function bundles is refused before anything is stored.
  Reply with_edge = Call(
      "POST", "/api/v1/sites/" + site_id_ + "/deploys",
      json::object{{"draft", true}, {"edge_functions", json::object{{"eszip2", "abc"}}}}, token_);
  EXPECT_EQ(with_edge.status, 501) << with_edge.raw;
  EXPECT_NE(with_edge.raw.find("edge functions"), std::string::npos);
  Reply deploys = Call("GET", "/api/v1/sites/" + site_id_ + "/deploys", nullptr, token_);
  EXPECT_TRUE(deploys.body.as_array().empty()) << deploys.raw;
  // An empty declaration is what the CLI sends without edge functions: accepted.
  Reply without = Call("POST", "/api/v1/sites/" + site_id_ + "/deploys",
                       json::object{{"draft", true}, {"edge_functions", json::object{}}}, token_);
  EXPECT_EQ(without.status, 200) << without.raw;
}

INSTANTIATE_TEST_SUITE_P(Engines, NetlifyCliApi, ::testing::ValuesIn(db::testing::Engines()),
                         db::testing::EngineParamName);

}  // namespace
}  // namespace replideploy::api
