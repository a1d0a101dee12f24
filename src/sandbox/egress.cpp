#include "sandbox/egress.hpp"

#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>
#include <utility>

#include "core/child_process.hpp"
#include "core/unique_fd.hpp"

namespace replideploy::sandbox {

namespace {

using SteadyClock = std::chrono::steady_clock;

// Output of nft or slirp4netns quoted in an error.
constexpr std::size_t kMaxQuotedOutput = 2000;

using core::UniqueFd;

Error SystemError(const std::string& what) {
  return MakeError(ErrorCode::kInternal, what + ": " + std::strerror(errno));
}

// --- Child processes -------------------------------------------------------------------------

constexpr std::size_t kMaxPassFds = 8;

struct ChildPlan {
  std::vector<std::string> argv;
  int stdin_fd = -1;
  int output_fd = -1;  // stdout and stderr
  // Become descriptors 3, 4, ... in the child, in this order; nothing else of ours survives exec.
  std::vector<int> pass_fds;
  int netns_fd = -1;  // joined before exec when >= 0
};

struct Child {
  pid_t pid = -1;
  UniqueFd pidfd;
};

int PidfdOpen(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

// Starts `plan`; returns once the child has exec'd (or failed to, as an Error, reaped).
Result<Child> Spawn(const ChildPlan& plan) {
  if (plan.pass_fds.size() > kMaxPassFds) {
    return MakeError(ErrorCode::kInternal, "Spawn: too many fds");
  }
  core::SpawnSpec spec{.argv = plan.argv,
                       .env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
                       .close_other_fds = true,
                       .die_with_parent = true,
                       .clear_signal_mask = true};
  spec.fds = {{plan.stdin_fd, 0}, {plan.output_fd, 1}, {plan.output_fd, 2}};
  for (std::size_t i = 0; i < plan.pass_fds.size(); ++i) {
    spec.fds.push_back({plan.pass_fds[i], 3 + static_cast<int>(i)});
  }
  if (const int netns_fd = plan.netns_fd; netns_fd >= 0) {
    spec.before_fds = [netns_fd]() -> const char* {
      return setns(netns_fd, CLONE_NEWNET) == 0 ? nullptr
                                                : "joining the sandbox's network namespace";
    };
  }
  auto pid = core::SpawnChild(spec);
  if (!pid.ok()) {
    return MakeError(ErrorCode::kInternal, "starting " + plan.argv[0] + ": " + pid.error().message);
  }
  Child child{*pid, UniqueFd(PidfdOpen(*pid))};
  if (child.pidfd.get() < 0) {
    const int pidfd_errno = errno;
    kill(*pid, SIGKILL);
    core::ReapChild(*pid);
    errno = pidfd_errno;
    return SystemError("pidfd_open");
  }
  return child;
}

// Waits until the child exited or `deadline`; true when it exited.
bool WaitExit(const Child& child, SteadyClock::time_point deadline) {
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    pollfd poll_fd{child.pidfd.get(), POLLIN, 0};
    const int ready = poll(&poll_fd, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0)));
    if (ready > 0) return true;
    if (ready == 0) return false;
    if (errno != EINTR) return false;
  }
}

// Reaps the child, killing it first unless it already exited. Its exit code, -1 for a signal.
int KillAndReap(const Child& child) {
  if (!WaitExit(child, SteadyClock::now())) kill(child.pid, SIGKILL);
  const int status = core::ReapChild(child.pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Result<UniqueFd> MemoryFile(const char* name, std::string_view contents) {
  UniqueFd fd(memfd_create(name, MFD_CLOEXEC));
  if (fd.get() < 0) return SystemError("memfd_create");
  std::size_t written = 0;
  while (written < contents.size()) {
    const ssize_t n = write(fd.get(), contents.data() + written, contents.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return SystemError("writing a memory file");
    written += static_cast<std::size_t>(n);
  }
  if (lseek(fd.get(), 0, SEEK_SET) != 0) return SystemError("lseek");
  return fd;
}

// What a child wrote into its output file, trimmed for an error message.
std::string QuotedOutput(int fd) {
  std::string text;
  char buffer[1024];
  off_t offset = 0;
  while (text.size() < kMaxQuotedOutput) {
    const ssize_t n = pread(fd, buffer, sizeof buffer, offset);
    if (n <= 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
    offset += n;
  }
  if (text.size() > kMaxQuotedOutput) text.resize(kMaxQuotedOutput);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text.empty() ? "no output" : text;
}

std::string Milliseconds(std::chrono::milliseconds ms) {
  return std::to_string(ms.count()) + " ms";
}

// --- Attaching -------------------------------------------------------------------------------

bool SameFile(int fd, const char* path) {
  struct stat a {};
  struct stat b {};
  return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// Brings the calling thread's loopback interface up (the kernel then gives it 127.0.0.1/8 and
// ::1). Returns the errno of a failure, else 0.
int LoopbackUp() {
  UniqueFd sock(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (sock.get() < 0) return errno;
  ifreq request{};
  std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
  if (ioctl(sock.get(), SIOCGIFFLAGS, &request) != 0) return errno;
  request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP);
  if (ioctl(sock.get(), SIOCSIFFLAGS, &request) != 0) return errno;
  return 0;
}

// A new network namespace with its loopback up. Made on a thread of its own: unshare moves only
// the calling thread, which ends right after, so no thread of ours stays in it. The namespace
// belongs to our user namespace: a sandbox, whose processes have capabilities (if any) only in
// a user namespace below ours, can change nothing in it.
Result<UniqueFd> MakeNamespace() {
  UniqueFd netns;
  std::string failure;
  int failure_errno = 0;
  std::thread maker([&] {
    if (unshare(CLONE_NEWNET) != 0) {
      failure = "unshare(CLONE_NEWNET)";
      failure_errno = errno;
      return;
    }
    if (const int error = LoopbackUp(); error != 0) {
      failure = "bringing the sandbox's loopback up";
      failure_errno = error;
      return;
    }
    netns = UniqueFd(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (netns.get() < 0) {
      failure = "opening the new network namespace";
      failure_errno = errno;
    }
  });
  maker.join();
  if (!failure.empty()) {
    return MakeError(ErrorCode::kInternal, "making the sandbox's network namespace: " + failure +
                                               ": " + std::strerror(failure_errno));
  }
  // Never load rules into our own namespace: that would cut the host off its private networks.
  if (SameFile(netns.get(), "/proc/thread-self/ns/net")) {
    return MakeError(ErrorCode::kInternal, "the sandbox's network namespace is the server's own");
  }
  return netns;
}

Status CheckTool(const std::string& path, std::string_view name) {
  if (access(path.c_str(), X_OK) == 0) return {};
  return MakeError(ErrorCode::kUnavailable, std::string(name) +
                                                " is not installed (no executable " + path +
                                                "); builds with network access need it");
}

// nft loading the ruleset into the namespace: started, then waited for, so that slirp4netns
// can start meanwhile (no sandbox joins the namespace before Create returns, and a failure of
// either tears both down).
struct RulesetLoad {
  Child nft;
  UniqueFd output;
};

Result<RulesetLoad> StartRuleset(int netns_fd, const std::string& ruleset,
                                 const EgressOptions& options) {
  RD_TRY(UniqueFd input, MemoryFile("nft-ruleset", ruleset));
  RD_TRY(UniqueFd output, MemoryFile("nft-output", ""));
  ChildPlan plan;
  plan.argv = {options.nft_path, "-f", "-"};
  plan.stdin_fd = input.get();
  plan.output_fd = output.get();
  plan.netns_fd = netns_fd;
  RD_TRY(Child nft, Spawn(plan));
  return RulesetLoad{std::move(nft), std::move(output)};
}

Status FinishRuleset(RulesetLoad& load, SteadyClock::time_point deadline,
                     const EgressOptions& options) {
  const bool exited = WaitExit(load.nft, deadline);
  const int exit_code = KillAndReap(load.nft);
  if (!exited) {
    return MakeError(ErrorCode::kInternal, "nft did not load the sandbox's egress rules within " +
                                               Milliseconds(options.ready_timeout));
  }
  if (exit_code != 0) {
    return MakeError(ErrorCode::kInternal, "nft could not load the sandbox's egress rules (exit " +
                                               std::to_string(exit_code) +
                                               "): " + QuotedOutput(load.output.get()));
  }
  return {};
}

struct Slirp {
  Child process;
  UniqueFd exit_fd;
};

// Starts slirp4netns for the namespace and waits for its ready fd.
Result<Slirp> StartSlirp(int netns_fd, const EgressOptions& options) {
  int ready_pipe[2];
  if (pipe2(ready_pipe, O_CLOEXEC) != 0) return SystemError("pipe");
  UniqueFd ready_read(ready_pipe[0]);
  UniqueFd ready_write(ready_pipe[1]);
  int exit_pipe[2];
  if (pipe2(exit_pipe, O_CLOEXEC) != 0) return SystemError("pipe");
  UniqueFd exit_read(exit_pipe[0]);
  UniqueFd exit_write(exit_pipe[1]);
  UniqueFd null_in(open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (null_in.get() < 0) return SystemError("open /dev/null");
  // A memory file rather than a pipe: nobody reads slirp4netns's output once it runs, and a
  // full pipe would block it.
  RD_TRY(UniqueFd output, MemoryFile("slirp4netns-output", ""));

  ChildPlan plan;
  // Descriptors in the child: 3 the namespace, 4 the ready fd, 5 the exit fd.
  plan.argv = {
      options.slirp4netns_path, "--configure",      "--mtu=65520",  "--disable-host-loopback",
      "--enable-sandbox",       "--enable-seccomp", "--ready-fd=4", "--exit-fd=5",
      "--netns-type=path",      "/proc/self/fd/3",  "tap0"};
  plan.stdin_fd = null_in.get();
  plan.output_fd = output.get();
  plan.pass_fds = {netns_fd, ready_write.get(), exit_read.get()};
  RD_TRY(Child child, Spawn(plan));
  ready_write.Reset();
  exit_read.Reset();

  const auto deadline = SteadyClock::now() + options.ready_timeout;
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    pollfd polls[2] = {{ready_read.get(), POLLIN, 0}, {child.pidfd.get(), POLLIN, 0}};
    const int ready = poll(polls, 2, static_cast<int>(std::max<std::int64_t>(left.count(), 0)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0 || ready < 0) {
      KillAndReap(child);
      return MakeError(ErrorCode::kInternal,
                       "slirp4netns did not configure the sandbox's network within " +
                           Milliseconds(options.ready_timeout) + ": " + QuotedOutput(output.get()));
    }
    char byte = 0;
    if ((polls[0].revents & POLLIN) && read(ready_read.get(), &byte, 1) == 1) break;
    // The ready fd closed without a byte, or the process is gone: it failed.
    const int exit_code = KillAndReap(child);
    return MakeError(ErrorCode::kInternal, "slirp4netns failed (exit " + std::to_string(exit_code) +
                                               "): " + QuotedOutput(output.get()));
  }
  return Slirp{std::move(child), std::move(exit_write)};
}

}  // namespace

// --- SandboxNetwork --------------------------------------------------------------------------

Result<std::unique_ptr<SandboxNetwork>> SandboxNetwork::Create(const EgressPolicy& policy,
                                                               const EgressOptions& options) {
  try {
    if (policy.mode == NetworkMode::kNone) {
      return MakeError(ErrorCode::kUnprocessable,
                       "a build without network needs no egress link (bwrap --unshare-net alone)");
    }
    RD_TRY_STATUS(ValidateEgressPolicy(policy));
    if (geteuid() != 0) {
      return MakeError(ErrorCode::kUnavailable,
                       "builds with network access need the server to run as root (it makes "
                       "their network namespace; slirp4netns and nft join it)");
    }
    RD_TRY_STATUS(CheckTool(options.slirp4netns_path, "slirp4netns"));
    RD_TRY_STATUS(CheckTool(options.nft_path, "nft"));
    RD_TRY(std::vector<Cidr> host_addresses, HostAddresses());
    RD_TRY(UniqueFd netns, MakeNamespace());
    // The rules and the link come up together; a sandbox joins only once both have, and
    // without the rules there is no link.
    const auto deadline = SteadyClock::now() + options.ready_timeout;
    RD_TRY(RulesetLoad rules,
           StartRuleset(netns.get(), NftRuleset(policy, host_addresses), options));
    auto slirp = StartSlirp(netns.get(), options);
    Status loaded = FinishRuleset(rules, deadline, options);
    if (!slirp.ok()) return std::move(slirp).error();
    if (!loaded.ok()) {
      slirp->exit_fd.Reset();
      KillAndReap(slirp->process);
      return std::move(loaded).error();
    }
    return std::unique_ptr<SandboxNetwork>(
        new SandboxNetwork(netns.Release(), std::move(host_addresses), slirp->process.pid,
                           slirp->process.pidfd.Release(), slirp->exit_fd.Release()));
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInternal,
                     std::string("making the sandbox's network: ") + e.what());
  }
}

bool SandboxNetwork::Alive() const {
  pollfd poll_fd{slirp_pidfd_, POLLIN, 0};
  return poll(&poll_fd, 1, 0) == 0;
}

SandboxNetwork::~SandboxNetwork() {
  // Killed outright: nothing of slirp4netns needs a clean exit (the namespace and its tap device
  // go when their last user does), and waiting for one would be on the build's path.
  Child child{slirp_pid_, UniqueFd(slirp_pidfd_)};
  KillAndReap(child);
  close(exit_fd_);
  close(netns_fd_);
}

}  // namespace replideploy::sandbox
