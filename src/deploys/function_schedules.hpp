// Scheduled functions (docs/functions.md, "Scheduled functions"): which functions run on a
// schedule, and the loop that starts them at each slot, at most once per slot however many
// processes run the loop.
//
// Only the functions of a site's published deploy run (the one its production address serves;
// not those of previews, branch deploys, drafts or other unpublished deploys), in UTC. A slot is
// claimed by inserting (site, function, slot) into function_schedule_runs (migration 0020) if
// absent: the process whose insert wins runs it, the others skip it (SQLite and PostgreSQL alike).
// Slots missed while no process ran are not made up for; when the loop wakes late it runs the
// latest slot that passed, once.
//
// Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "db/database.hpp"

namespace replideploy::deploys {

struct ScheduledFunction {
  std::string site_id;
  std::string site_name;
  std::string deploy_id;
  std::string function_name;
  std::string sha256;    // the zip
  std::string schedule;  // cron expression (cron.hpp)
};

// One run the scheduler claimed: `slot` and `next_run` in Unix seconds (next_run: the slot after,
// what Netlify sends the function as {"next_run": ...}).
struct ScheduledRun {
  ScheduledFunction function;
  std::int64_t slot = 0;
  std::int64_t next_run = 0;
};

// The next run of `schedule` after `unix_seconds`; nullopt for an invalid schedule.
std::optional<std::int64_t> NextScheduledRun(const std::string& schedule,
                                             std::int64_t unix_seconds);

class FunctionScheduler {
 public:
  // Starts a claimed run; must not block for long (hand the call to a background executor).
  using Runner = std::function<void(const ScheduledRun&)>;

  // `db` and `clock` must outlive the scheduler. Nothing runs before Start().
  FunctionScheduler(db::Database& db, const core::Clock& clock, Runner runner);
  ~FunctionScheduler();
  FunctionScheduler(const FunctionScheduler&) = delete;
  FunctionScheduler& operator=(const FunctionScheduler&) = delete;

  // The loop: from now on, at each slot of a scheduled function, claims it and runs it. It
  // sleeps until the earliest next slot (or Wake()).
  void Start();
  // Stops the loop and waits for it (runs already handed to the runner are the runner's).
  void Stop();
  // What is published changed: the loop re-reads the scheduled functions.
  void Wake();

  // The scheduled functions of every site's published deploy.
  Result<std::vector<ScheduledFunction>> List();
  // For each function of List(), claims the latest slot in (after, until] (Unix seconds) and
  // hands it to the runner when this call's claim won. Returns how many it handed over.
  Result<int> RunDue(std::int64_t after, std::int64_t until);

 private:
  Result<bool> Claim(const ScheduledFunction& function, std::int64_t slot);
  // Runs the slots after `checked` (Unix seconds) as they come.
  void Loop(const std::stop_token& stop, std::int64_t checked);

  db::Database& db_;
  const core::Clock& clock_;
  Runner runner_;

  std::mutex mu_;
  std::condition_variable_any cv_;
  bool woken_ = false;
  std::jthread loop_;
};

}  // namespace replideploy::deploys
