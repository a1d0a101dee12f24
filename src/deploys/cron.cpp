#include "deploys/cron.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <chrono>
#include <optional>
#include <span>
#include <vector>

namespace replideploy::deploys {

namespace {

namespace chr = std::chrono;

constexpr std::size_t kMaxExpressionBytes = 256;
constexpr std::array<std::string_view, 12> kMonthNames{"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                       "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::array<std::string_view, 7> kWeekdayNames{"SUN", "MON", "TUE", "WED",
                                                        "THU", "FRI", "SAT"};

Error Bad(std::string_view expression, const std::string& why) {
  return Unprocessable("invalid_schedule", "schedule \"" + std::string(expression) + "\": " + why);
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    const auto at = s.find(sep);
    out.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return out;
    s.remove_prefix(at + 1);
  }
}

struct Field {
  std::string_view name;
  int min, max;
  std::span<const std::string_view> names;  // names[i] is min + i (empty: numbers only)
};

// A number or a name of `field`; nullopt when it is neither.
std::optional<int> Value(const Field& field, std::string_view text) {
  if (text.empty()) return std::nullopt;
  int v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec == std::errc() && end == text.data() + text.size()) return v;
  if (text.size() != 3) return std::nullopt;
  std::string upper(text);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (std::size_t i = 0; i < field.names.size(); ++i) {
    if (field.names[i] == upper) return field.min + static_cast<int>(i);
  }
  return std::nullopt;
}

// Sets the bits of `text` (one field of the expression) in `bits` (index = value).
template <std::size_t N>
Status ParseField(std::string_view expression, const Field& field, std::string_view text,
                  std::bitset<N>& bits) {
  // Day of week: 7 is Sunday too.
  const int upper_bound = field.max;
  for (std::string_view part : Split(text, ',')) {
    if (part.empty()) return Bad(expression, std::string(field.name) + ": empty list item");
    int step = 1;
    const bool has_step = part.find('/') != std::string_view::npos;
    if (const auto slash = part.find('/'); slash != std::string_view::npos) {
      const std::string_view step_text = part.substr(slash + 1);
      const auto [end, ec] =
          std::from_chars(step_text.data(), step_text.data() + step_text.size(), step);
      if (ec != std::errc() || end != step_text.data() + step_text.size() || step < 1 ||
          step > upper_bound) {
        return Bad(expression,
                   std::string(field.name) + ": bad step \"" + std::string(step_text) + "\"");
      }
      part = part.substr(0, slash);
    }
    int from = 0, to = 0;
    if (part == "*") {
      from = field.min;
      to = upper_bound;
    } else {
      const auto dash = part.find('-');
      const auto a = Value(field, part.substr(0, dash));
      if (!a) {
        return Bad(expression,
                   std::string(field.name) + ": \"" + std::string(part) + "\" is not a value");
      }
      from = *a;
      if (dash != std::string_view::npos) {
        const auto b = Value(field, part.substr(dash + 1));
        if (!b) {
          return Bad(expression,
                     std::string(field.name) + ": \"" + std::string(part) + "\" is not a range");
        }
        to = *b;
      } else {
        // "a/n" runs from a to the field's end; a lone "a" is just a.
        to = has_step ? upper_bound : from;
      }
    }
    if (from < field.min || from > upper_bound || to < field.min || to > upper_bound) {
      return Bad(expression, std::string(field.name) + ": out of range " +
                                 std::to_string(field.min) + "-" + std::to_string(upper_bound));
    }
    if (from > to) {
      return Bad(expression, std::string(field.name) + ": range " + std::to_string(from) + "-" +
                                 std::to_string(to) + " goes backwards");
    }
    for (int v = from; v <= to; v += step) bits.set(static_cast<std::size_t>(v));
  }
  return {};
}

std::string_view Shorthand(std::string_view expression) {
  if (expression == "@yearly" || expression == "@annually") return "0 0 1 1 *";
  if (expression == "@monthly") return "0 0 1 * *";
  if (expression == "@weekly") return "0 0 * * 0";
  if (expression == "@daily" || expression == "@midnight") return "0 0 * * *";
  if (expression == "@hourly") return "0 * * * *";
  return {};
}

}  // namespace

Result<CronSchedule> CronSchedule::Parse(std::string_view expression) {
  if (expression.size() > kMaxExpressionBytes) return Bad("...", "longer than 256 bytes");
  // Trim, then split on runs of blanks.
  std::string_view text = expression;
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  CronSchedule schedule;
  schedule.expression_ = std::string(text);
  if (text.starts_with('@')) {
    const std::string_view expanded = Shorthand(text);
    if (expanded.empty())
      return Bad(text,
                 "unknown shorthand (@yearly, @annually, @monthly, @weekly, @daily, @hourly)");
    text = expanded;
  }
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    const std::size_t start = i;
    while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i > start) fields.push_back(text.substr(start, i - start));
  }
  if (fields.size() != 5) {
    return Bad(expression, "needs 5 fields (minute hour day-of-month month day-of-week), has " +
                               std::to_string(fields.size()));
  }
  RD_TRY_STATUS(ParseField(expression, Field{"minute", 0, 59, {}}, fields[0], schedule.minutes_));
  RD_TRY_STATUS(ParseField(expression, Field{"hour", 0, 23, {}}, fields[1], schedule.hours_));
  RD_TRY_STATUS(
      ParseField(expression, Field{"day of month", 1, 31, {}}, fields[2], schedule.days_));
  RD_TRY_STATUS(
      ParseField(expression, Field{"month", 1, 12, kMonthNames}, fields[3], schedule.months_));
  std::bitset<8> weekdays;
  RD_TRY_STATUS(
      ParseField(expression, Field{"day of week", 0, 7, kWeekdayNames}, fields[4], weekdays));
  for (std::size_t d = 0; d < 7; ++d) schedule.weekdays_[d] = weekdays[d];
  if (weekdays[7]) schedule.weekdays_.set(0);
  schedule.days_restricted_ = !fields[2].starts_with('*');
  schedule.weekdays_restricted_ = !fields[4].starts_with('*');
  if (!schedule.NextAfter(0)) return Bad(expression, "never runs");
  return schedule;
}

bool CronSchedule::DayMatches(int day_of_month, int month, int weekday) const {
  if (!months_[static_cast<std::size_t>(month)]) return false;
  const bool dom = days_[static_cast<std::size_t>(day_of_month)];
  const bool dow = weekdays_[static_cast<std::size_t>(weekday)];
  if (days_restricted_ && weekdays_restricted_) return dom || dow;
  return dom && dow;
}

std::optional<std::int64_t> CronSchedule::NextAfter(std::int64_t unix_seconds) const {
  // The minute after `unix_seconds`, then day by day.
  const std::int64_t start = (unix_seconds >= 0 ? unix_seconds / 60 : (unix_seconds - 59) / 60) + 1;
  std::int64_t day = start >= 0 ? start / 1440 : (start - 1439) / 1440;
  int minute_of_day = static_cast<int>(start - day * 1440);
  constexpr int kMaxDays = 366 * 30;
  for (int n = 0; n < kMaxDays; ++n, ++day, minute_of_day = 0) {
    const chr::sys_days days{chr::days{day}};
    const chr::year_month_day ymd{days};
    const chr::weekday wd{days};
    if (!DayMatches(static_cast<int>(static_cast<unsigned>(ymd.day())),
                    static_cast<int>(static_cast<unsigned>(ymd.month())),
                    static_cast<int>(wd.c_encoding()))) {
      continue;
    }
    for (int h = minute_of_day / 60; h < 24; ++h) {
      if (!hours_[static_cast<std::size_t>(h)]) continue;
      const int first = h == minute_of_day / 60 ? minute_of_day % 60 : 0;
      for (int m = first; m < 60; ++m) {
        if (minutes_[static_cast<std::size_t>(m)]) return (day * 1440 + h * 60 + m) * 60;
      }
    }
  }
  return std::nullopt;
}

}  // namespace replideploy::deploys
