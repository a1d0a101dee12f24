// Issue 10, point 2, against a real server on SQLite and PostgreSQL: login sessions that can be
// ended (logout, password change, the session list), and API tokens with scopes and expiry that
// cannot mint wider tokens. The finding: "Sessions cannot be ended: no logout, no JWT
// revocation, no password change; an API token can mint more tokens."
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "auth/jwt.hpp"
#include "roles/control_plane_testing.hpp"

namespace replideploy::api {
namespace {

namespace json = boost::json;
using testing::ControlPlaneTest;
using testing::Reply;

using Sessions = ControlPlaneTest;
using ApiTokenScopes = ControlPlaneTest;

constexpr std::int64_t kDayMillis = std::int64_t{24} * 3600 * 1000;

TEST_P(Sessions, LogoutEndsTheSessionAtOnce) {
  Start();
  ASSERT_EQ(Register("a@example.com").status, 201);
  const std::string token = SignIn("a@example.com");
  const std::string other = SignIn("a@example.com");
  ASSERT_EQ(Call("GET", "/api/v1/user", nullptr, token).status, 200);

  Reply out = Call("POST", "/auth/logout", nullptr, token);
  EXPECT_EQ(out.status, 204) << out.raw;
  Reply after = Call("GET", "/api/v1/user", nullptr, token);
  EXPECT_EQ(after.status, 401) << after.raw;
  EXPECT_EQ(ErrorCodeOf(after), "session_revoked");
  EXPECT_EQ(Call("POST", "/auth/logout", nullptr, token).status, 401);
  // The same user's other session lives on.
  EXPECT_EQ(Call("GET", "/api/v1/user", nullptr, other).status, 200);
}

TEST_P(Sessions, PasswordChangeEndsOtherSessionsAndKeepsApiTokens) {
  Start();
  ASSERT_EQ(Register("a@example.com").status, 201);
  const std::string phone = SignIn("a@example.com");
  const std::string laptop = SignIn("a@example.com");
  Reply created = Call("POST", "/api/v1/tokens", json::object{{"name", "ci"}}, laptop);
  ASSERT_EQ(created.status, 201) << created.raw;
  const std::string api_token = StringAt(created, "token");

  // Bad input first: nothing changes.
  Reply missing = Call("PUT", "/api/v1/user/password", json::object{}, laptop);
  EXPECT_EQ(missing.status, 400) << missing.raw;
  Reply wrong = Call(
      "PUT", "/api/v1/user/password",
      json::object{{"current_password", "not-my-password"}, {"new_password", "new-password-456"}},
      laptop);
  EXPECT_EQ(wrong.status, 422) << wrong.raw;
  EXPECT_EQ(ErrorCodeOf(wrong), "invalid_current_password");
  Reply too_short =
      Call("PUT", "/api/v1/user/password",
           json::object{{"current_password", "password123"}, {"new_password", "short"}}, laptop);
  EXPECT_EQ(too_short.status, 422) << too_short.raw;
  EXPECT_EQ(ErrorCodeOf(too_short), "password_too_short");
  EXPECT_EQ(Call("GET", "/api/v1/user", nullptr, phone).status, 200);

  Reply changed =
      Call("PUT", "/api/v1/user/password",
           json::object{{"current_password", "password123"}, {"new_password", "new-password-456"}},
           laptop);
  EXPECT_EQ(changed.status, 204) << changed.raw;
  EXPECT_EQ(Call("GET", "/api/v1/user", nullptr, phone).status, 401);
  EXPECT_EQ(Call("GET", "/api/v1/user", nullptr, laptop).status, 200);
  EXPECT_EQ(Call("GET", "/api/v1/user", nullptr, api_token).status, 200);
  EXPECT_EQ(Login("a@example.com", "password123").status, 401);
  EXPECT_EQ(Login("a@example.com", "new-password-456").status, 200);
}

TEST_P(Sessions, PasswordChangeIsThrottledLikeLogin) {
  Start();
  ASSERT_EQ(Register("a@example.com").status, 201);
  const std::string token = SignIn("a@example.com");
  const json::object guess{{"current_password", "guess-guess"}, {"new_password", "whatever-1"}};
  const int free = auth::LoginThrottle::kAccountPolicy.free_failures;
  for (int i = 0; i < free; ++i) {
    EXPECT_EQ(Call("PUT", "/api/v1/user/password", guess, token).status, 422);
  }
  Reply limited = Call("PUT", "/api/v1/user/password", guess, token);
  EXPECT_EQ(limited.status, 429) << limited.raw;
  EXPECT_FALSE(limited.headers.Get("Retry-After").empty());
}

TEST_P(Sessions, UsersSeeAndEndTheirSessions) {
  Start();
  ASSERT_EQ(Register("a@example.com").status, 201);
  ASSERT_EQ(Register("b@example.com").status, 201);
  const std::string first = SignIn("a@example.com", {.user_agent = "phone-browser/1"});
  const std::string second = SignIn("a@example.com", {.user_agent = "laptop-browser/2"});
  const std::string stranger = SignIn("b@example.com");

  Reply list = Call("GET", "/api/v1/user/sessions", nullptr, second);
  ASSERT_EQ(list.status, 200) << list.raw;
  ASSERT_TRUE(list.body.is_array()) << list.raw;
  ASSERT_EQ(list.body.as_array().size(), 2u) << list.raw;
  std::string first_id;
  for (const auto& s : list.body.as_array()) {
    EXPECT_EQ(s.at("client_address"), "127.0.0.1");
    if (s.at("user_agent") == "phone-browser/1") {
      first_id = std::string(s.at("id").as_string());
      EXPECT_EQ(s.at("current"), false);
    } else {
      EXPECT_EQ(s.at("user_agent"), "laptop-browser/2");
      EXPECT_EQ(s.at("current"), true);
    }
    EXPECT_TRUE(s.at("created_at").is_string());
    EXPECT_TRUE(s.at("last_seen_at").is_string());
    EXPECT_TRUE(s.at("expires_at").is_string());
  }
  ASSERT_FALSE(first_id.empty()) << list.raw;

  // Someone else's session is not found, and stays alive.
  Reply foreign = Call("DELETE", "/api/v1/user/sessions/" + first_id, nullptr, stranger);
  EXPECT_EQ(foreign.status, 404) << foreign.raw;
  EXPECT_EQ(Call("GET", "/api/v1/user", nullptr, first).status, 200);

  Reply ended = Call("DELETE", "/api/v1/user/sessions/" + first_id, nullptr, second);
  EXPECT_EQ(ended.status, 204) << ended.raw;
  EXPECT_EQ(Call("GET", "/api/v1/user", nullptr, first).status, 401);
  EXPECT_EQ(Call("GET", "/api/v1/user/sessions", nullptr, second).body.as_array().size(), 1u);
  EXPECT_EQ(Call("DELETE", "/api/v1/user/sessions/" + first_id, nullptr, second).status, 404);
}

// A JWT signed with the right key but carrying no session id (as every JWT issued before
// sessions did) is refused: it could not be revoked.
TEST_P(Sessions, JwtsWithoutASessionAreRefused) {
  Start();
  Reply reg = Register("a@example.com");
  ASSERT_EQ(reg.status, 201);
  const std::int64_t now = clock_.NowMillis() / 1000;
  const std::string legacy = auth::SignJwt(
      {std::string(reg.body.at("id").as_string()), now, now + 3600}, std::string(32, 'j'));
  Reply r = Call("GET", "/api/v1/user", nullptr, legacy);
  EXPECT_EQ(r.status, 401) << r.raw;
}

TEST_P(Sessions, SessionsExpireWithTheirToken) {
  Start();
  ASSERT_EQ(Register("a@example.com").status, 201);
  const std::string token = SignIn("a@example.com");
  clock_.Advance(3600 * 1000);
  EXPECT_EQ(Call("GET", "/api/v1/user", nullptr, token).status, 401);
}

// The finding's last part: any API token could create more tokens, of any power, forever.
TEST_P(ApiTokenScopes, ATokenCannotMintAWiderOrLongerLivedToken) {
  Start();
  ASSERT_EQ(Register("a@example.com").status, 201);
  const std::string session = SignIn("a@example.com");
  Reply deployer =
      Call("POST", "/api/v1/tokens",
           json::object{{"name", "deployer"}, {"scopes", json::array{"deploy"}}}, session);
  ASSERT_EQ(deployer.status, 201) << deployer.raw;
  const std::string deploy_token = StringAt(deployer, "token");

  // Without the account scope a token cannot create tokens at all.
  Reply minted = Call("POST", "/api/v1/tokens", json::object{{"name", "more"}}, deploy_token);
  EXPECT_EQ(minted.status, 403) << minted.raw;
  EXPECT_EQ(ErrorCodeOf(minted), "insufficient_scope");
  ASSERT_TRUE(deployer.body.as_object().contains("scopes")) << deployer.raw;
  EXPECT_EQ(deployer.body.at("scopes"), (json::array{"deploy"}));

  Reply manager = Call("POST", "/api/v1/tokens",
                       json::object{{"name", "manager"},
                                    {"scopes", json::array{"account", "deploy"}},
                                    {"expires_in_days", 30}},
                       session);
  ASSERT_EQ(manager.status, 201) << manager.raw;
  const std::string manager_token = StringAt(manager, "token");
  Reply wider =
      Call("POST", "/api/v1/tokens",
           json::object{{"name", "wider"}, {"scopes", json::array{"sites"}}}, manager_token);
  EXPECT_EQ(wider.status, 403) << wider.raw;
  EXPECT_EQ(ErrorCodeOf(wider), "insufficient_scope");
  Reply longer = Call("POST", "/api/v1/tokens",
                      json::object{{"name", "longer"}, {"expires_in_days", 31}}, manager_token);
  EXPECT_EQ(longer.status, 403) << longer.raw;
  EXPECT_EQ(ErrorCodeOf(longer), "token_outlives_creator");

  // With nothing asked, a token's child gets its scopes and its expiry.
  Reply child = Call("POST", "/api/v1/tokens", json::object{{"name", "child"}}, manager_token);
  ASSERT_EQ(child.status, 201) << child.raw;
  EXPECT_EQ(child.body.at("scopes"), (json::array{"deploy", "account"}));
  EXPECT_EQ(child.body.at("expires_at"), manager.body.at("expires_at"));
  Reply narrower = Call(
      "POST", "/api/v1/tokens",
      json::object{{"name", "narrower"}, {"scopes", json::array{"deploy"}}, {"expires_in_days", 1}},
      manager_token);
  EXPECT_EQ(narrower.status, 201) << narrower.raw;

  // A session may create any token; unknown scopes are refused.
  Reply bad = Call("POST", "/api/v1/tokens",
                   json::object{{"name", "bad"}, {"scopes", json::array{"root"}}}, session);
  EXPECT_EQ(bad.status, 422) << bad.raw;
  EXPECT_EQ(ErrorCodeOf(bad), "invalid_scope");
  Reply bad_expiry = Call("POST", "/api/v1/tokens",
                          json::object{{"name", "bad"}, {"expires_in_days", 0}}, session);
  EXPECT_EQ(bad_expiry.status, 422) << bad_expiry.raw;
  Reply full = Call("POST", "/api/v1/tokens", json::object{{"name", "full"}}, session);
  ASSERT_EQ(full.status, 201) << full.raw;
  EXPECT_EQ(full.body.at("scopes"), (json::array{"read", "deploy", "sites", "account"}));
  EXPECT_TRUE(full.body.at("expires_at").is_null());

  // The list shows scopes, expiry and last use.
  Reply list = Call("GET", "/api/v1/tokens", nullptr, session);
  ASSERT_EQ(list.status, 200) << list.raw;
  ASSERT_EQ(list.body.as_array().size(), 5u) << list.raw;
  for (const auto& t : list.body.as_array()) {
    EXPECT_TRUE(t.at("scopes").is_array());
    EXPECT_TRUE(t.as_object().contains("expires_at"));
    EXPECT_TRUE(t.as_object().contains("last_used_at"));
  }
}

TEST_P(ApiTokenScopes, RequestsOutsideATokensScopesAre403) {
  Start();
  ASSERT_EQ(Register("a@example.com").status, 201);
  const std::string session = SignIn("a@example.com");
  ASSERT_EQ(Call("POST", "/api/v1/sites", json::object{{"name", "blog"}}, session).status, 201);
  auto token_with = [&](json::array scopes) {
    Reply r =
        Call("POST", "/api/v1/tokens", json::object{{"name", "t"}, {"scopes", scopes}}, session);
    EXPECT_EQ(r.status, 201) << r.raw;
    return StringAt(r, "token");
  };
  const std::string reader = token_with({"read"});
  const std::string deployer = token_with({"deploy"});

  EXPECT_EQ(Call("GET", "/api/v1/sites/blog", nullptr, reader).status, 200);
  Reply refused = Call("PATCH", "/api/v1/sites/blog",
                       json::object{{"build_settings", {{"cmd", "make"}}}}, reader);
  EXPECT_EQ(refused.status, 403) << refused.raw;
  EXPECT_EQ(ErrorCodeOf(refused), "insufficient_scope");
  EXPECT_EQ(Call("POST", "/api/v1/sites/blog/deploys", json::object{}, reader).status, 403);
  EXPECT_EQ(Call("DELETE", "/api/v1/sites/blog", nullptr, reader).status, 403);
  EXPECT_EQ(Call("GET", "/api/v1/tokens", nullptr, reader).status, 403);

  // deploy includes read (netlify deploy looks the site up first) but not site settings.
  EXPECT_EQ(Call("GET", "/api/v1/sites/blog", nullptr, deployer).status, 200);
  Reply deploy = Call("POST", "/api/v1/sites/blog/deploys", json::object{}, deployer);
  EXPECT_EQ(deploy.status, 200) << deploy.raw;
  EXPECT_EQ(
      Call("PUT", "/api/v1/sites/blog/env/SECRET", json::object{{"value", "x"}}, deployer).status,
      403);
  EXPECT_EQ(Call("GET", "/api/v1/sites/blog/env", nullptr, deployer).status, 403);
  EXPECT_EQ(Call("PUT", "/api/v1/user/password",
                 json::object{{"current_password", "password123"}, {"new_password", "x-x-x-x-x"}},
                 deployer)
                .status,
            403);
}

TEST_P(ApiTokenScopes, ExpiredTokensAre401WithTheirOwnCode) {
  Start();
  ASSERT_EQ(Register("a@example.com").status, 201);
  const std::string session = SignIn("a@example.com");
  Reply created =
      Call("POST", "/api/v1/tokens", json::object{{"name", "t"}, {"expires_in_days", 2}}, session);
  ASSERT_EQ(created.status, 201) << created.raw;
  const std::string token = StringAt(created, "token");
  EXPECT_EQ(Call("GET", "/api/v1/user", nullptr, token).status, 200);
  clock_.Advance(2 * kDayMillis);
  Reply expired = Call("GET", "/api/v1/user", nullptr, token);
  EXPECT_EQ(expired.status, 401) << expired.raw;
  EXPECT_EQ(ErrorCodeOf(expired), "token_expired");
}

INSTANTIATE_TEST_SUITE_P(Engines, Sessions, ::testing::ValuesIn(db::testing::Engines()),
                         db::testing::EngineParamName);
INSTANTIATE_TEST_SUITE_P(Engines, ApiTokenScopes, ::testing::ValuesIn(db::testing::Engines()),
                         db::testing::EngineParamName);

}  // namespace
}  // namespace replideploy::api
