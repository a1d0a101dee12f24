#include "auth/login_throttle.hpp"

#include <gtest/gtest.h>

namespace replideploy::auth {
namespace {

TEST(LoginThrottle, FreeFailuresThenExponentialDelay) {
  core::ManualClock clock(1'000'000);
  LoginThrottle throttle(clock);
  for (int i = 0; i < LoginThrottle::kFreeFailures - 1; ++i) {
    throttle.RecordFailure("1.2.3.4");
    EXPECT_EQ(throttle.RetryAfterSeconds("1.2.3.4"), 0) << i;
  }
  throttle.RecordFailure("1.2.3.4");  // the fifth
  EXPECT_EQ(throttle.RetryAfterSeconds("1.2.3.4"), 1);
  clock.Advance(1000);
  EXPECT_EQ(throttle.RetryAfterSeconds("1.2.3.4"), 0);
  throttle.RecordFailure("1.2.3.4");
  EXPECT_EQ(throttle.RetryAfterSeconds("1.2.3.4"), 2);
  throttle.RecordFailure("1.2.3.4");
  EXPECT_EQ(throttle.RetryAfterSeconds("1.2.3.4"), 4);
  // Other addresses are unaffected.
  EXPECT_EQ(throttle.RetryAfterSeconds("5.6.7.8"), 0);
}

TEST(LoginThrottle, DelayIsCapped) {
  core::ManualClock clock(0);
  LoginThrottle throttle(clock);
  for (int i = 0; i < 40; ++i) throttle.RecordFailure("a");
  EXPECT_EQ(throttle.RetryAfterSeconds("a"), LoginThrottle::kMaxDelayMillis / 1000);
}

TEST(LoginThrottle, SuccessClears) {
  core::ManualClock clock(0);
  LoginThrottle throttle(clock);
  for (int i = 0; i < 10; ++i) throttle.RecordFailure("a");
  EXPECT_GT(throttle.RetryAfterSeconds("a"), 0);
  throttle.RecordSuccess("a");
  EXPECT_EQ(throttle.RetryAfterSeconds("a"), 0);
}

TEST(LoginThrottle, OldFailuresExpire) {
  core::ManualClock clock(0);
  LoginThrottle throttle(clock);
  for (int i = 0; i < 4; ++i) throttle.RecordFailure("a");
  clock.Advance(LoginThrottle::kWindowMillis + 1);
  throttle.RecordFailure("a");  // counts as the first of a new window
  EXPECT_EQ(throttle.RetryAfterSeconds("a"), 0);
}

TEST(LoginThrottle, MemoryIsBounded) {
  core::ManualClock clock(0);
  LoginThrottle throttle(clock, /*max_entries=*/3);
  for (int i = 0; i < 10; ++i) {
    for (int k = 0; k < 6; ++k) throttle.RecordFailure("addr" + std::to_string(i));
    clock.Advance(1);
  }
  // The newest address is still tracked; the oldest was dropped.
  EXPECT_GT(throttle.RetryAfterSeconds("addr9"), 0);
  EXPECT_EQ(throttle.RetryAfterSeconds("addr0"), 0);
}

}  // namespace
}  // namespace replideploy::auth
