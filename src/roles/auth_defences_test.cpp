// Issue 10's findings against a real server on 127.0.0.1 port 0, on SQLite and PostgreSQL:
// login throttling per account and per client address (behind trusted proxies too), and who
// may register. The GitHub OAuth findings are in github_test.cpp (they need the fake GitHub).
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "roles/control_plane_testing.hpp"

namespace replideploy::api {
namespace {

namespace json = boost::json;
using testing::ControlPlaneTest;
using testing::Reply;

using AuthDefences = ControlPlaneTest;

// The finding: 12 wrong passwords for a victim, with a good login of the attacker's own account
// after every 4, were all answered 401 and never 429.
TEST_P(AuthDefences, OwnLoginsInBetweenDoNotResetTheVictimsThrottle) {
  Start();
  ASSERT_EQ(Register("victim@example.com").status, 201);
  ASSERT_EQ(Register("attacker@example.com").status, 201);
  std::vector<int> statuses;
  Reply limited;
  for (int i = 0; i < 12; ++i) {
    Reply r = Login("victim@example.com", "guess-" + std::to_string(i));
    statuses.push_back(r.status);
    if (r.status == 429 && limited.status == 0) limited = r;
    if (i % 4 == 3) {
      EXPECT_EQ(Login("attacker@example.com", "password123").status, 200);
    }
  }
  const int free = auth::LoginThrottle::kAccountPolicy.free_failures;
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 401), free);
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 429), 12 - free);
  ASSERT_EQ(limited.status, 429);
  EXPECT_EQ(ErrorCodeOf(limited), "rate_limited");
  EXPECT_EQ(limited.headers.Get("Retry-After"), "1");
  // Even the right password waits; once the delay passed, it logs in.
  EXPECT_EQ(Login("victim@example.com", "password123").status, 429);
  clock_.Advance(1000);
  EXPECT_EQ(Login("victim@example.com", "password123").status, 200);
}

TEST_P(AuthDefences, WithoutTrustedProxiesForwardedForIsIgnored) {
  Start();
  ASSERT_EQ(Register("a@example.com").status, 201);
  // Every guess claims another address; they all count against 127.0.0.1.
  const int free = auth::LoginThrottle::kAddressPolicy.free_failures;
  for (int i = 0; i < free; ++i) {
    EXPECT_EQ(Login("u" + std::to_string(i) + "@example.com", "nope-nope",
                    {.forwarded_for = "198.51.100." + std::to_string(i)})
                  .status,
              401);
  }
  Reply r = Login("someone@example.com", "nope-nope", {.forwarded_for = "203.0.113.1"});
  EXPECT_EQ(r.status, 429) << r.raw;
  EXPECT_FALSE(r.headers.Get("Retry-After").empty());
}

TEST_P(AuthDefences, BehindATrustedProxyEachClientHasItsOwnCount) {
  Start(auth::RegistrationMode::kOpen, "127.0.0.0/8");
  ASSERT_EQ(Register("a@example.com").status, 201);
  const int free = auth::LoginThrottle::kAddressPolicy.free_failures;
  for (int i = 0; i < free; ++i) {
    EXPECT_EQ(Login("u" + std::to_string(i) + "@example.com", "nope-nope",
                    {.forwarded_for = "198.51.100.7"})
                  .status,
              401);
  }
  EXPECT_EQ(Login("fresh@example.com", "nope-nope", {.forwarded_for = "198.51.100.7"}).status, 429);
  // A client cannot pose as another by writing the header itself: the proxy appends the real
  // address, which is the right-most untrusted one.
  EXPECT_EQ(Login("fresh@example.com", "nope-nope", {.forwarded_for = "203.0.113.5, 198.51.100.7"})
                .status,
            429);
  // Another client behind the same proxy is not affected.
  EXPECT_EQ(Login("a@example.com", "password123", {.forwarded_for = "203.0.113.5"}).status, 200);
}

TEST_P(AuthDefences, ClosedRegistrationAdmitsOnlyTheFirstAccount) {
  Start(auth::RegistrationMode::kClosed);
  EXPECT_EQ(Call("GET", "/auth/registration", nullptr).body.at("mode"), "closed");
  Reply admin = Register("admin@example.com");
  ASSERT_EQ(admin.status, 201) << admin.raw;
  EXPECT_EQ(admin.body.at("admin"), true);
  Reply refused = Register("b@example.com");
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(ErrorCodeOf(refused), "registration_closed");
}

TEST_P(AuthDefences, InviteRegistrationNeedsTheAdminsSingleUseCode) {
  Start(auth::RegistrationMode::kInvite);
  EXPECT_EQ(Call("GET", "/auth/registration", nullptr).body.at("mode"), "invite");
  ASSERT_EQ(Register("admin@example.com").status, 201);  // the first: no invite needed
  const std::string admin(Login("admin@example.com", "password123").body.at("token").as_string());
  Reply no_invite = Register("b@example.com");
  EXPECT_EQ(no_invite.status, 403);
  EXPECT_EQ(ErrorCodeOf(no_invite), "invalid_invite");

  Reply invite = Call("POST", "/api/v1/invites", json::object{{"expires_in_hours", 1}}, admin);
  ASSERT_EQ(invite.status, 201) << invite.raw;
  const std::string code(invite.body.at("code").as_string());
  EXPECT_NE(std::string(invite.body.at("register_url").as_string()).find("/register/?invite="),
            std::string::npos);
  Reply b = Register("b@example.com", code);
  ASSERT_EQ(b.status, 201) << b.raw;
  EXPECT_EQ(b.body.at("admin"), false);
  EXPECT_EQ(ErrorCodeOf(Register("c@example.com", code)), "invalid_invite");

  // Only the admin makes invites; bad input is a 4xx with the error body.
  const std::string user(Login("b@example.com", "password123").body.at("token").as_string());
  Reply not_admin = Call("POST", "/api/v1/invites", nullptr, user);
  EXPECT_EQ(not_admin.status, 403);
  EXPECT_EQ(ErrorCodeOf(not_admin), "admin_only");
  EXPECT_EQ(Call("POST", "/api/v1/invites", nullptr).status, 401);
  Reply bad = Call("POST", "/api/v1/invites", json::object{{"expires_in_hours", "soon"}}, admin);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(ErrorCodeOf(bad), "bad_request");

  // Expired invites do not work.
  Reply short_lived = Call("POST", "/api/v1/invites", json::object{{"expires_in_hours", 1}}, admin);
  clock_.Advance(3600 * 1000 + 1);
  EXPECT_EQ(
      ErrorCodeOf(Register("d@example.com", std::string(short_lived.body.at("code").as_string()))),
      "invalid_invite");
}

INSTANTIATE_TEST_SUITE_P(Engines, AuthDefences, ::testing::ValuesIn(db::testing::Engines()),
                         db::testing::EngineParamName);

}  // namespace
}  // namespace replideploy::api
