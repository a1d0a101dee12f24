// The sandbox's side of supervising a bwrap build (core::SuperviseChild does the polling,
// reading and killing): output split into lines and queued for the caller's thread with
// back-pressure, bwrap's JSON status kept, the cgroup's limits checked, and a kill that takes the
// sandbox's PID namespace down through its init. Internal to BubblewrapRunner.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/process_supervisor.hpp"
#include "sandbox/cgroup.hpp"
#include "sandbox/output_lines.hpp"
#include "sandbox/runner.hpp"

namespace replideploy::sandbox {

struct QueuedLine {
  OutputStream stream;
  std::int64_t timestamp_ms;
  std::string text;
};

// Hands lines from the supervising thread to the caller's thread.
struct LineQueue {
  std::mutex mutex;
  std::condition_variable has_lines;
  std::condition_variable has_room;
  std::deque<QueuedLine> lines;
  std::size_t bytes = 0;
  bool done = false;
};

struct BuildOutcome {
  SandboxResult result;
  std::string status_json;  // bwrap's --json-status-fd output
  std::string last_stderr_line;
  std::optional<Error> error;
};

// One per Run(); used by the supervising thread only (the queue is the shared part). `pid` is the
// reaper the runner forked; `cgroup` may be null (rlimits).
class BwrapWatch {
 public:
  BwrapWatch(pid_t pid, BuildCgroup* cgroup, const SandboxSpec& spec, const core::Clock& clock,
             LineQueue& queue, const std::atomic<bool>& consumer_failed);

  // Supervises the build until every process of it is reaped. `out` is invalid when the
  // command's stdout goes to the caller's descriptor. Never throws.
  BuildOutcome Supervise(core::UniqueFd out, core::UniqueFd err, core::UniqueFd status) noexcept;

 private:
  core::Supervision Describe(core::UniqueFd out, core::UniqueFd err, core::UniqueFd status);
  core::SupervisedStream LineStream(core::UniqueFd fd, OutputStream stream);
  void Queue(OutputStream stream, std::vector<std::string>& lines);
  bool WaitForRoom(std::chrono::milliseconds wait);
  int CheckLimits() const;
  pid_t SandboxInitPid() const;
  void Kill();
  void Escalate();
  void Finish(const core::SupervisionResult& supervised);

  pid_t pid_;
  BuildCgroup* cgroup_;
  const SandboxSpec& spec_;
  const core::Clock& clock_;
  LineQueue& queue_;
  const std::atomic<bool>& consumer_failed_;
  BuildOutcome outcome_;
  LineSplitter splitters_[2] = {LineSplitter(kMaxLineBytes), LineSplitter(kMaxLineBytes)};
};

}  // namespace replideploy::sandbox
