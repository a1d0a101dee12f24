#include "auth/users.hpp"

#include <gtest/gtest.h>

#include "auth/jwt.hpp"
#include "db/testing.hpp"

namespace replideploy::auth {
namespace {

using db::testing::TestDatabase;

class Users : public ::testing::TestWithParam<db::Engine> {
 protected:
  void SetUp() override {
    core::InitCrypto();
    tdb_ = std::make_unique<TestDatabase>(GetParam());
    RD_SKIP_IF_UNAVAILABLE(*tdb_);
    service_ = std::make_unique<UserService>(
        tdb_->db(), clock_,
        UserServiceOptions{std::string(32, 'k'), 3600, core::PasswordCost::Minimum()});
  }
  core::ManualClock clock_{1'800'000'000'000};
  std::unique_ptr<TestDatabase> tdb_;
  std::unique_ptr<UserService> service_;
};

TEST_P(Users, RegisterNormalisesEmailAndCreatesAccount) {
  auto user = service_->Register("  Jane.Doe@Example.COM ", "password123", "Jane");
  ASSERT_TRUE(user.ok()) << user.error().message;
  EXPECT_EQ(user->email, "jane.doe@example.com");
  EXPECT_EQ(user->account_slug, "jane-doe");
  EXPECT_FALSE(user->account_id.empty());
  auto found = service_->FindUser(user->id);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->email, "jane.doe@example.com");
  EXPECT_EQ(found->account_id, user->account_id);
}

TEST_P(Users, TakenEmailIsConflictAndStoresNothing) {
  ASSERT_TRUE(service_->Register("a@example.com", "password123").ok());
  auto again = service_->Register("A@EXAMPLE.com", "different-password");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  EXPECT_EQ(again.error().detail_code, "email_taken");
  auto count = tdb_->db().Exec("SELECT COUNT(*) FROM accounts");
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(count->rows.front().Int(0), 1);
}

TEST_P(Users, SameLocalPartGetsDistinctSlugs) {
  auto a = service_->Register("sam@one.example", "password123");
  auto b = service_->Register("sam@two.example", "password123");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->account_slug, "sam");
  EXPECT_NE(b->account_slug, "sam");
  EXPECT_TRUE(b->account_slug.starts_with("sam-")) << b->account_slug;
}

TEST_P(Users, RejectsBadEmailsAndShortPasswords) {
  for (std::string_view email : {"", "plain", "@example.com", "a@", "a@b", "a b@example.com",
                                 "a@@example.com", "a@example..com", "a@.example.com"}) {
    auto r = service_->Register(email, "password123");
    ASSERT_FALSE(r.ok()) << email;
    EXPECT_EQ(r.error().code, ErrorCode::kUnprocessable) << email;
    EXPECT_EQ(r.error().detail_code, "invalid_email") << email;
  }
  auto r = service_->Register("a@example.com", "short7!");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().detail_code, "password_too_short");
  // Eight characters, counted as characters, not bytes.
  EXPECT_TRUE(service_->Register("b@example.com", "pässwörd").ok());
  EXPECT_FALSE(service_->Register("c@example.com", "pässwö").ok());
}

TEST_P(Users, LoginIssuesJwtForTheUser) {
  auto user = service_->Register("a@example.com", "password123");
  ASSERT_TRUE(user.ok());
  auto session = service_->Login("A@example.com", "password123");
  ASSERT_TRUE(session.ok()) << session.error().message;
  EXPECT_EQ(session->user.id, user->id);
  auto who = service_->Authenticate(session->token);
  ASSERT_TRUE(who.ok()) << who.error().message;
  EXPECT_EQ(who->user.id, user->id);
  clock_.Advance(3600 * 1000);
  EXPECT_FALSE(service_->Authenticate(session->token).ok());
}

TEST_P(Users, LogoutRevokesOnlyThatSession) {
  ASSERT_TRUE(service_->Register("a@example.com", "password123").ok());
  auto one = service_->Login("a@example.com", "password123", {"192.0.2.1", "ua/1"});
  auto two = service_->Login("a@example.com", "password123");
  ASSERT_TRUE(one.ok() && two.ok());
  EXPECT_NE(one->session_id, two->session_id);
  auto who = service_->Authenticate(one->token);
  ASSERT_TRUE(who.ok()) << who.error().message;
  EXPECT_EQ(who->session_id, one->session_id);
  ASSERT_TRUE(service_->Logout(*who, {}).ok());
  auto after = service_->Authenticate(one->token);
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.error().detail_code, "session_revoked");
  EXPECT_TRUE(service_->Authenticate(two->token).ok());
  auto sessions = service_->ListSessions(who->user.id);
  ASSERT_TRUE(sessions.ok());
  ASSERT_EQ(sessions->size(), 1u);
  EXPECT_EQ(sessions->front().id, two->session_id);
}

TEST_P(Users, UnknownEmailAndWrongPasswordLookTheSame) {
  ASSERT_TRUE(service_->Register("a@example.com", "password123").ok());
  auto wrong_password = service_->Login("a@example.com", "password124");
  auto unknown_email = service_->Login("nobody@example.com", "password123");
  ASSERT_FALSE(wrong_password.ok());
  ASSERT_FALSE(unknown_email.ok());
  EXPECT_EQ(wrong_password.error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(wrong_password.error().message, unknown_email.error().message);
  EXPECT_EQ(wrong_password.error().code, unknown_email.error().code);
}

TEST_P(Users, ApiTokensAuthenticateUntilRevoked) {
  auto user = service_->Register("a@example.com", "password123");
  ASSERT_TRUE(user.ok());
  auto created = service_->CreateApiToken(UserService::FullAccess(*user), {"ci"});
  ASSERT_TRUE(created.ok()) << created.error().message;
  const std::string secret = created->second;
  EXPECT_TRUE(secret.starts_with("rdp_"));
  auto who = service_->Authenticate(secret);
  ASSERT_TRUE(who.ok()) << who.error().message;
  EXPECT_EQ(who->user.id, user->id);

  // Only the digest is stored.
  auto stored = tdb_->db().Exec("SELECT token_hash FROM api_tokens");
  ASSERT_TRUE(stored.ok());
  EXPECT_NE(stored->rows.front().Text(0), secret);

  auto list = service_->ListApiTokens(user->id);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ(list->front().name, "ci");
  EXPECT_TRUE(list->front().last_used_at.has_value());

  auto other = service_->Register("b@example.com", "password123");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(
      service_->RevokeApiToken(UserService::FullAccess(*other), created->first.id).error().code,
      ErrorCode::kNotFound);
  EXPECT_TRUE(service_->RevokeApiToken(UserService::FullAccess(*user), created->first.id).ok());
  EXPECT_FALSE(service_->Authenticate(secret).ok());
  EXPECT_TRUE(service_->ListApiTokens(user->id)->empty());
  EXPECT_EQ(
      service_->RevokeApiToken(UserService::FullAccess(*user), created->first.id).error().code,
      ErrorCode::kNotFound);
}

TEST_P(Users, ForgedCredentialsAreRejected) {
  auto user = service_->Register("a@example.com", "password123");
  ASSERT_TRUE(user.ok());
  EXPECT_FALSE(service_->Authenticate("").ok());
  EXPECT_FALSE(service_->Authenticate("rdp_notatoken").ok());
  const std::string other_key = SignJwt({user->id, 0, 4'000'000'000}, "wrong key");
  EXPECT_FALSE(service_->Authenticate(other_key).ok());
  // A valid signature for a user that does not exist.
  const std::string ghost =
      SignJwt({"ghost", 0, 4'000'000'000, "no-such-session"}, std::string(32, 'k'));
  auto r = service_->Authenticate(ghost);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnauthenticated);
}

// A service over the same database with another registration mode.
UserService WithMode(db::Database& db, const core::Clock& clock, RegistrationMode mode) {
  UserServiceOptions o{std::string(32, 'k'), 3600, core::PasswordCost::Minimum()};
  o.registration = mode;
  return UserService(db, clock, o);
}

std::string DetailOf(const Result<User>& r) { return r.ok() ? "<ok>" : r.error().detail_code; }

TEST_P(Users, FirstAccountIsTheAdminAndMayAlwaysRegister) {
  UserService closed = WithMode(tdb_->db(), clock_, RegistrationMode::kClosed);
  auto first = closed.Register("first@example.com", "password123");
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_TRUE(first->is_admin);
  EXPECT_TRUE(closed.FindUser(first->id)->is_admin);
  auto second = closed.Register("second@example.com", "password123");
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::kForbidden);
  EXPECT_EQ(DetailOf(second), "registration_closed");
  // Open: anyone, never an admin.
  auto third = service_->Register("third@example.com", "password123");
  ASSERT_TRUE(third.ok());
  EXPECT_FALSE(third->is_admin);
}

TEST_P(Users, InviteModeNeedsAnUnusedUnexpiredInvite) {
  UserService invite_only = WithMode(tdb_->db(), clock_, RegistrationMode::kInvite);
  auto admin = invite_only.Register("admin@example.com", "password123");  // the first: no invite
  ASSERT_TRUE(admin.ok()) << admin.error().message;
  EXPECT_EQ(DetailOf(invite_only.Register("b@example.com", "password123")), "invalid_invite");
  EXPECT_EQ(DetailOf(invite_only.Register("b@example.com", "password123", "", "inv_forged")),
            "invalid_invite");

  auto invite = invite_only.CreateInvite(admin->id);
  ASSERT_TRUE(invite.ok()) << invite.error().message;
  auto b = invite_only.Register("b@example.com", "password123", "", invite->code);
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_FALSE(b->is_admin);
  // Single use.
  EXPECT_EQ(DetailOf(invite_only.Register("c@example.com", "password123", "", invite->code)),
            "invalid_invite");
  // A registration that fails (taken email) does not use the invite up.
  auto again = invite_only.CreateInvite(admin->id, 120'000);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(DetailOf(invite_only.Register("b@example.com", "password123", "", again->code)),
            "email_taken");
  // Expired.
  clock_.Advance(120'001);
  EXPECT_EQ(DetailOf(invite_only.Register("c@example.com", "password123", "", again->code)),
            "invalid_invite");
}

TEST_P(Users, OnlyTheAdminCreatesInvites) {
  auto admin = service_->Register("admin@example.com", "password123");
  auto user = service_->Register("user@example.com", "password123");
  ASSERT_TRUE(admin.ok() && user.ok());
  auto refused = service_->CreateInvite(user->id);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().detail_code, "admin_only");
  EXPECT_EQ(service_->CreateInvite(admin->id, 1).error().code, ErrorCode::kUnprocessable);
}

INSTANTIATE_TEST_SUITE_P(Engines, Users, ::testing::ValuesIn(db::testing::Engines()),
                         db::testing::EngineParamName);

}  // namespace
}  // namespace replideploy::auth
