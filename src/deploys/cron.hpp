// Cron expressions of scheduled functions (`export const config = { schedule: "@hourly" }`,
// netlify.toml's `[functions."name"] schedule`), in UTC as Netlify runs them.
//
// Five fields, standard cron: minute (0-59), hour (0-23), day of month (1-31), month (1-12 or
// JAN-DEC), day of week (0-7, 0 and 7 Sunday, or SUN-SAT); each field `*`, a number, a name, a
// range `a-b`, a step `*/n`, `a-b/n` or `a/n` (a to the field's end), or a comma list of those.
// Names are case-insensitive. When both day fields are restricted (neither starts with `*`) a
// day matches when either matches (cron's OR rule); otherwise both must. Shorthands: @yearly,
// @annually, @monthly, @weekly, @daily, @midnight, @hourly. @reboot and seconds fields are not
// supported. Pure; thread-safe.
#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace replideploy::deploys {

class CronSchedule {
 public:
  // kUnprocessable ("invalid_schedule") with what is wrong, also for an expression that can
  // never run ("0 0 30 2 *").
  static Result<CronSchedule> Parse(std::string_view expression);

  // The first run strictly after `unix_seconds` (UTC), on a whole minute, in Unix seconds;
  // nullopt when there is none in the next 30 years.
  std::optional<std::int64_t> NextAfter(std::int64_t unix_seconds) const;

  const std::string& expression() const { return expression_; }

 private:
  bool DayMatches(int day_of_month, int month, int weekday) const;

  std::string expression_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;     // 1..31
  std::bitset<13> months_;   // 1..12
  std::bitset<7> weekdays_;  // 0 (Sunday)..6
  bool days_restricted_ = false;
  bool weekdays_restricted_ = false;
};

}  // namespace replideploy::deploys
