#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <exception>
#include <optional>
#include <system_error>
#include <thread>

#include "core/child_process.hpp"
#include "core/unique_fd.hpp"
#include "sandbox/bwrap_args.hpp"
#include "sandbox/bwrap_watch.hpp"
#include "sandbox/cgroup.hpp"
#include "sandbox/runner.hpp"

namespace replideploy::sandbox {

namespace {

using SteadyClock = std::chrono::steady_clock;
using core::PipeFds;
using core::UniqueFd;

std::atomic<std::uint64_t> g_build_counter{0};

// The child's limits and identity, prepared before fork so that its steps only make system calls.
struct ChildPlan {
  std::optional<BuildUser> user;
  std::vector<int> cgroup_procs_fds;
  bool use_rlimits = false;
  std::int64_t memory_bytes = 0;
  int max_processes = 0;
  std::int64_t max_file_bytes = 0;
  int max_open_files = 0;
  pid_t server = 0;
  int netns_fd = -1;  // a SandboxNetwork's namespace, joined as root; -1: bwrap makes its own
};

bool SetLimit(int resource, std::int64_t value) {
  const rlimit limit{static_cast<rlim_t>(value), static_cast<rlim_t>(value)};
  return setrlimit(resource, &limit) == 0;
}

// Child step, first (after setsid): into the cgroup before anything else runs, then into the
// sandbox's network namespace (while still root), then rlimits.
const char* JoinLimitsAndNetwork(const ChildPlan& plan) {
  for (const int fd : plan.cgroup_procs_fds) {
    if (write(fd, "0", 1) != 1) return "joining the build cgroup";
  }
  if (plan.netns_fd >= 0 && setns(plan.netns_fd, CLONE_NEWNET) != 0) {
    return "joining the sandbox's network namespace";
  }
  SetLimit(RLIMIT_CORE, 0);
  if (!SetLimit(RLIMIT_FSIZE, plan.max_file_bytes) ||
      !SetLimit(RLIMIT_NOFILE, plan.max_open_files)) {
    return "setting resource limits";
  }
  if (plan.use_rlimits &&
      (!SetLimit(RLIMIT_AS, plan.memory_bytes) || !SetLimit(RLIMIT_NPROC, plan.max_processes))) {
    return "setting resource limits";
  }
  return nullptr;
}

// The reaper: waits for bwrap and for whatever is reparented to it, then exits as bwrap did.
[[noreturn]] void ReapUntilEmpty(pid_t bwrap) {
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

// Child step, last (the descriptors are in place): drop to the build user, then stay as a reaper
// between the server and bwrap. bwrap exits as soon as the command does, leaving the sandbox's
// init to be killed (--die-with-parent) and reparented; as a subreaper we collect it instead of
// the host's init, and exit only when nothing of the build is left. Returns in bwrap's process.
const char* DropToUserAndFork(const ChildPlan& plan) {
  if (plan.user) {
    if (setgroups(0, nullptr) != 0) return "setgroups";
    if (setgid(plan.user->gid) != 0) return "setgid";
    if (setuid(plan.user->uid) != 0) return "setuid";
    if (getuid() == 0 || geteuid() == 0 || setuid(0) == 0) {
      errno = EPERM;
      return "dropping root";
    }
  }
  // After setuid, which clears it.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != plan.server) {
    errno = ESRCH;
    return "parent exited";
  }
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) return "becoming a subreaper";
  const pid_t reaper = getpid();
  const pid_t bwrap = fork();
  if (bwrap < 0) return "forking bwrap";
  if (bwrap > 0) ReapUntilEmpty(bwrap);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != reaper) {
    errno = ESRCH;
    return "parent exited";
  }
  return nullptr;
}

// bwrap's options go through a sealed memfd (--args): only the command stays on its command
// line, so `ps` shows no variable of the build (secrets included).
Result<UniqueFd> SealedOptions(const std::string& options) {
  UniqueFd args(memfd_create("bwrap-args", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (args.get() < 0 ||
      write(args.get(), options.data(), options.size()) != static_cast<ssize_t>(options.size()) ||
      lseek(args.get(), 0, SEEK_SET) != 0 ||
      fcntl(args.get(), F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) !=
          0) {
    return MakeError(ErrorCode::kInternal, "cannot prepare the sandbox's options");
  }
  return args;
}

Status CheckLimits(const SandboxLimits& limits) {
  if (limits.tmp_bytes <= 0 || limits.max_file_bytes <= 0 || limits.max_open_files <= 0 ||
      limits.memory_bytes <= 0 || limits.max_processes <= 0 || limits.max_output_bytes < 0 ||
      limits.wall_time.count() <= 0) {
    return MakeError(ErrorCode::kUnprocessable, "build limits must be positive");
  }
  return {};
}

// What the build can reach: "public internet" (a SandboxNetwork; root only: we make its
// namespace, and slirp4netns and nft enter it), else loopback alone, with the reason.
std::string NetworkFor(const SandboxSpec& spec, const BubblewrapOptions& options) {
  if (!spec.network) return "none";
  if (options.egress.mode == NetworkMode::kNone) {
    return "none (turned off by the operator: " + options.network_setting + " none)";
  }
  if (geteuid() != 0) {
    return "none (the server does not run as root, so no network can be attached)";
  }
  return "public internet";
}

// Our ends of what the sandbox gets, and the descriptors handed to it.
struct SandboxFds {
  PipeFds out, err, status, resolv;
  UniqueFd null_in;
  UniqueFd args;
};

Result<SandboxFds> OpenSandboxFds(bool egress, const std::string& options) {
  SandboxFds fds;
  RD_TRY(fds.out, core::MakePipe());
  RD_TRY(fds.err, core::MakePipe());
  RD_TRY(fds.status, core::MakePipe());
  if (egress) {
    RD_TRY(fds.resolv, core::MakePipe());
    const std::string_view conf = SandboxResolvConf();
    if (write(fds.resolv.write.get(), conf.data(), conf.size()) !=
        static_cast<ssize_t>(conf.size())) {
      return MakeError(ErrorCode::kInternal, "cannot prepare the sandbox's resolv.conf");
    }
    fds.resolv.write.Reset();
  }
  fds.null_in = UniqueFd(open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (fds.null_in.get() < 0) return MakeError(ErrorCode::kInternal, "cannot open /dev/null");
  RD_TRY(fds.args, SealedOptions(options));
  return fds;
}

// The child's limits and identity; `cgroup` gets the build's cgroup (null: rlimits instead).
Result<ChildPlan> PlanChild(const SandboxSpec& spec, const BubblewrapOptions& options,
                            std::unique_ptr<BuildCgroup>& cgroup) {
  ChildPlan plan;
  if (geteuid() == 0) {
    RD_TRY(BuildUser user, EnsureBuildUser(options.build_user));
    plan.user = user;
  }
  const std::string cgroup_name = "replideploy-build-" + std::to_string(getpid()) + "-" +
                                  std::to_string(g_build_counter.fetch_add(1));
  cgroup = BuildCgroup::Create(options.cgroup_root, cgroup_name, spec.limits.memory_bytes,
                               spec.limits.max_processes, spec.limits.cpus);
  if (cgroup) plan.cgroup_procs_fds = cgroup->procs_fds();
  plan.use_rlimits = !cgroup;
  plan.memory_bytes = spec.limits.memory_bytes;
  plan.max_processes = spec.limits.max_processes;
  plan.max_file_bytes = spec.limits.max_file_bytes;
  plan.max_open_files = spec.limits.max_open_files;
  plan.server = getpid();
  return plan;
}

// Forks the reaper (its own session, in the cgroup, limited, as the build user) that forks and
// execs bwrap with exactly these descriptors; returns once bwrap was exec'd.
Result<pid_t> StartSandbox(const SandboxSpec& spec, std::vector<std::string> argv,
                           const ChildPlan& plan, const SandboxFds& fds) {
  core::SpawnSpec child{.argv = std::move(argv),
                        .env = {"PATH=/usr/bin:/bin"},
                        .close_other_fds = true,  // nothing else of ours may reach the sandbox
                        .new_session = true};
  child.fds = {{spec.stdin_fd >= 0 ? spec.stdin_fd : fds.null_in.get(), 0},
               {spec.stdout_fd >= 0 ? spec.stdout_fd : fds.out.write.get(), 1},
               {fds.err.write.get(), 2},
               {fds.status.write.get(), kStatusFdInChild},
               {fds.args.get(), kArgsFdInChild}};
  if (fds.resolv.read.get() >= 0) {
    child.fds.push_back({fds.resolv.read.get(), kResolvFdInChild});
  }
  child.before_fds = [&plan] { return JoinLimitsAndNetwork(plan); };
  child.before_exec = [&plan] { return DropToUserAndFork(plan); };
  auto pid = core::SpawnChild(child);
  if (!pid.ok()) {
    return MakeError(ErrorCode::kInternal,
                     "could not start the build sandbox: " + pid.error().message);
  }
  return *pid;
}

// Runs the supervision on a thread of its own while this thread hands the lines to `on_line`.
// An Error when the callback threw (the build is then killed).
std::optional<Error> StreamLines(BwrapWatch& watch, SandboxFds& fds, BuildOutcome& outcome,
                                 std::atomic<bool>& consumer_failed, LineQueue& queue,
                                 const OutputCallback& on_line) {
  std::thread thread;
  try {
    thread = std::thread([&] {
      outcome = watch.Supervise(std::move(fds.out.read), std::move(fds.err.read),
                                std::move(fds.status.read));
      std::lock_guard lock(queue.mutex);
      queue.done = true;
      queue.has_lines.notify_one();
    });
  } catch (const std::system_error& e) {
    consumer_failed = true;  // kills and reaps at once: nobody reads the output
    outcome = watch.Supervise(std::move(fds.out.read), std::move(fds.err.read),
                              std::move(fds.status.read));
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
  return callback_error;
}

}  // namespace

BubblewrapRunner::BubblewrapRunner(BubblewrapOptions options, const core::Clock& clock)
    : options_(std::move(options)), clock_(clock) {
  if (options_.keep_spares && options_.spare_networks > 0 &&
      options_.egress.mode != NetworkMode::kNone && geteuid() == 0 && Available()) {
    keeper_ = std::jthread([this](std::stop_token stop) { KeepSpares(stop); });
  }
}

void BubblewrapRunner::KeepSpares(const std::stop_token& stop) {
  while (!stop.stop_requested()) {
    // Made on this thread, which lives as long as the runner (see SandboxNetwork::Create).
    Prepare();
    std::unique_lock lock(spare_mu_);
    // A failed Prepare() (nft missing, ...) is tried again a while later; each build that
    // meets it reports it meanwhile.
    spare_taken_.wait_for(lock, stop, std::chrono::seconds(5), [this] { return spare_wanted_; });
    spare_wanted_ = false;
  }
}

const core::Clock& BubblewrapRunner::DefaultClock() {
  static const core::SystemClock clock;
  return clock;
}

BubblewrapRunner::~BubblewrapRunner() = default;

bool BubblewrapRunner::Available() const { return access(options_.bwrap_path.c_str(), X_OK) == 0; }

Result<std::unique_ptr<SandboxNetwork>> BubblewrapRunner::TakeNetwork() {
  std::unique_ptr<SandboxNetwork> spare;
  {
    std::lock_guard lock(spare_mu_);
    if (!spare_networks_.empty()) {
      spare = std::move(spare_networks_.back());
      spare_networks_.pop_back();
    }
    spare_wanted_ = true;
    spare_taken_.notify_one();
  }
  if (spare && spare->Alive()) {
    // Its rules close the host's addresses as they were when it was made.
    auto now = HostAddresses();
    if (now.ok() && spare->MadeFor(*now)) return spare;
  }
  spare.reset();
  return SandboxNetwork::Create(options_.egress, options_.egress_options);
}

std::size_t BubblewrapRunner::SpareNetworksForTest() {
  std::lock_guard lock(spare_mu_);
  return spare_networks_.size();
}

void BubblewrapRunner::Prepare() {
  if (options_.egress.mode == NetworkMode::kNone || geteuid() != 0 || !Available()) return;
  const auto wanted = static_cast<std::size_t>(std::max(options_.spare_networks, 0));
  {
    std::lock_guard lock(spare_mu_);
    // One whose slirp4netns is gone would only be thrown away when taken.
    std::erase_if(spare_networks_, [](const auto& spare) { return !spare->Alive(); });
    if (spare_networks_.size() >= wanted) return;
  }
  // A failure here is left for the build that needs a network to meet and report.
  auto made = SandboxNetwork::Create(options_.egress, options_.egress_options);
  if (!made.ok()) return;
  std::lock_guard lock(spare_mu_);
  if (spare_networks_.size() < wanted) spare_networks_.push_back(std::move(*made));
}

Result<SandboxResult> BubblewrapRunner::Run(const SandboxSpec& spec,
                                            const OutputCallback& on_line) try {
  if (!Available()) {
    return MakeError(ErrorCode::kUnavailable, "bubblewrap not found at " + options_.bwrap_path);
  }
  const std::string network = NetworkFor(spec, options_);
  const bool egress = network == "public internet";
  RD_TRY(std::vector<std::string> argv,
         BubblewrapArgv(spec, options_, kStatusFdInChild, egress ? kResolvFdInChild : -1));
  RD_TRY_STATUS(CheckLimits(spec.limits));
  // The network comes first (rules and link up): the build never runs without its rules.
  std::unique_ptr<SandboxNetwork> net;
  if (egress) {
    auto taken = TakeNetwork();
    if (!taken.ok()) {
      return MakeError(taken.error().code,
                       "could not give the build its network: " + taken.error().message);
    }
    net = std::move(*taken);
  }
  std::unique_ptr<BuildCgroup> cgroup;
  RD_TRY(ChildPlan plan, PlanChild(spec, options_, cgroup));
  if (net) plan.netns_fd = net->netns_fd();
  BwrapCommandLine command = MoveOptionsToArgsFd(argv, kArgsFdInChild);
  RD_TRY(SandboxFds fds, OpenSandboxFds(egress, command.options));
  RD_TRY(const pid_t pid, StartSandbox(spec, std::move(command.argv), plan, fds));
  fds.out.write.Reset();
  fds.err.write.Reset();
  fds.status.write.Reset();
  fds.null_in.Reset();
  fds.resolv.read.Reset();
  fds.args.Reset();
  if (spec.stdout_fd >= 0) fds.out.read.Reset();

  LineQueue queue;
  std::atomic<bool> consumer_failed{false};
  BwrapWatch watch(pid, cgroup.get(), spec, clock_, queue, consumer_failed);
  BuildOutcome outcome;
  std::optional<Error> callback_error =
      StreamLines(watch, fds, outcome, consumer_failed, queue, on_line);
  const char* enforced_by = !cgroup                                          ? "rlimit"
                            : cgroup->version() == BuildCgroup::Version::kV2 ? "cgroup-v2"
                                                                             : "cgroup-v1";
  cgroup.reset();  // after the reap: kills stragglers, removes the directories

  net.reset();
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
