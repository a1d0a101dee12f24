#include "sandbox/bwrap_watch.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <utility>

#include "core/child_process.hpp"
#include "sandbox/bwrap_args.hpp"

namespace replideploy::sandbox {

namespace {

constexpr std::size_t kMaxQueuedBytes = std::size_t{1024} * 1024;
constexpr auto kPollInterval = std::chrono::milliseconds(100);
// After the sandbox exits its pipes close at once (its PID namespace is gone); this bounds the
// wait for stragglers anyway, and how long a killed sandbox gets before the harder kill.
constexpr auto kDrainGrace = std::chrono::seconds(2);
// Stop reasons of ours, above core's.
constexpr int kLimitReasonBase = 100;

int Reason(LimitHit hit) { return kLimitReasonBase + static_cast<int>(hit); }

LimitHit HitFor(int stop_reason) {
  switch (stop_reason) {
    case core::kNotStopped:
      return LimitHit::kNone;
    case core::kStoppedAtDeadline:
      return LimitHit::kWallTime;
    case core::kStoppedAtOutputCap:
      return LimitHit::kOutput;
    default:
      return static_cast<LimitHit>(stop_reason - kLimitReasonBase);
  }
}

// POSIX read: /proc files of exiting processes fail with ESRCH, which std::ifstream throws on.
std::string ReadProcFile(const std::string& path) {
  std::string text;
  const core::UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return text;
  char buffer[1024];
  ssize_t n = 0;
  while ((n = read(fd.get(), buffer, sizeof buffer)) > 0) {
    text.append(buffer, static_cast<std::size_t>(n));
  }
  return text;
}

// "pid (comm) state ppid ...": the parent's pid, or -1.
pid_t ParentOf(pid_t pid) {
  const std::string stat = ReadProcFile("/proc/" + std::to_string(pid) + "/stat");
  const std::size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 4 >= stat.size()) return -1;
  return static_cast<pid_t>(std::atol(stat.c_str() + paren + 4));
}

}  // namespace

BwrapWatch::BwrapWatch(pid_t pid, BuildCgroup* cgroup, const SandboxSpec& spec,
                       const core::Clock& clock, LineQueue& queue,
                       const std::atomic<bool>& consumer_failed)
    : pid_(pid),
      cgroup_(cgroup),
      spec_(spec),
      clock_(clock),
      queue_(queue),
      consumer_failed_(consumer_failed) {}

BuildOutcome BwrapWatch::Supervise(core::UniqueFd out, core::UniqueFd err,
                                   core::UniqueFd status) noexcept {
  core::SupervisionResult supervised;
  try {
    supervised =
        core::SuperviseChild(pid_, Describe(std::move(out), std::move(err), std::move(status)));
  } catch (const std::exception& e) {  // describing it failed: nothing was read yet
    supervised.error = e.what();
    kill(pid_, SIGKILL);
    supervised.wait_status = core::ReapChild(pid_);
  }
  Finish(supervised);
  return std::move(outcome_);
}

core::Supervision BwrapWatch::Describe(core::UniqueFd out, core::UniqueFd err,
                                       core::UniqueFd status) {
  core::Supervision watch;
  if (out.get() >= 0) watch.streams.push_back(LineStream(std::move(out), OutputStream::kStdout));
  watch.streams.push_back(LineStream(std::move(err), OutputStream::kStderr));
  watch.streams.push_back(core::SupervisedStream{
      .fd = std::move(status),
      .on_data = [this](std::string_view chunk) { outcome_.status_json.append(chunk); },
      .counts_toward_cap = false});
  watch.deadline = std::chrono::steady_clock::now() + spec_.limits.wall_time;
  watch.max_output_bytes = spec_.limits.max_output_bytes;
  watch.check = [this] { return CheckLimits(); };
  // Back-pressure: nothing is read (so the build blocks on its writes) until the callback
  // catches up; limits are still checked every interval.
  watch.hold_reading = [this](std::chrono::milliseconds wait) { return WaitForRoom(wait); };
  watch.kill = [this] { Kill(); };
  watch.escalate = [this] { Escalate(); };
  watch.poll_interval = kPollInterval;
  watch.drain_grace = kDrainGrace;
  watch.kill_grace = kDrainGrace;
  return watch;
}

core::SupervisedStream BwrapWatch::LineStream(core::UniqueFd fd, OutputStream stream) {
  LineSplitter& splitter = splitters_[stream == OutputStream::kStdout ? 0 : 1];
  return core::SupervisedStream{.fd = std::move(fd),
                                .on_data =
                                    [this, &splitter, stream](std::string_view chunk) {
                                      std::vector<std::string> lines;
                                      splitter.Feed(chunk, lines);
                                      Queue(stream, lines);
                                    },
                                .on_end =
                                    [this, &splitter, stream] {
                                      std::vector<std::string> lines;
                                      splitter.Finish(lines);
                                      Queue(stream, lines);
                                    }};
}

void BwrapWatch::Queue(OutputStream stream, std::vector<std::string>& lines) {
  if (lines.empty()) return;
  if (stream == OutputStream::kStderr) outcome_.last_stderr_line = lines.back();
  const std::int64_t timestamp = clock_.NowMillis();
  std::lock_guard lock(queue_.mutex);
  for (auto& line : lines) {
    queue_.bytes += line.size() + 1;
    queue_.lines.push_back(QueuedLine{stream, timestamp, std::move(line)});
  }
  queue_.has_lines.notify_one();
}

bool BwrapWatch::WaitForRoom(std::chrono::milliseconds wait) {
  std::unique_lock lock(queue_.mutex);
  if (queue_.bytes < kMaxQueuedBytes) return false;
  queue_.has_room.wait_for(lock, wait, [&] { return queue_.bytes < kMaxQueuedBytes; });
  return true;
}

int BwrapWatch::CheckLimits() const {
  if (spec_.stop.stop_requested() || consumer_failed_.load()) return Reason(LimitHit::kCancelled);
  if (cgroup_ && cgroup_->OomKills() > 0) return Reason(LimitHit::kMemory);
  if (cgroup_ && cgroup_->ProcessLimitHits() > 0) return Reason(LimitHit::kProcesses);
  return core::kNotStopped;
}

// The host pid of the sandbox's init (bwrap's "child-pid"), while it is still bwrap's child.
pid_t BwrapWatch::SandboxInitPid() const {
  const pid_t init = ChildPidFromStatus(outcome_.status_json);
  if (init <= 0) return -1;
  // The init's parent is bwrap, our reaper's child, or, once bwrap is gone, the reaper itself.
  const pid_t parent = ParentOf(init);
  return parent == pid_ || ParentOf(parent) == pid_ ? init : -1;
}

// Killing the sandbox's init takes its whole PID namespace along; bwrap and then the reaper
// exit by themselves. Escalate() covers a reaper that does not.
void BwrapWatch::Kill() {
  const pid_t init = SandboxInitPid();
  kill(init > 0 ? init : pid_, SIGKILL);
}

void BwrapWatch::Escalate() {
  kill(-pid_, SIGKILL);  // the reaper and bwrap (same process group)
  if (cgroup_) cgroup_->KillAll();
}

void BwrapWatch::Finish(const core::SupervisionResult& supervised) {
  SandboxResult& result = outcome_.result;
  LimitHit hit = HitFor(supervised.stop_reason);
  // A limit can be hit right before the command ends (the OOM killer picked the hog, the shell
  // then exited): still report it.
  if (hit == LimitHit::kNone && cgroup_) {
    if (cgroup_->OomKills() > 0) {
      hit = LimitHit::kMemory;
    } else if (cgroup_->ProcessLimitHits() > 0) {
      hit = LimitHit::kProcesses;
    }
  }
  if (hit != LimitHit::kNone) {
    result.limit = hit;
    result.limit_message = LimitMessage(hit, spec_.limits);
  }
  if (cgroup_) cgroup_->KillAll();
  result.output_bytes = supervised.output_bytes;
  result.duration = supervised.duration;
  if (WIFEXITED(supervised.wait_status)) {
    result.exit_code = WEXITSTATUS(supervised.wait_status);
  } else if (WIFSIGNALED(supervised.wait_status)) {
    result.signal = WTERMSIG(supervised.wait_status);
  }
  if (supervised.error) {
    outcome_.error = MakeError(ErrorCode::kInternal, "build supervisor: " + *supervised.error);
  }
}

}  // namespace replideploy::sandbox
