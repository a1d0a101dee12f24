#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <filesystem>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>

#include "core/unique_fd.hpp"
#include "sandbox/bwrap_args.hpp"
#include "sandbox/cgroup.hpp"
#include "sandbox/output_lines.hpp"
#include "sandbox/runner.hpp"

namespace replideploy::sandbox {

namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr std::size_t kMaxQueuedBytes = 1024 * 1024;
constexpr std::size_t kReadChunk = 64 * 1024;
constexpr auto kPollInterval = std::chrono::milliseconds(100);
// After the sandbox exits its pipes close at once (its PID namespace is gone); this bounds the
// wait for stragglers anyway.
constexpr auto kDrainGrace = std::chrono::seconds(2);
// How long bwrap may take to set the sandbox up and report its init's pid.
constexpr auto kSetupTimeout = std::chrono::seconds(30);

using core::UniqueFd;

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

Result<Pipe> MakePipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return MakeError(ErrorCode::kInternal, std::string("pipe: ") + std::strerror(errno));
  }
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// POSIX read: /proc files of exiting processes fail with ESRCH, which std::ifstream throws on.
std::string ReadProcFile(const std::string& path) {
  std::string text;
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return text;
  char buffer[1024];
  ssize_t n = 0;
  while ((n = read(fd, buffer, sizeof buffer)) > 0)
    text.append(buffer, static_cast<std::size_t>(n));
  close(fd);
  return text;
}

pid_t ParentOf(pid_t pid) {
  const std::string stat = ReadProcFile("/proc/" + std::to_string(pid) + "/stat");
  const std::size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 4 >= stat.size()) return -1;
  return static_cast<pid_t>(std::atol(stat.c_str() + paren + 4));
}

// What the child reports on the error pipe when it cannot get to exec.
struct ChildFailure {
  int stage;
  int error;
};

enum ChildStage : int {
  kStageCgroup = 1,
  kStageRlimit,
  kStageFds,
  kStageSetgroups,
  kStageSetgid,
  kStageSetuid,
  kStageStillRoot,
  kStageParentDied,
  kStageSubreaper,
  kStageFork,
  kStageExec,
};

const char* StageName(int stage) {
  switch (stage) {
    case kStageCgroup:
      return "joining the build cgroup";
    case kStageRlimit:
      return "setting resource limits";
    case kStageFds:
      return "setting up file descriptors";
    case kStageSetgroups:
      return "setgroups";
    case kStageSetgid:
      return "setgid";
    case kStageSetuid:
      return "setuid";
    case kStageStillRoot:
      return "dropping root";
    case kStageParentDied:
      return "parent exited";
    case kStageSubreaper:
      return "becoming a subreaper";
    case kStageFork:
      return "forking bwrap";
    case kStageExec:
      return "executing bwrap";
    default:
      return "unknown step";
  }
}

[[noreturn]] void ChildFail(int error_fd, int stage) {
  const ChildFailure failure{stage, errno};
  [[maybe_unused]] const ssize_t n = write(error_fd, &failure, sizeof failure);
  _exit(127);
}

// Everything the child needs, prepared before fork so the child only makes system calls.
struct ChildPlan {
  std::vector<std::string> argv_storage;
  std::vector<char*> argv;
  std::vector<std::string> env_storage;
  std::vector<char*> env;
  std::optional<BuildUser> user;
  std::vector<int> cgroup_procs_fds;
  bool use_rlimits = false;
  std::int64_t memory_bytes = 0;
  int max_processes = 0;
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  int status_fd = -1;
  int block_fd = -1;  // -1: no network to wait for
  int resolv_fd = -1;
  int args_fd = -1;
  int error_fd = -1;
  std::int64_t max_file_bytes = 0;
  int max_open_files = 0;
  pid_t parent = 0;
};

// Runs in the forked child: async-signal-safe calls only.
[[noreturn]] void RunChild(const ChildPlan& plan) {
  int error_fd = plan.error_fd;
  setsid();
  for (const int fd : plan.cgroup_procs_fds) {
    if (write(fd, "0", 1) != 1) ChildFail(error_fd, kStageCgroup);
  }
  const rlimit no_core{0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  const rlimit file_size{static_cast<rlim_t>(plan.max_file_bytes),
                         static_cast<rlim_t>(plan.max_file_bytes)};
  const rlimit open_files{static_cast<rlim_t>(plan.max_open_files),
                          static_cast<rlim_t>(plan.max_open_files)};
  if (setrlimit(RLIMIT_FSIZE, &file_size) != 0 || setrlimit(RLIMIT_NOFILE, &open_files) != 0) {
    ChildFail(error_fd, kStageRlimit);
  }
  if (plan.use_rlimits) {
    const rlimit memory{static_cast<rlim_t>(plan.memory_bytes),
                        static_cast<rlim_t>(plan.memory_bytes)};
    const rlimit processes{static_cast<rlim_t>(plan.max_processes),
                           static_cast<rlim_t>(plan.max_processes)};
    if (setrlimit(RLIMIT_AS, &memory) != 0 || setrlimit(RLIMIT_NPROC, &processes) != 0) {
      ChildFail(error_fd, kStageRlimit);
    }
  }
  // Move our descriptors above the ones we are about to fill, then put them in place.
  error_fd = fcntl(error_fd, F_DUPFD_CLOEXEC, 10);
  const int in = fcntl(plan.stdin_fd, F_DUPFD_CLOEXEC, 10);
  const int out = fcntl(plan.stdout_fd, F_DUPFD_CLOEXEC, 10);
  const int err = fcntl(plan.stderr_fd, F_DUPFD_CLOEXEC, 10);
  const int status = fcntl(plan.status_fd, F_DUPFD_CLOEXEC, 10);
  const int block = plan.block_fd >= 0 ? fcntl(plan.block_fd, F_DUPFD_CLOEXEC, 10) : -1;
  const int resolv = plan.resolv_fd >= 0 ? fcntl(plan.resolv_fd, F_DUPFD_CLOEXEC, 10) : -1;
  const int args = fcntl(plan.args_fd, F_DUPFD_CLOEXEC, 10);
  if (error_fd < 0) _exit(127);
  if (in < 0 || out < 0 || err < 0 || status < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 ||
      dup2(err, 2) < 0 || dup2(status, kStatusFdInChild) < 0 ||
      (plan.block_fd >= 0 && (block < 0 || dup2(block, kBlockFdInChild) < 0)) ||
      (plan.resolv_fd >= 0 && (resolv < 0 || dup2(resolv, kResolvFdInChild) < 0)) || args < 0 ||
      dup2(args, kArgsFdInChild) < 0) {
    ChildFail(error_fd, kStageFds);
  }
  // Nothing else of ours may reach the sandbox.
  close_range(kArgsFdInChild + 1, ~0U, CLOSE_RANGE_CLOEXEC);
  if (plan.block_fd < 0) close(kBlockFdInChild);
  if (plan.resolv_fd < 0) close(kResolvFdInChild);
  if (plan.user) {
    if (setgroups(0, nullptr) != 0) ChildFail(error_fd, kStageSetgroups);
    if (setgid(plan.user->gid) != 0) ChildFail(error_fd, kStageSetgid);
    if (setuid(plan.user->uid) != 0) ChildFail(error_fd, kStageSetuid);
    if (getuid() == 0 || geteuid() == 0 || setuid(0) == 0) {
      errno = EPERM;
      ChildFail(error_fd, kStageStillRoot);
    }
  }
  // After setuid, which clears it.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != plan.parent) {
    errno = ESRCH;
    ChildFail(error_fd, kStageParentDied);
  }
  // We stay as a reaper between the server and bwrap: bwrap exits as soon as the command does,
  // leaving the sandbox's init to be killed (--die-with-parent) and reparented. As a subreaper
  // we collect it instead of the host's init, and exit only when nothing of the build is left.
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) ChildFail(error_fd, kStageSubreaper);
  const pid_t reaper = getpid();
  const pid_t bwrap = fork();
  if (bwrap < 0) ChildFail(error_fd, kStageFork);
  if (bwrap == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != reaper) {
      errno = ESRCH;
      ChildFail(error_fd, kStageParentDied);
    }
    execve(plan.argv[0], plan.argv.data(), plan.env.data());
    ChildFail(error_fd, kStageExec);
  }
  // Our copies of the pipes would keep the server from seeing the end of the output.
  close_range(0, ~0U, 0);
  int bwrap_status = 0;
  while (true) {
    int status_value = 0;
    const pid_t done = waitpid(-1, &status_value, 0);
    if (done == bwrap) bwrap_status = status_value;
    if (done < 0 && errno != EINTR) break;
  }
  if (WIFSIGNALED(bwrap_status)) {
    signal(WTERMSIG(bwrap_status), SIG_DFL);
    kill(getpid(), WTERMSIG(bwrap_status));
    _exit(128 + WTERMSIG(bwrap_status));
  }
  _exit(WEXITSTATUS(bwrap_status));
}

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

struct SupervisorOutcome {
  SandboxResult result;
  std::string status_json;
  std::string last_stderr_line;
  std::optional<Error> error;
};

class Supervisor {
 public:
  Supervisor(pid_t pid, UniqueFd out, UniqueFd err, UniqueFd status, BuildCgroup* cgroup,
             const SandboxSpec& spec, const core::Clock& clock, LineQueue& queue,
             const std::atomic<bool>& consumer_failed, std::string early_status)
      : early_status_(std::move(early_status)),
        pid_(pid),
        cgroup_(cgroup),
        spec_(spec),
        clock_(clock),
        queue_(queue),
        consumer_failed_(consumer_failed) {
    fds_[0] = std::move(out);
    fds_[1] = std::move(err);
    fds_[2] = std::move(status);
    for (auto& fd : fds_) fcntl(fd.get(), F_SETFL, fcntl(fd.get(), F_GETFL) | O_NONBLOCK);
  }

  SupervisorOutcome Supervise() noexcept {
    SupervisorOutcome outcome;
    outcome.status_json = std::move(early_status_);
    try {
      Loop(outcome);
    } catch (const std::exception& e) {
      outcome.error = MakeError(ErrorCode::kInternal, std::string("build supervisor: ") + e.what());
    } catch (...) {
      outcome.error = MakeError(ErrorCode::kInternal, "build supervisor failed");
    }
    KillAndReap(outcome);
    return outcome;
  }

 private:
  void Loop(SupervisorOutcome& outcome) {
    const auto start = SteadyClock::now();
    const auto deadline = start + spec_.limits.wall_time;
    SteadyClock::time_point ended_at{};
    while (true) {
      const auto now = SteadyClock::now();
      if (!killed_) {
        LimitHit hit = LimitHit::kNone;
        if (spec_.stop.stop_requested() || consumer_failed_.load()) {
          hit = LimitHit::kCancelled;
        } else if (now >= deadline) {
          hit = LimitHit::kWallTime;
        } else if (cgroup_ && cgroup_->OomKills() > 0) {
          hit = LimitHit::kMemory;
        } else if (cgroup_ && cgroup_->ProcessLimitHits() > 0) {
          hit = LimitHit::kProcesses;
        }
        if (hit != LimitHit::kNone) {
          SetLimit(outcome, hit);
          Kill(outcome);
        }
      }
      if (!reaped_) {
        const pid_t r = waitpid(pid_, &wait_status_, WNOHANG);
        if (r == pid_) {
          reaped_ = true;
          ended_at = now;
        }
      }
      const bool pipes_open = fds_[0].get() >= 0 || fds_[1].get() >= 0 || fds_[2].get() >= 0;
      if (reaped_ && !pipes_open) break;
      if (reaped_ && now - ended_at > kDrainGrace) {
        if (cgroup_) cgroup_->KillAll();
        break;
      }
      if (killed_ && !reaped_ && now - killed_at_ > kDrainGrace) Escalate();
      if (killed_ && now - killed_at_ > kDrainGrace + kDrainGrace) break;
      if (!killed_ && QueueFull()) {
        // Back-pressure: stop reading so the build blocks on its writes until the callback
        // catches up; limits are still checked every interval.
        std::unique_lock lock(queue_.mutex);
        queue_.has_room.wait_for(lock, kPollInterval,
                                 [&] { return queue_.bytes < kMaxQueuedBytes; });
        continue;
      }
      PollOnce(outcome);
    }
    // A limit can be hit right before the command ends (the OOM killer picked the hog, the shell
    // then exited): still report it.
    if (outcome.result.limit == LimitHit::kNone && cgroup_) {
      if (cgroup_->OomKills() > 0) {
        SetLimit(outcome, LimitHit::kMemory);
      } else if (cgroup_->ProcessLimitHits() > 0) {
        SetLimit(outcome, LimitHit::kProcesses);
      }
    }
    outcome.result.duration =
        std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start);
  }

  void PollOnce(SupervisorOutcome& outcome) {
    pollfd polls[3];
    int count = 0;
    int which[3];
    for (int i = 0; i < 3; ++i) {
      if (fds_[i].get() < 0) continue;
      polls[count] = pollfd{fds_[i].get(), POLLIN, 0};
      which[count++] = i;
    }
    if (count == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      return;
    }
    const int ready =
        poll(polls, static_cast<nfds_t>(count), static_cast<int>(kPollInterval.count()));
    if (ready <= 0) return;
    for (int k = 0; k < count; ++k) {
      if (polls[k].revents == 0) continue;
      ReadFrom(which[k], outcome);
    }
  }

  void ReadFrom(int index, SupervisorOutcome& outcome) {
    char buffer[kReadChunk];
    const ssize_t n = read(fds_[index].get(), buffer, sizeof buffer);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    std::vector<std::string> lines;
    if (n <= 0) {
      fds_[index].Reset();
      if (index < 2) splitters_[index].Finish(lines);
    } else if (index == 2) {
      outcome.status_json.append(buffer, static_cast<std::size_t>(n));
      return;
    } else if (!output_capped_) {
      std::size_t take = static_cast<std::size_t>(n);
      const std::int64_t room = spec_.limits.max_output_bytes - outcome.result.output_bytes;
      if (static_cast<std::int64_t>(take) > room) {
        take = static_cast<std::size_t>(std::max<std::int64_t>(room, 0));
        output_capped_ = true;
      }
      outcome.result.output_bytes += static_cast<std::int64_t>(take);
      splitters_[index].Feed(std::string_view(buffer, take), lines);
      if (output_capped_) {
        splitters_[index].Finish(lines);
        if (!killed_) {
          SetLimit(outcome, LimitHit::kOutput);
          Kill(outcome);
        }
      }
    }
    if (lines.empty()) return;
    const auto stream = index == 0 ? OutputStream::kStdout : OutputStream::kStderr;
    if (stream == OutputStream::kStderr) outcome.last_stderr_line = lines.back();
    const std::int64_t timestamp = clock_.NowMillis();
    std::lock_guard lock(queue_.mutex);
    for (auto& line : lines) {
      queue_.bytes += line.size() + 1;
      queue_.lines.push_back(QueuedLine{stream, timestamp, std::move(line)});
    }
    queue_.has_lines.notify_one();
  }

  bool QueueFull() {
    std::lock_guard lock(queue_.mutex);
    return queue_.bytes >= kMaxQueuedBytes;
  }

  void SetLimit(SupervisorOutcome& outcome, LimitHit hit) {
    outcome.result.limit = hit;
    outcome.result.limit_message = LimitMessage(hit, spec_.limits);
  }

  // The host pid of the sandbox's init (bwrap's "child-pid"), while it is still bwrap's child.
  pid_t SandboxInitPid(const SupervisorOutcome& outcome) const {
    const pid_t init = ChildPidFromStatus(outcome.status_json);
    if (init <= 0) return -1;
    const std::string stat = ReadProcFile("/proc/" + std::to_string(init) + "/stat");
    const std::size_t paren = stat.rfind(')');
    if (paren == std::string::npos) return -1;
    // "pid (comm) state ppid ...": the init's parent is bwrap, our reaper's child, or, once
    // bwrap is gone, the reaper itself.
    const pid_t parent =
        static_cast<pid_t>(std::atol(stat.c_str() + std::min(paren + 4, stat.size())));
    return parent == pid_ || ParentOf(parent) == pid_ ? init : -1;
  }

  // Killing the sandbox's init takes its whole PID namespace along; bwrap and then the reaper
  // exit by themselves. Escalate() covers a reaper that does not.
  void Kill(const SupervisorOutcome& outcome) {
    killed_ = true;
    killed_at_ = SteadyClock::now();
    if (reaped_) return;
    const pid_t init = SandboxInitPid(outcome);
    kill(init > 0 ? init : pid_, SIGKILL);
  }

  void Escalate() {
    if (!reaped_) kill(-pid_, SIGKILL);  // the reaper and bwrap (same process group)
    if (cgroup_) cgroup_->KillAll();
  }

  void KillAndReap(SupervisorOutcome& outcome) noexcept {
    if (!reaped_) {
      if (!killed_) Kill(outcome);
      const auto give_up = SteadyClock::now() + kDrainGrace;
      while (!reaped_) {
        const pid_t r = waitpid(pid_, &wait_status_, WNOHANG);
        if (r == pid_ || (r < 0 && errno != EINTR)) {
          reaped_ = true;
        } else if (SteadyClock::now() >= give_up) {
          Escalate();
          while (waitpid(pid_, &wait_status_, 0) < 0 && errno == EINTR) {
          }
          reaped_ = true;
        } else {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
      }
    }
    if (cgroup_) cgroup_->KillAll();
    for (auto& fd : fds_) fd.Reset();
    if (WIFEXITED(wait_status_)) {
      outcome.result.exit_code = WEXITSTATUS(wait_status_);
    } else if (WIFSIGNALED(wait_status_)) {
      outcome.result.signal = WTERMSIG(wait_status_);
    }
  }

  std::string early_status_;  // what Run() read of bwrap's status before supervision
  pid_t pid_;
  BuildCgroup* cgroup_;
  const SandboxSpec& spec_;
  const core::Clock& clock_;
  LineQueue& queue_;
  const std::atomic<bool>& consumer_failed_;
  UniqueFd fds_[3];  // stdout, stderr, bwrap's JSON status
  LineSplitter splitters_[2] = {LineSplitter(kMaxLineBytes), LineSplitter(kMaxLineBytes)};
  bool killed_ = false;
  SteadyClock::time_point killed_at_{};
  bool reaped_ = false;
  bool output_capped_ = false;
  int wait_status_ = 0;
};

// Reads bwrap's JSON status until it names the sandbox's init ("child-pid"); what was read is
// kept in `status`. Error when bwrap ends or stays silent first.
Result<pid_t> WaitForSandboxInit(int status_fd, std::string& status) {
  const auto deadline = SteadyClock::now() + kSetupTimeout;
  while (SteadyClock::now() < deadline) {
    if (const pid_t init = ChildPidFromStatus(status); init > 0) return init;
    pollfd poll_fd{status_fd, POLLIN, 0};
    if (poll(&poll_fd, 1, 100) <= 0) continue;
    char buffer[4096];
    const ssize_t n = read(status_fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    status.append(buffer, static_cast<std::size_t>(n));
  }
  return MakeError(ErrorCode::kInternal, "the build sandbox did not start");
}

std::atomic<std::uint64_t> g_build_counter{0};

}  // namespace

BubblewrapRunner::BubblewrapRunner(BubblewrapOptions options, const core::Clock& clock)
    : options_(std::move(options)), clock_(clock) {}

const core::Clock& BubblewrapRunner::DefaultClock() {
  static const core::SystemClock clock;
  return clock;
}

bool BubblewrapRunner::Available() const { return access(options_.bwrap_path.c_str(), X_OK) == 0; }

Result<SandboxResult> BubblewrapRunner::Run(const SandboxSpec& spec,
                                            const OutputCallback& on_line) try {
  if (!Available()) {
    return MakeError(ErrorCode::kUnavailable, "bubblewrap not found at " + options_.bwrap_path);
  }
  // Networking: the public internet through an EgressLink (root only: slirp4netns and nft must
  // enter the sandbox's namespace), else loopback alone.
  std::string network = "public internet";
  if (!spec.network) {
    network = "none";
  } else if (options_.egress.mode == NetworkMode::kNone) {
    network = "none (turned off by the operator: --build-network none)";
  } else if (geteuid() != 0) {
    network = "none (the server does not run as root, so no network can be attached)";
  }
  const bool egress = network == "public internet";
  RD_TRY(std::vector<std::string> argv,
         BubblewrapArgv(spec, options_, kStatusFdInChild, egress ? kBlockFdInChild : -1,
                        egress ? kResolvFdInChild : -1));
  if (spec.limits.tmp_bytes <= 0 || spec.limits.max_file_bytes <= 0 ||
      spec.limits.max_open_files <= 0) {
    return MakeError(ErrorCode::kUnprocessable, "build limits must be positive");
  }
  if (spec.limits.memory_bytes <= 0 || spec.limits.max_processes <= 0 ||
      spec.limits.max_output_bytes < 0 || spec.limits.wall_time.count() <= 0) {
    return MakeError(ErrorCode::kUnprocessable, "build limits must be positive");
  }
  ChildPlan plan;
  if (geteuid() == 0) {
    RD_TRY(BuildUser user, EnsureBuildUser(options_.build_user));
    plan.user = user;
  }
  const std::string cgroup_name = "replideploy-build-" + std::to_string(getpid()) + "-" +
                                  std::to_string(g_build_counter.fetch_add(1));
  std::unique_ptr<BuildCgroup> cgroup =
      BuildCgroup::Create(options_.cgroup_root, cgroup_name, spec.limits.memory_bytes,
                          spec.limits.max_processes, spec.limits.cpus);

  RD_TRY(Pipe out, MakePipe());
  RD_TRY(Pipe err, MakePipe());
  RD_TRY(Pipe status, MakePipe());
  RD_TRY(Pipe error_pipe, MakePipe());
  Pipe block;
  Pipe resolv;
  if (egress) {
    RD_TRY(block, MakePipe());
    RD_TRY(resolv, MakePipe());
    const std::string_view conf = SandboxResolvConf();
    if (write(resolv.write.get(), conf.data(), conf.size()) != static_cast<ssize_t>(conf.size())) {
      return MakeError(ErrorCode::kInternal, "cannot prepare the sandbox's resolv.conf");
    }
    resolv.write.Reset();
  }
  UniqueFd null_in(open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (null_in.get() < 0) return MakeError(ErrorCode::kInternal, "cannot open /dev/null");

  // bwrap's options go through a sealed memfd (--args): only the command stays on its command
  // line, so `ps` shows no variable of the build (secrets included).
  BwrapCommandLine command = MoveOptionsToArgsFd(argv, kArgsFdInChild);
  UniqueFd args(memfd_create("bwrap-args", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (args.get() < 0 ||
      write(args.get(), command.options.data(), command.options.size()) !=
          static_cast<ssize_t>(command.options.size()) ||
      lseek(args.get(), 0, SEEK_SET) != 0 ||
      fcntl(args.get(), F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) !=
          0) {
    return MakeError(ErrorCode::kInternal, "cannot prepare the sandbox's options");
  }
  plan.argv_storage = std::move(command.argv);
  for (auto& arg : plan.argv_storage) plan.argv.push_back(arg.data());
  plan.argv.push_back(nullptr);
  plan.env_storage = {"PATH=/usr/bin:/bin"};
  for (auto& entry : plan.env_storage) plan.env.push_back(entry.data());
  plan.env.push_back(nullptr);
  if (cgroup) plan.cgroup_procs_fds = cgroup->procs_fds();
  plan.use_rlimits = !cgroup;
  plan.memory_bytes = spec.limits.memory_bytes;
  plan.max_processes = spec.limits.max_processes;
  plan.stdin_fd = spec.stdin_fd >= 0 ? spec.stdin_fd : null_in.get();
  plan.stdout_fd = spec.stdout_fd >= 0 ? spec.stdout_fd : out.write.get();
  plan.stderr_fd = err.write.get();
  plan.status_fd = status.write.get();
  plan.block_fd = egress ? block.read.get() : -1;
  plan.resolv_fd = egress ? resolv.read.get() : -1;
  plan.args_fd = args.get();
  plan.max_file_bytes = spec.limits.max_file_bytes;
  plan.max_open_files = spec.limits.max_open_files;
  plan.error_fd = error_pipe.write.get();
  plan.parent = getpid();

  const pid_t pid = fork();
  if (pid < 0) return MakeError(ErrorCode::kInternal, std::string("fork: ") + std::strerror(errno));
  if (pid == 0) RunChild(plan);

  out.write.Reset();
  err.write.Reset();
  status.write.Reset();
  error_pipe.write.Reset();
  null_in.Reset();
  block.read.Reset();
  resolv.read.Reset();
  args.Reset();
  if (spec.stdout_fd >= 0) out.read.Reset();

  ChildFailure failure{};
  ssize_t got = 0;
  do {
    got = read(error_pipe.read.get(), &failure, sizeof failure);
  } while (got < 0 && errno == EINTR);
  if (got > 0) {
    int ignored = 0;
    while (waitpid(pid, &ignored, 0) < 0 && errno == EINTR) {
    }
    return MakeError(ErrorCode::kInternal, std::string("could not start the build sandbox (") +
                                               StageName(failure.stage) +
                                               "): " + std::strerror(failure.error));
  }

  // With a network: bwrap waits on the block pipe with the namespaces made; the link is
  // attached (rules first) before the command may start.
  std::string early_status;
  std::unique_ptr<EgressLink> link;
  std::optional<Error> network_error;
  if (egress) {
    auto init = WaitForSandboxInit(status.read.get(), early_status);
    if (init.ok()) {
      auto attached = EgressLink::Attach(*init, options_.egress, options_.egress_options);
      if (attached.ok()) {
        link = std::move(*attached);
      } else {
        network_error = MakeError(attached.error().code, "could not give the build its network: " +
                                                             attached.error().message);
      }
    }
    // Released either way: without a link the command is killed below before it does anything
    // (and without one its namespace has only loopback).
    [[maybe_unused]] const ssize_t n = write(block.write.get(), "1", 1);
    block.write.Reset();
  }

  LineQueue queue;
  std::atomic<bool> consumer_failed{network_error.has_value()};
  Supervisor supervisor(pid, std::move(out.read), std::move(err.read), std::move(status.read),
                        cgroup.get(), spec, clock_, queue, consumer_failed,
                        std::move(early_status));
  SupervisorOutcome outcome;
  std::thread thread;
  try {
    thread = std::thread([&] {
      outcome = supervisor.Supervise();
      std::lock_guard lock(queue.mutex);
      queue.done = true;
      queue.has_lines.notify_one();
    });
  } catch (const std::system_error& e) {
    consumer_failed = true;
    outcome = supervisor.Supervise();  // kills and reaps at once: nobody reads the output
    return MakeError(ErrorCode::kInternal, std::string("cannot start build thread: ") + e.what());
  }

  std::optional<Error> callback_error;
  std::deque<QueuedLine> batch;
  while (true) {
    {
      std::unique_lock lock(queue.mutex);
      queue.has_lines.wait(lock, [&] { return !queue.lines.empty() || queue.done; });
      if (queue.lines.empty() && queue.done) break;
      batch.swap(queue.lines);
      queue.bytes = 0;
      queue.has_room.notify_one();
    }
    for (QueuedLine& line : batch) {
      if (callback_error) break;
      try {
        on_line(line.stream, line.timestamp_ms, line.text);
      } catch (const std::exception& e) {
        callback_error = MakeError(ErrorCode::kInternal, std::string("build log: ") + e.what());
        consumer_failed = true;
      } catch (...) {
        callback_error = MakeError(ErrorCode::kInternal, "build log callback failed");
        consumer_failed = true;
      }
    }
    batch.clear();
  }
  thread.join();
  const char* enforced_by = !cgroup                                          ? "rlimit"
                            : cgroup->version() == BuildCgroup::Version::kV2 ? "cgroup-v2"
                                                                             : "cgroup-v1";
  cgroup.reset();  // after the reap: kills stragglers, removes the directories

  link.reset();
  if (network_error) return std::move(*network_error);
  if (outcome.error) return std::move(*outcome.error);
  if (callback_error) return std::move(*callback_error);
  // bwrap reports "child-pid" once the sandbox is set up; without it bwrap itself failed.
  if (outcome.result.limit == LimitHit::kNone &&
      outcome.status_json.find("child-pid") == std::string::npos) {
    return MakeError(ErrorCode::kInternal,
                     "the build sandbox failed to start: " + outcome.last_stderr_line);
  }
  outcome.result.limits_enforced_by = enforced_by;
  outcome.result.network = network;
  return std::move(outcome.result);
} catch (const std::exception& e) {
  return MakeError(ErrorCode::kInternal, std::string("build sandbox: ") + e.what());
} catch (...) {
  return MakeError(ErrorCode::kInternal, "build sandbox failed");
}

}  // namespace replideploy::sandbox