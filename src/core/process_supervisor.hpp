// Watches a started child (core/child_process.hpp) until it has ended and is reaped: reads its
// output pipes as data arrives, feeds its stdin, and kills it when a deadline passes, an output
// cap is reached or a check of the caller's says so. How to kill is the caller's (the default is
// SIGKILL to the child), so a sandbox can kill its PID namespace's init and then its cgroup.
// core::RunProcess and sandbox::BubblewrapRunner supervise their children with it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/unique_fd.hpp"

namespace replideploy::core {

// Why SuperviseChild killed the child. Values of the caller's `check` are passed through, so
// callers use numbers above these.
inline constexpr int kNotStopped = 0;
inline constexpr int kStoppedAtDeadline = 1;
inline constexpr int kStoppedAtOutputCap = 2;

struct SupervisedStream {
  UniqueFd fd;  // a read end of ours; made non-blocking
  // Each chunk as it is read (cut at the output cap), on the supervising thread.
  std::function<void(std::string_view chunk)> on_data;
  // Once, at the end of the stream or when the output cap cut it. May be empty.
  std::function<void()> on_end;
  bool counts_toward_cap = true;
};

struct Supervision {
  std::vector<SupervisedStream> streams;
  UniqueFd input_fd;       // a write end of ours; `input` is written to it, then it is closed
  std::string_view input;  // must outlive SuperviseChild
  std::optional<std::chrono::steady_clock::time_point> deadline;
  // Bytes of all counted streams together; what is past it is dropped and the child is killed
  // (stop reason kStoppedAtOutputCap). Negative: no cap.
  std::int64_t max_output_bytes = -1;
  // Before every poll while the child has not been killed: non-zero kills it with that reason.
  std::function<int()> check;
  // While it returns true nothing is read (back-pressure); it may block up to the given time.
  std::function<bool(std::chrono::milliseconds)> hold_reading;
  // Kills the child; default SIGKILL to it. `escalate` runs when it has not ended a
  // `kill_grace` after `kill` (default: SIGKILL to it again).
  std::function<void()> kill;
  std::function<void()> escalate;
  std::chrono::milliseconds poll_interval{100};
  // After the child ended (or was killed), how long output is still awaited from what it left
  // behind holding the pipes.
  std::chrono::milliseconds drain_grace{2000};
  std::chrono::milliseconds kill_grace{2000};
};

struct SupervisionResult {
  int wait_status = 0;            // the raw status of waitpid
  int stop_reason = kNotStopped;  // why it was killed, if it was
  std::int64_t output_bytes = 0;  // counted bytes delivered (at most the cap)
  bool output_capped = false;
  std::chrono::milliseconds duration{0};
  // A callback threw (the child was then killed); its what().
  std::optional<std::string> error;
};

// Blocks until `pid` (our child) has ended and is reaped, and every stream is closed. Never
// throws. Thread-safe with respect to other supervisions.
SupervisionResult SuperviseChild(pid_t pid, Supervision supervision);

}  // namespace replideploy::core
