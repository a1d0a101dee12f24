// Issue 10, point 7, against a real server on SQLite and PostgreSQL: an audit log of logins,
// token and session changes, site changes, deploy publishes and rollbacks, with who, when and
// from where, that each account reads for itself at GET /api/v1/audit.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <vector>

#include "core/testing.hpp"
#include "roles/control_plane_testing.hpp"

namespace replideploy::api {
namespace {

namespace json = boost::json;
using testing::CallOptions;
using testing::ControlPlaneTest;
using testing::Reply;

class Audit : public ControlPlaneTest {
 protected:
  // The account's events, newest first, as the API returns them.
  std::vector<json::object> Events(const std::string& token, const std::string& query = "") {
    Reply r = Call("GET", "/api/v1/audit" + query, nullptr, token);
    EXPECT_EQ(r.status, 200) << r.raw;
    std::vector<json::object> out;
    if (!r.body.is_object() || !r.body.at("events").is_array()) return out;
    for (const auto& e : r.body.at("events").as_array()) out.push_back(e.as_object());
    return out;
  }
  static std::vector<std::string> Actions(const std::vector<json::object>& events) {
    std::vector<std::string> out;
    for (const auto& e : events) out.emplace_back(e.at("action").as_string());
    return out;
  }
  // Deploys one file the way netlify-cli does and waits until the deploy is ready.
  std::string DeployOneFile(const std::string& token, const std::string& site,
                            const std::string& content) {
    Reply created = Call(
        "POST", "/api/v1/sites/" + site + "/deploys",
        json::object{{"files", {{"/index.html", core::HexEncode(core::Sha1(content))}}}}, token);
    EXPECT_EQ(created.status, 200) << created.raw;
    const std::string id = StringAt(created, "id");
    Reply up =
        Call("PUT", "/api/v1/deploys/" + id + "/files/index.html", json::string(content), token);
    EXPECT_EQ(up.status, 200) << up.raw;
    EXPECT_TRUE(core::testing::WaitUntil([&] {
      return StringAt(Call("GET", "/api/v1/deploys/" + id, nullptr, token), "state") == "ready";
    }));
    return id;
  }
};

TEST_P(Audit, LoginsTokensAndSessionsAreRecordedWithWhoWhenAndWhere) {
  Start(auth::RegistrationMode::kOpen, "127.0.0.0/8");
  ASSERT_EQ(Register("a@example.com").status, 201);
  ASSERT_EQ(Register("b@example.com").status, 201);
  const CallOptions attacker{.forwarded_for = "198.51.100.7", .user_agent = "guesser/1"};
  const CallOptions owner{.forwarded_for = "203.0.113.5", .user_agent = "browser/2"};

  // A failed login is recorded on the account it tried, and answers exactly as one for an
  // account that does not exist.
  Reply failed = Login("a@example.com", "wrong-password", attacker);
  Reply unknown = Login("nobody@example.com", "wrong-password", attacker);
  EXPECT_EQ(failed.status, 401);
  EXPECT_EQ(failed.raw, unknown.raw);

  const std::string first = SignIn("a@example.com", owner);
  Reply token = Call("POST", "/api/v1/tokens", json::object{{"name", "ci"}}, first, owner);
  ASSERT_EQ(token.status, 201) << token.raw;
  const std::string token_id = StringAt(token, "id");
  ASSERT_EQ(Call("DELETE", "/api/v1/tokens/" + token_id, nullptr, first, owner).status, 204);
  ASSERT_EQ(Call("POST", "/auth/logout", nullptr, first, owner).status, 204);
  const std::string second = SignIn("a@example.com", owner);

  const auto events = Events(second);
  EXPECT_EQ(Actions(events),
            (std::vector<std::string>{"login.succeeded", "logout", "token.revoked", "token.created",
                                      "login.succeeded", "login.failed", "user.registered"}));
  ASSERT_EQ(events.size(), 7u);
  const json::object& guess = events[5];
  EXPECT_EQ(guess.at("client_address"), "198.51.100.7");
  EXPECT_EQ(guess.at("user_agent"), "guesser/1");
  EXPECT_TRUE(guess.at("actor").at("user_id").is_null());
  const json::object& created = events[3];
  EXPECT_EQ(created.at("client_address"), "203.0.113.5");
  EXPECT_EQ(created.at("user_agent"), "browser/2");
  EXPECT_EQ(created.at("target"), json::value(token_id));
  EXPECT_EQ(created.at("actor").at("credential"), "session");
  EXPECT_EQ(created.at("details").at("name"), "ci");
  EXPECT_EQ(created.at("created_at"), "2027-01-15T08:00:00.000Z");
  EXPECT_FALSE(created.at("actor").at("user_id").as_string().empty());

  // Each account sees only its own.
  const std::string b = SignIn("b@example.com");
  EXPECT_EQ(Actions(Events(b)), (std::vector<std::string>{"login.succeeded", "user.registered"}));
  EXPECT_EQ(Call("GET", "/api/v1/audit", nullptr).status, 401);
}

TEST_P(Audit, SiteEnvAndDeployChangesAreRecorded) {
  Start();
  ASSERT_EQ(Register("a@example.com").status, 201);
  const std::string token = SignIn("a@example.com");
  ASSERT_EQ(Call("POST", "/api/v1/sites", json::object{{"name", "blog"}}, token).status, 201);
  ASSERT_EQ(Call("PATCH", "/api/v1/sites/blog", json::object{{"build_settings", {{"cmd", "make"}}}},
                 token)
                .status,
            200);
  ASSERT_EQ(Call("PUT", "/api/v1/sites/blog/env/API_KEY", json::object{{"value", "s3cret"}}, token)
                .status,
            200);
  ASSERT_EQ(Call("DELETE", "/api/v1/sites/blog/env/API_KEY", nullptr, token).status, 204);
  const std::string v1 = DeployOneFile(token, "blog", "one");
  clock_.Advance(1000);
  const std::string v2 = DeployOneFile(token, "blog", "two");
  ASSERT_EQ(Call("POST", "/api/v1/sites/blog/deploys/" + v1 + "/restore", nullptr, token).status,
            200);
  ASSERT_EQ(Call("POST", "/api/v1/deploys/" + v2 + "/lock", nullptr, token).status, 200);
  ASSERT_EQ(Call("POST", "/api/v1/deploys/" + v2 + "/unlock", nullptr, token).status, 200);
  ASSERT_EQ(Call("DELETE", "/api/v1/sites/blog", nullptr, token).status, 204);

  const auto events = Events(token);
  EXPECT_EQ(Actions(events),
            (std::vector<std::string>{"site.deleted", "deploy.unlocked", "deploy.locked",
                                      "deploy.rolled_back", "deploy.published", "deploy.published",
                                      "env.deleted", "env.updated", "site.updated", "site.created",
                                      "login.succeeded", "user.registered"}));
  ASSERT_EQ(events.size(), 12u);
  EXPECT_EQ(events[3].at("target"), json::value(v1));
  EXPECT_EQ(events[3].at("details").at("previous_deploy_id"), json::value(v2));
  EXPECT_EQ(events[7].at("details").at("key"), "API_KEY");
  EXPECT_EQ(json::serialize(events[7]).find("s3cret"), std::string::npos)
      << "values never reach the log";
  EXPECT_EQ(events[9].at("details").at("name"), "blog");
}

TEST_P(Audit, PagesGoNewestFirstAndRefuseBadInput) {
  Start();
  ASSERT_EQ(Register("a@example.com").status, 201);
  std::string token;
  for (int i = 0; i < 4; ++i) token = SignIn("a@example.com");  // 1 registration + 4 logins

  Reply page1 = Call("GET", "/api/v1/audit?limit=2", nullptr, token);
  ASSERT_EQ(page1.status, 200) << page1.raw;
  ASSERT_EQ(page1.body.at("events").as_array().size(), 2u);
  const std::string cursor = StringAt(page1, "next_before");
  ASSERT_FALSE(cursor.empty()) << page1.raw;
  std::vector<std::string> seen;
  for (const auto& e : page1.body.at("events").as_array()) {
    seen.emplace_back(e.at("id").as_string());
  }
  auto rest = Events(token, "?limit=2&before=" + cursor);
  ASSERT_EQ(rest.size(), 2u);
  auto last = Events(token, "?limit=2&before=" + std::string(rest.back().at("id").as_string()));
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last.front().at("action"), "user.registered");
  for (const auto& e : rest) {
    EXPECT_EQ(std::count(seen.begin(), seen.end(), std::string(e.at("id").as_string())), 0);
  }
  Reply end =
      Call("GET", "/api/v1/audit?limit=2&before=" + std::string(last.front().at("id").as_string()),
           nullptr, token);
  EXPECT_EQ(end.body.at("events").as_array().size(), 0u);
  EXPECT_TRUE(end.body.at("next_before").is_null());

  for (const std::string bad : {"?limit=0", "?limit=abc", "?limit=1001", "?before=nope"}) {
    Reply r = Call("GET", "/api/v1/audit" + bad, nullptr, token);
    EXPECT_EQ(r.status, 400) << bad << " " << r.raw;
    EXPECT_EQ(ErrorCodeOf(r), "bad_request") << bad;
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, Audit, ::testing::ValuesIn(db::testing::Engines()),
                         db::testing::EngineParamName);

}  // namespace
}  // namespace replideploy::api
