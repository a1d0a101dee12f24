// bwrap's command line for one build: the mount policy, the environment and the --args file.
// Pure functions over values (BubblewrapArgv only looks at which host paths exist); no processes,
// no descriptors. The runner (bubblewrap.cpp) starts what these describe.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sandbox/runner.hpp"

namespace replideploy::sandbox {

// Where bwrap finds its setup descriptors (they are passed at these numbers).
inline constexpr int kStatusFdInChild = 3;  // --json-status-fd
// The sandbox's /etc/resolv.conf (--ro-bind-data) when it joins a SandboxNetwork.
inline constexpr int kResolvFdInChild = 4;
// bwrap's options (--args): the build's variables never appear on a command line or in `ps`.
inline constexpr int kArgsFdInChild = 5;

// What the build sees: PATH, HOME, CI=true, NETLIFY=true, then the spec's variables in order (a
// name given in the spec replaces the default).
std::vector<std::pair<std::string, std::string>> SandboxEnvironment(const SandboxSpec& spec);

// BubblewrapArgv's result split for `--args`: `options` holds every option (NUL-terminated, for a
// sealed memfd at `args_fd`), `argv` is what stays on the command line: bwrap, `--args <fd>`,
// "--" and the build's command.
struct BwrapCommandLine {
  std::vector<std::string> argv;
  std::string options;
};
BwrapCommandLine MoveOptionsToArgsFd(const std::vector<std::string>& bwrap_argv, int args_fd);

// The sandbox init's host pid from bwrap's JSON status (`"child-pid": N`), or -1 while the
// status does not hold a complete one.
pid_t ChildPidFromStatus(std::string_view status);

}  // namespace replideploy::sandbox
