#include "core/child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/unique_fd.hpp"

namespace replideploy::core {

namespace {

// What the child writes to the error pipe when it cannot get to exec.
struct ChildFailure {
  const char* stage;
  int error;
};

// Everything the child needs, prepared before fork so that the child only makes system calls.
struct ChildPlan {
  const SpawnSpec& spec;
  std::vector<char*> argv;
  std::vector<char*> env;
  std::vector<int> lifted;      // one slot per spec.fds entry
  std::vector<int> sorted_fds;  // the child_fd numbers, ascending
  int lift_to = 3;              // above every child_fd
  pid_t parent = 0;
};

[[noreturn]] void Fail(int error_fd, const char* stage) {
  const ChildFailure failure{stage, errno};
  [[maybe_unused]] const ssize_t n = write(error_fd, &failure, sizeof failure);
  _exit(127);
}

const char* ResetSignals(const SpawnSpec& spec) {
  // An ignored signal stays ignored across exec: the server ignores SIGPIPE (http::Server), and a
  // child's pipelines (`yes | head`) rely on it ending writers.
  signal(SIGPIPE, SIG_DFL);
  if (spec.clear_signal_mask) {
    sigset_t none;
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, nullptr) != 0) return "clearing the signal mask";
  }
  if (spec.default_signal_handlers) {
    for (int sig = 1; sig < NSIG; ++sig) signal(sig, SIG_DFL);  // fails for KILL, STOP: fine
  }
  return nullptr;
}

// Lifts every source above the slots about to be filled before filling any (a source may sit
// in one of them), then fills them; the lifted copies are close-on-exec.
const char* PlaceFds(ChildPlan& plan) {
  const auto& fds = plan.spec.fds;
  for (std::size_t i = 0; i < fds.size(); ++i) {
    plan.lifted[i] = fcntl(fds[i].fd, F_DUPFD_CLOEXEC, plan.lift_to);
    if (plan.lifted[i] < 0) return "setting up file descriptors";
  }
  for (std::size_t i = 0; i < fds.size(); ++i) {
    if (dup2(plan.lifted[i], fds[i].child_fd) < 0) return "setting up file descriptors";
  }
  if (!plan.spec.close_other_fds) return nullptr;
  // Close-on-exec rather than closed: the error pipe must last until exec.
  unsigned next = 0;
  for (const int child_fd : plan.sorted_fds) {
    const auto slot = static_cast<unsigned>(child_fd);
    if (slot > next) close_range(next, slot - 1, CLOSE_RANGE_CLOEXEC);
    next = slot + 1;
  }
  if (close_range(next, ~0U, CLOSE_RANGE_CLOEXEC) != 0) return "closing file descriptors";
  return nullptr;
}

// Runs in the forked child: async-signal-safe calls only.
[[noreturn]] void RunChild(ChildPlan& plan, int error_fd) {
  const SpawnSpec& spec = plan.spec;
  if (spec.new_session && setsid() < 0) Fail(error_fd, "setsid");
  if (spec.die_with_parent) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != plan.parent) {
      errno = ESRCH;
      Fail(error_fd, "parent exited");
    }
  }
  if (const char* failed = ResetSignals(spec)) Fail(error_fd, failed);
  if (spec.before_fds) {
    if (const char* failed = spec.before_fds()) Fail(error_fd, failed);
  }
  error_fd = fcntl(error_fd, F_DUPFD_CLOEXEC, plan.lift_to);
  if (error_fd < 0) _exit(127);
  if (const char* failed = PlaceFds(plan)) Fail(error_fd, failed);
  if (!spec.cwd.empty() && chdir(spec.cwd.c_str()) != 0) {
    if (!spec.report_exec_failure) _exit(127);
    Fail(error_fd, "chdir");
  }
  if (spec.before_exec) {
    if (const char* failed = spec.before_exec()) Fail(error_fd, failed);
  }
  execvpe(plan.argv[0], plan.argv.data(), plan.env.data());
  if (!spec.report_exec_failure) _exit(127);
  Fail(error_fd, "exec");
}

Error SpawnError(const std::string& what, int error) {
  return MakeError(ErrorCode::kInternal, what + ": " + std::strerror(error));
}

}  // namespace

Result<pid_t> SpawnChild(const SpawnSpec& spec) {
  if (spec.argv.empty()) return MakeError(ErrorCode::kInternal, "SpawnChild: empty argv");
  ChildPlan plan{.spec = spec, .parent = getpid()};
  for (const auto& arg : spec.argv) plan.argv.push_back(const_cast<char*>(arg.c_str()));
  plan.argv.push_back(nullptr);
  for (const auto& entry : spec.env) plan.env.push_back(const_cast<char*>(entry.c_str()));
  plan.env.push_back(nullptr);
  plan.lifted.resize(spec.fds.size(), -1);
  for (const ChildFd& fd : spec.fds) {
    if (fd.fd < 0 || fd.child_fd < 0) return MakeError(ErrorCode::kInternal, "SpawnChild: bad fd");
    plan.sorted_fds.push_back(fd.child_fd);
    plan.lift_to = std::max(plan.lift_to, fd.child_fd + 1);
  }
  std::sort(plan.sorted_fds.begin(), plan.sorted_fds.end());

  RD_TRY(PipeFds error_pipe, MakePipe());
  UniqueFd& error_read = error_pipe.read;
  UniqueFd& error_write = error_pipe.write;
  const pid_t pid = fork();
  if (pid < 0) return SpawnError("fork", errno);
  if (pid == 0) RunChild(plan, error_write.get());
  error_write.Reset();

  // Ends at exec (close-on-exec) or when the child ends; a report means it never got there.
  ChildFailure failure{};
  ssize_t got = 0;
  do {
    got = read(error_read.get(), &failure, sizeof failure);
  } while (got < 0 && errno == EINTR);
  if (got == static_cast<ssize_t>(sizeof failure)) {
    ReapChild(pid);
    return SpawnError(failure.stage, failure.error);
  }
  return pid;
}

Result<PipeFds> MakePipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return SpawnError("pipe", errno);
  return PipeFds{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

int ReapChild(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return 0;
  }
  return status;
}

}  // namespace replideploy::core
