#include "deploys/cron.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>

#include "deploys/function_config.hpp"

namespace replideploy::deploys {
namespace {

namespace chr = std::chrono;

// "2026-02-28 23:59" (UTC) -> Unix seconds.
std::int64_t At(const char* text) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  const int n = std::sscanf(text, "%d-%d-%d %d:%d:%d", &y, &mo, &d, &h, &mi, &s);
  EXPECT_GE(n, 5) << text;
  const chr::sys_days days =
      chr::year{y} / chr::month{static_cast<unsigned>(mo)} / chr::day{static_cast<unsigned>(d)};
  return days.time_since_epoch().count() * 86400 + h * 3600 + mi * 60 + s;
}

std::string Show(std::int64_t unix_seconds) {
  const chr::sys_seconds t{chr::seconds{unix_seconds}};
  const auto day = chr::floor<chr::days>(t);
  const chr::year_month_day ymd{day};
  const chr::hh_mm_ss hms{t - day};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u %02ld:%02ld", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<long>(hms.hours().count()), static_cast<long>(hms.minutes().count()));
  return buf;
}

std::string Next(const char* expression, const char* after) {
  auto schedule = CronSchedule::Parse(expression);
  if (!schedule.ok()) return "error: " + schedule.error().message;
  const auto next = schedule->NextAfter(At(after));
  return next ? Show(*next) : "never";
}

TEST(CronSchedule, NextRunOfManyExpressions) {
  struct Case {
    const char* expression;
    const char* after;
    const char* next;
  };
  const Case cases[] = {
      // Every minute; strictly after, seconds dropped.
      {"* * * * *", "2026-03-01 10:00", "2026-03-01 10:01"},
      {"* * * * *", "2026-03-01 10:00:59", "2026-03-01 10:01"},
      // Shorthands.
      {"@hourly", "2026-03-01 10:00", "2026-03-01 11:00"},
      {"@hourly", "2026-03-01 10:59:30", "2026-03-01 11:00"},
      {"@daily", "2026-03-01 00:00", "2026-03-02 00:00"},
      {"@midnight", "2026-03-01 23:59", "2026-03-02 00:00"},
      {"@weekly", "2026-03-04 12:00", "2026-03-08 00:00"},  // a Wednesday -> Sunday
      {"@monthly", "2026-01-31 12:00", "2026-02-01 00:00"},
      {"@yearly", "2026-06-15 00:00", "2027-01-01 00:00"},
      {"@annually", "2026-12-31 23:59", "2027-01-01 00:00"},
      // Steps, ranges, lists.
      {"*/15 * * * *", "2026-03-01 10:14", "2026-03-01 10:15"},
      {"*/15 * * * *", "2026-03-01 10:45", "2026-03-01 11:00"},
      {"5/20 * * * *", "2026-03-01 10:45", "2026-03-01 11:05"},
      {"0 9-17/4 * * *", "2026-03-01 13:00", "2026-03-01 17:00"},
      {"0 9-17/4 * * *", "2026-03-01 17:00", "2026-03-02 09:00"},
      {"0,30 8,20 * * *", "2026-03-01 08:30", "2026-03-01 20:00"},
      {"10-12 * * * *", "2026-03-01 10:12", "2026-03-01 11:10"},
      // Month ends: the 31st skips 30-day months and February.
      {"0 0 31 * *", "2026-01-31 00:00", "2026-03-31 00:00"},
      {"0 0 31 * *", "2026-03-31 00:00", "2026-05-31 00:00"},
      {"59 23 30 * *", "2026-01-30 23:59", "2026-03-30 23:59"},
      // February 29 only in leap years (2028; 2100 is not one).
      {"0 12 29 2 *", "2026-03-01 00:00", "2028-02-29 12:00"},
      {"0 12 29 2 *", "2096-02-29 12:00", "2104-02-29 12:00"},
      {"0 0 * 2 *", "2028-02-28 00:00", "2028-02-29 00:00"},
      {"0 0 * 2 *", "2027-02-28 00:00", "2028-02-01 00:00"},
      // Names of months and weekdays, any case; 7 is Sunday.
      {"0 0 1 jan,Jul *", "2026-02-01 00:00", "2026-07-01 00:00"},
      {"0 6 * * MON-FRI", "2026-03-06 06:00", "2026-03-09 06:00"},  // Fri -> Mon
      {"0 6 * * 7", "2026-03-01 06:00", "2026-03-08 06:00"},        // Sun -> Sun
      {"0 6 * * sun", "2026-03-02 00:00", "2026-03-08 06:00"},
      {"0 0 * JUN-AUG/2 *", "2026-06-30 00:00", "2026-08-01 00:00"},
      // Both day fields restricted: either matches (the 13th, or a Friday).
      {"0 0 13 * 5", "2026-03-01 00:00", "2026-03-06 00:00"},  // Friday the 6th
      {"0 0 13 * 5", "2026-03-06 00:00", "2026-03-13 00:00"},  // the 13th (also a Friday)
      {"0 0 13 * 5", "2026-03-13 00:00", "2026-03-20 00:00"},
      {"0 0 13 * 5", "2026-04-10 00:00", "2026-04-13 00:00"},  // a Monday, the 13th
      {"0 0 1 * 1", "2026-03-24 00:00", "2026-03-30 00:00"},   // Monday before the 1st
      // One restricted, one '*': both must match.
      {"0 0 13 * *", "2026-03-01 00:00", "2026-03-13 00:00"},
      {"0 0 * * 5", "2026-03-07 00:00", "2026-03-13 00:00"},
      // '*/2' starts with '*': odd days AND Mondays (not the 2nd, an even Monday).
      {"0 0 */2 * 1", "2026-03-01 00:00", "2026-03-09 00:00"},
      {"0 0 */2 * 1", "2026-03-09 00:00", "2026-03-23 00:00"},
      // Year end, and blanks around the fields.
      {"  30  23  31  12  *  ", "2026-12-31 23:30", "2027-12-31 23:30"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Next(c.expression, c.after), c.next) << c.expression << " after " << c.after;
  }
}

TEST(CronSchedule, RefusesWhatIsNotCron) {
  for (const char* bad : {"",
                          "* * * *",
                          "* * * * * *",
                          "60 * * * *",
                          "* 24 * * *",
                          "* * 0 * *",
                          "* * 32 * *",
                          "* * * 13 * ",
                          "* * * * 8",
                          "*/0 * * * *",
                          "5-1 * * * *",
                          "a * * * *",
                          "* * * FOO *",
                          "@reboot",
                          "@every 5m",
                          "1,,2 * * * *",
                          "0 0 30 2 *",
                          "0 0 31 4,6,9,11 *",
                          "*/x * * * *",
                          "- * * * *"}) {
    auto parsed = CronSchedule::Parse(bad);
    EXPECT_FALSE(parsed.ok()) << "'" << bad << "'";
    if (!parsed.ok()) {
      EXPECT_EQ(parsed.error().code, ErrorCode::kUnprocessable);
      EXPECT_EQ(parsed.error().detail_code, "invalid_schedule");
    }
  }
}

// A schedule in a function's config entry (where the deploy API puts function_schedules).
TEST(FunctionConfigSchedule, KeptCheckedAndLoaded) {
  auto kept = NormalizeFunctionConfig("tick", R"({"schedule": " @hourly ", "display_name": "x"})");
  ASSERT_TRUE(kept.ok()) << kept.error().message;
  EXPECT_EQ(*kept, R"({"routes":[],"excluded_routes":[],"schedule":"@hourly"})");
  FunctionEntry entry;
  ASSERT_TRUE(LoadFunctionConfig(*kept, entry).ok());
  EXPECT_EQ(entry.schedule, "@hourly");
  EXPECT_TRUE(entry.routes.empty());
  EXPECT_EQ(*NormalizeFunctionConfig("plain", R"({"display_name": "x"})"), "");

  for (const char* bad : {R"({"schedule": "every hour"})", R"({"schedule": 5})",
                          R"({"schedule": "* * * * *", "routes": [{"pattern": "/tick"}]})"}) {
    auto refused = NormalizeFunctionConfig("tick", bad);
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_EQ(refused.error().detail_code, "invalid_function_config") << bad;
  }
}

}  // namespace
}  // namespace replideploy::deploys
