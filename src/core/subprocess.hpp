// Runs a program to completion without a shell: argv straight to execve, optional input on
// stdin, stdout and stderr collected. For git, CGI programs and host tools run on the host;
// builds run in the sandbox (sandbox/runner.hpp) instead. Built on SpawnChild
// (core/child_process.hpp) and SuperviseChild (core/process_supervisor.hpp).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "core/child_process.hpp"
#include "core/result.hpp"

namespace replideploy::core {

struct ProcessSpec {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH when it has no '/'
  // The whole environment ("NAME=value"); nullopt inherits ours, plus `extra_env` either way.
  std::optional<std::vector<std::string>> env;
  std::vector<std::string> extra_env;
  std::string input;                                // written to stdin, then stdin is closed
  bool merge_stderr = false;                        // stderr into `out` (in order) instead of `err`
  std::string cwd;                                  // "" keeps ours
  std::size_t max_output = std::size_t{256} << 20;  // per stream; more is dropped, not an error
  std::chrono::milliseconds timeout{0};             // 0: none; else SIGKILL and timed_out = true
  // When set, output is handed over as it is read (on the calling thread) instead of being
  // collected in `out`/`err`.
  std::function<void(bool is_stderr, std::string_view chunk)> on_output;
  // A stop request kills the process (SIGKILL) like a timeout does (timed_out = true).
  std::stop_token stop;
  // When >= 0, the child's stdin is this descriptor (then `input` must be empty), or its stdout
  // (then nothing is collected in `out`). They stay the caller's.
  int stdin_fd = -1;
  int stdout_fd = -1;
  // More descriptors of ours, at fixed numbers >= 3 in the child. They stay the caller's.
  std::vector<ChildFd> extra_fds;
  // Only stdin, stdout, stderr and `extra_fds` reach the program; without it the program
  // inherits every descriptor of ours that lacks O_CLOEXEC.
  bool close_other_fds = false;
  // Its own session and process group: a timeout or stop kills the whole group.
  bool new_session = false;
  // An empty signal mask and every signal's default action, whatever ours are.
  bool reset_signals = false;
};

struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal
  bool timed_out = false;
  bool output_truncated = false;  // a stream passed `max_output`
  std::string out;
  std::string err;
  bool Succeeded() const { return exit_code == 0 && !timed_out; }
};

// kInternal when the process cannot be started at all (pipe/fork failure); a program that is
// missing exits with 127.
Result<ProcessResult> RunProcess(const ProcessSpec& spec);

}  // namespace replideploy::core
