#include "auth/login_throttle.hpp"

#include <gtest/gtest.h>

#include "db/testing.hpp"

namespace replideploy::auth {
namespace {

using db::testing::TestDatabase;

class LoginThrottleTest : public ::testing::TestWithParam<db::Engine> {
 protected:
  void SetUp() override {
    tdb_ = std::make_unique<TestDatabase>(GetParam());
    RD_SKIP_IF_UNAVAILABLE(*tdb_);
    throttle_ = std::make_unique<LoginThrottle>(tdb_->db(), clock_);
  }
  // An attempt that turns out wrong: the wait it was told (0: it went ahead).
  int Fail(const std::string& email, const std::string& address) {
    auto wait = throttle_->BeginAttempt(email, address);
    EXPECT_TRUE(wait.ok()) << wait.error().message;
    return wait.ok() ? *wait : -1;
  }
  // An attempt with the right password: the wait, or 0 when it went ahead and succeeded.
  int Succeed(const std::string& email, const std::string& address) {
    const int wait = Fail(email, address);
    if (wait == 0) {
      EXPECT_TRUE(throttle_->Succeeded(email, address).ok());
    }
    return wait;
  }

  core::ManualClock clock_{1'000'000};
  std::unique_ptr<TestDatabase> tdb_;
  std::unique_ptr<LoginThrottle> throttle_;
};

TEST_P(LoginThrottleTest, AccountGetsFreeFailuresThenExponentialDelay) {
  const int free = LoginThrottle::kAccountPolicy.free_failures;
  for (int i = 0; i < free; ++i) EXPECT_EQ(Fail("v@example.com", "1.2.3.4"), 0) << i;
  EXPECT_EQ(Fail("v@example.com", "1.2.3.4"), 1);
  // Another address does not help: the account itself is slowed down.
  EXPECT_EQ(Fail("V@Example.com ", "5.6.7.8"), 1);
  clock_.Advance(1000);
  EXPECT_EQ(Fail("v@example.com", "1.2.3.4"), 0);
  EXPECT_EQ(Fail("v@example.com", "1.2.3.4"), 2);
  clock_.Advance(2000);
  EXPECT_EQ(Fail("v@example.com", "1.2.3.4"), 0);
  EXPECT_EQ(Fail("v@example.com", "1.2.3.4"), 4);
  // Other accounts are unaffected.
  EXPECT_EQ(Fail("other@example.com", "9.9.9.9"), 0);
}

TEST_P(LoginThrottleTest, OtherAccountsSuccessesDoNotClear) {
  // The finding of issue 10: 12 guesses at a victim, a good login to the attacker's own account
  // after every 4, all from one address.
  int refused = 0;
  for (int i = 0; i < 12; ++i) {
    if (Fail("victim@example.com", "1.2.3.4") > 0) ++refused;
    if (i % 4 == 3) {
      EXPECT_EQ(Succeed("attacker@example.com", "1.2.3.4"), 0);
    }
  }
  EXPECT_EQ(refused, 12 - LoginThrottle::kAccountPolicy.free_failures);
}

TEST_P(LoginThrottleTest, AddressIsLimitedAcrossAccounts) {
  const int free = LoginThrottle::kAddressPolicy.free_failures;
  for (int i = 0; i < free; ++i) {
    EXPECT_EQ(Fail("user" + std::to_string(i) + "@example.com", "1.2.3.4"), 0) << i;
  }
  EXPECT_EQ(Fail("fresh@example.com", "1.2.3.4"), 1);
  // A success from the address does not clear its failures...
  clock_.Advance(1000);
  EXPECT_EQ(Succeed("mine@example.com", "1.2.3.4"), 0);
  EXPECT_EQ(Fail("fresh2@example.com", "1.2.3.4"), 1);
  clock_.Advance(1000);
  EXPECT_EQ(Fail("fresh3@example.com", "1.2.3.4"), 0);
  EXPECT_EQ(Fail("fresh4@example.com", "1.2.3.4"), 2);
  // ...and other addresses are unaffected.
  EXPECT_EQ(Fail("fresh5@example.com", "5.6.7.8"), 0);
}

TEST_P(LoginThrottleTest, OwnSuccessClearsTheAccount) {
  for (int i = 0; i < 4; ++i) Fail("a@example.com", "1.2.3.4");
  EXPECT_EQ(Succeed("a@example.com", "1.2.3.4"), 0);
  for (int i = 0; i < LoginThrottle::kAccountPolicy.free_failures; ++i) {
    EXPECT_EQ(Fail("a@example.com", "1.2.3.4"), 0) << i;
  }
}

TEST_P(LoginThrottleTest, DelayIsCapped) {
  for (int i = 0; i < 40; ++i) {
    Fail("a@example.com", "1.2.3.4");
    clock_.Advance(LoginThrottle::kAccountPolicy.max_delay_millis);
  }
  EXPECT_EQ(Fail("a@example.com", "1.2.3.4"), 0);
  EXPECT_EQ(Fail("a@example.com", "1.2.3.4"),
            LoginThrottle::kAccountPolicy.max_delay_millis / 1000);
}

TEST_P(LoginThrottleTest, OldFailuresExpire) {
  for (int i = 0; i < 4; ++i) Fail("a@example.com", "1.2.3.4");
  clock_.Advance(LoginThrottle::kAccountPolicy.window_millis + 1);
  for (int i = 0; i < LoginThrottle::kAccountPolicy.free_failures; ++i) {
    EXPECT_EQ(Fail("a@example.com", "1.2.3.4"), 0) << i;
  }
}

TEST_P(LoginThrottleTest, SharedByEveryProcessOnTheDatabase) {
  // A second api process: another throttle over the same database.
  LoginThrottle other(tdb_->db(), clock_);
  for (int i = 0; i < LoginThrottle::kAccountPolicy.free_failures; ++i) {
    auto wait = (i % 2 ? *throttle_ : other).BeginAttempt("v@example.com", "1.2.3.4");
    ASSERT_TRUE(wait.ok());
    EXPECT_EQ(*wait, 0);
  }
  EXPECT_EQ(*other.BeginAttempt("v@example.com", "1.2.3.4"), 1);
}

TEST_P(LoginThrottleTest, StaleRowsArePruned) {
  Fail("a@example.com", "1.2.3.4");
  clock_.Advance(LoginThrottle::kAccountPolicy.window_millis + 60'001);
  Fail("b@example.com", "5.6.7.8");
  auto rows = tdb_->db().Exec("SELECT key FROM login_failures ORDER BY key");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->rows.size(), 2u);
  EXPECT_EQ(rows->rows[0].Text(0), LoginThrottle::AccountKey("b@example.com"));
  EXPECT_EQ(rows->rows[1].Text(0), "address:5.6.7.8");
}

INSTANTIATE_TEST_SUITE_P(Engines, LoginThrottleTest, ::testing::ValuesIn(db::testing::Engines()),
                         db::testing::EngineParamName);

}  // namespace
}  // namespace replideploy::auth
