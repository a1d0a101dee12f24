#include "deploys/function_schedules.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>

#include "deploys/cron.hpp"

namespace replideploy::deploys {

namespace {

// Claims older than this are deleted (a slot is only ever claimed around its own time).
constexpr std::int64_t kKeepClaimsSeconds = 2 * 86400;
// With nothing scheduled, or after a database error, the loop looks again after this.
constexpr std::chrono::seconds kIdleWait{60};

std::string ScheduleOf(const std::string& config) {
  std::error_code ec;
  boost::json::value v = boost::json::parse(config, ec);
  if (ec || !v.is_object()) return "";
  const boost::json::value* s = v.as_object().if_contains("schedule");
  return s != nullptr && s->is_string() ? std::string(s->as_string()) : "";
}

}  // namespace

std::optional<std::int64_t> NextScheduledRun(const std::string& schedule,
                                             std::int64_t unix_seconds) {
  auto cron = CronSchedule::Parse(schedule);
  if (!cron.ok()) return std::nullopt;
  return cron->NextAfter(unix_seconds);
}

FunctionScheduler::FunctionScheduler(db::Database& db, const core::Clock& clock, Runner runner)
    : db_(db), clock_(clock), runner_(std::move(runner)) {}

FunctionScheduler::~FunctionScheduler() { Stop(); }

void FunctionScheduler::Start() {
  const std::int64_t from = clock_.NowMillis() / 1000;
  loop_ = std::jthread([this, from](const std::stop_token& stop) { Loop(stop, from); });
}

void FunctionScheduler::Stop() {
  if (!loop_.joinable()) return;
  loop_.request_stop();
  cv_.notify_all();
  loop_.join();
}

void FunctionScheduler::Wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

Result<std::vector<ScheduledFunction>> FunctionScheduler::List() {
  RD_TRY(db::Rows rows,
         db_.Exec("SELECT s.id, s.name, d.id, f.name, f.sha256, f.config FROM sites s "
                  "JOIN deploys d ON d.id = s.published_deploy_id "
                  "JOIN deploy_functions f ON f.deploy_id = d.id "
                  "WHERE d.state = 'ready' "
                  "AND f.uploaded = 1 AND f.config LIKE '%\"schedule\"%' "
                  "ORDER BY s.id, f.name"));
  std::vector<ScheduledFunction> out;
  for (const auto& r : rows.rows) {
    std::string schedule = ScheduleOf(r.Text(5));
    if (schedule.empty()) continue;
    out.push_back({r.Text(0), r.Text(1), r.Text(2), r.Text(3), r.Text(4), std::move(schedule)});
  }
  return out;
}

Result<bool> FunctionScheduler::Claim(const ScheduledFunction& function, std::int64_t slot) {
  RD_TRY(db::Rows inserted,
         db_.Exec("INSERT INTO function_schedule_runs (site_id, function_name, slot, deploy_id, "
                  "claimed_at) VALUES (?, ?, ?, ?, ?) "
                  "ON CONFLICT (site_id, function_name, slot) DO NOTHING",
                  {function.site_id, function.function_name, slot, function.deploy_id,
                   clock_.NowMillis()}));
  return inserted.affected == 1;
}

Result<int> FunctionScheduler::RunDue(std::int64_t after, std::int64_t until) {
  RD_TRY(std::vector<ScheduledFunction> functions, List());
  int handed = 0;
  for (const ScheduledFunction& function : functions) {
    auto cron = CronSchedule::Parse(function.schedule);
    if (!cron.ok()) continue;
    // The latest slot in (after, until].
    std::optional<std::int64_t> slot;
    for (auto s = cron->NextAfter(after); s && *s <= until; s = cron->NextAfter(*s)) slot = s;
    if (!slot) continue;
    auto claimed = Claim(function, *slot);
    if (!claimed.ok()) {
      spdlog::warn("scheduled function {} of site {}: claiming {}: {}", function.function_name,
                   function.site_name, *slot, claimed.error().message);
      continue;
    }
    if (!*claimed) continue;  // another process runs this slot
    ++handed;
    runner_(ScheduledRun{function, *slot, cron->NextAfter(*slot).value_or(0)});
  }
  if (handed > 0) {
    if (auto swept = db_.Exec("DELETE FROM function_schedule_runs WHERE slot < ?",
                              {until - kKeepClaimsSeconds});
        !swept.ok()) {
      spdlog::warn("scheduled functions: deleting old claims: {}", swept.error().message);
    }
  }
  return handed;
}

void FunctionScheduler::Loop(const std::stop_token& stop, std::int64_t checked) {
  while (!stop.stop_requested()) {
    const std::int64_t now_ms = clock_.NowMillis();
    const std::int64_t now = now_ms / 1000;
    std::chrono::milliseconds wait = kIdleWait;
    if (auto ran = RunDue(checked, now); !ran.ok()) {
      spdlog::warn("scheduled functions: {}", ran.error().message);
    } else {
      checked = now;
      // Sleep until the earliest next slot.
      if (auto functions = List(); functions.ok()) {
        std::optional<std::int64_t> next;
        for (const auto& f : *functions) {
          if (auto n = NextScheduledRun(f.schedule, now); n && (!next || *n < *next)) next = n;
        }
        if (next) {
          wait = std::min(std::chrono::milliseconds(*next * 1000 - now_ms),
                          std::chrono::milliseconds(std::chrono::hours(1)));
        }
      }
    }
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, stop, wait, [this] { return woken_; });
    woken_ = false;
  }
}

}  // namespace replideploy::deploys
