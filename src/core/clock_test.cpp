#include "core/clock.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace replideploy::core {
namespace {

TEST(Clock, FormatsIso8601Utc) {
  EXPECT_EQ(FormatIso8601(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatIso8601(1795641668123), "2026-11-25T21:21:08.123Z");
  EXPECT_EQ(FormatIso8601(-1), "1969-12-31T23:59:59.999Z");
}

TEST(Clock, ManualClockMovesOnlyWhenAdvanced) {
  ManualClock clock(1000);
  EXPECT_EQ(clock.NowMillis(), 1000);
  clock.Advance(500);
  EXPECT_EQ(clock.NowMillis(), 1500);
}

TEST(Clock, SystemClockIsAfter2025) { EXPECT_GT(SystemClock().NowMillis(), 1735689600000); }

TEST(Clock, SleepUnlessStoppedReturnsEarlyOnStop) {
  std::stop_source source;
  EXPECT_TRUE(SleepUnlessStopped(source.get_token(), std::chrono::milliseconds(1)));
  std::thread stopper([&] { source.request_stop(); });
  // An hour, cut short by the stop.
  EXPECT_FALSE(SleepUnlessStopped(source.get_token(), std::chrono::hours(1)));
  stopper.join();
  EXPECT_FALSE(SleepUnlessStopped(source.get_token(), std::chrono::hours(1)));
}

}  // namespace
}  // namespace replideploy::core
