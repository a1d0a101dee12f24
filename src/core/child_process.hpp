// Starts a child process: the one place under src/ that forks and execs. Descriptors are placed
// at fixed numbers (optionally with every other one closed), and the child can get its own
// session, die with its parent, have its signal state reset, and run the caller's setup steps
// between fork and exec (joining a cgroup or a network namespace, dropping privileges).
// core::RunProcess and the sandbox's runners start their children through SpawnChild.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "core/unique_fd.hpp"

namespace replideploy::core {

// Our descriptor `fd` appears in the child as `child_fd`. `fd` stays ours (it is not closed).
struct ChildFd {
  int fd = -1;
  int child_fd = -1;
};

// A step that runs in the forked child. Async-signal-safe calls only: no allocation, no locks,
// nothing that throws. Returns nullptr when done; otherwise the name of what failed (a string
// literal: it is read by the parent, which shares the child's memory image) with errno set, and
// SpawnChild then fails with "<name>: <strerror(errno)>". A step may also fork and return in the
// new child only (the sandbox's reaper does), provided the other process never returns.
using ChildStep = std::function<const char*()>;

struct SpawnSpec {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH when it has no '/'
  std::vector<std::string> env;   // the whole environment ("NAME=value")
  std::string cwd;                // "" keeps ours
  // Placed in this order after `before_fds`; a child_fd may appear once.
  std::vector<ChildFd> fds;
  // Every descriptor that is not in `fds` is closed at exec. Without it only our O_CLOEXEC
  // descriptors go, and the child inherits any other.
  bool close_other_fds = false;
  bool new_session = false;      // setsid(): its own session and process group (the first step)
  bool die_with_parent = false;  // PR_SET_PDEATHSIG SIGKILL; fails when we are already gone
  bool clear_signal_mask = false;
  bool default_signal_handlers = false;  // every signal back to SIG_DFL, ignored ones too
  // When false, a failed chdir or exec ends the child with status 127 instead of an Error.
  bool report_exec_failure = true;
  ChildStep before_fds;   // after the steps above, before any descriptor moves
  ChildStep before_exec;  // after `fds` are in place and `cwd` is entered
};

// Forks and returns the child's pid once it has exec'd (or ended). Error (kInternal, the child
// reaped) when pipe or fork fail, or a step, chdir or exec failed in the child (when reported).
// The caller reaps the pid. Thread-safe; descriptors other threads open meanwhile reach the child
// only when they lack O_CLOEXEC and `close_other_fds` is false.
Result<pid_t> SpawnChild(const SpawnSpec& spec);

struct PipeFds {
  UniqueFd read;
  UniqueFd write;
};

// A pipe whose ends are O_CLOEXEC (so no child inherits them unless they are in its `fds`).
Result<PipeFds> MakePipe();

// Blocks until `pid` ended (retrying on EINTR) and returns its raw wait status; 0 when it cannot
// be waited for (not our child, already reaped).
int ReapChild(pid_t pid);

}  // namespace replideploy::core
