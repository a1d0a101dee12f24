#include "core/subprocess.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/process_supervisor.hpp"
#include "core/unique_fd.hpp"

extern char** environ;

namespace replideploy::core {

namespace {

constexpr int kStopRequested = kStoppedAtOutputCap + 1;

std::vector<std::string> Environment(const ProcessSpec& spec) {
  std::vector<std::string> env;
  if (spec.env) {
    env = *spec.env;
  } else {
    for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  }
  env.insert(env.end(), spec.extra_env.begin(), spec.extra_env.end());
  return env;
}

// Collects a stream into `sink` up to `spec.max_output`, or hands it to `spec.on_output`.
SupervisedStream Collect(UniqueFd fd, bool is_stderr, std::string& sink, bool& truncated,
                         const ProcessSpec& spec) {
  SupervisedStream stream{.fd = std::move(fd), .counts_toward_cap = false};
  stream.on_data = [&sink, &truncated, &spec, is_stderr](std::string_view chunk) {
    if (spec.on_output) {
      spec.on_output(is_stderr, chunk);
      return;
    }
    const std::size_t room = sink.size() < spec.max_output ? spec.max_output - sink.size() : 0;
    if (chunk.size() > room) truncated = true;
    sink.append(chunk.data(), std::min(room, chunk.size()));
  };
  return stream;
}

Supervision Watch(const ProcessSpec& spec, pid_t pid) {
  Supervision watch;
  watch.input = spec.input;
  if (spec.timeout.count() > 0) watch.deadline = std::chrono::steady_clock::now() + spec.timeout;
  if (spec.stop.stop_possible()) {
    watch.check = [&spec] { return spec.stop.stop_requested() ? kStopRequested : kNotStopped; };
  }
  if (spec.new_session) {
    watch.kill = [pid] { ::kill(-pid, SIGKILL); };
    watch.escalate = watch.kill;
  }
  // Output is read until the program and everything it left holding the pipes are done.
  watch.drain_grace = std::chrono::milliseconds::max();
  return watch;
}

}  // namespace

Result<ProcessResult> RunProcess(const ProcessSpec& spec) {
  if (spec.argv.empty()) return MakeError(ErrorCode::kInternal, "RunProcess: empty argv");
  RD_TRY(PipeFds in, MakePipe());
  RD_TRY(PipeFds out, MakePipe());
  PipeFds err;
  if (!spec.merge_stderr) {
    RD_TRY(err, MakePipe());
  }
  SpawnSpec child{.argv = spec.argv,
                  .env = Environment(spec),
                  .cwd = spec.cwd,
                  .close_other_fds = spec.close_other_fds,
                  .new_session = spec.new_session,
                  .clear_signal_mask = spec.reset_signals,
                  .default_signal_handlers = spec.reset_signals,
                  .report_exec_failure = false};
  const int stdout_fd = spec.stdout_fd >= 0 ? spec.stdout_fd : out.write.get();
  child.fds = {{spec.stdin_fd >= 0 ? spec.stdin_fd : in.read.get(), 0},
               {stdout_fd, 1},
               {spec.merge_stderr ? stdout_fd : err.write.get(), 2}};
  child.fds.insert(child.fds.end(), spec.extra_fds.begin(), spec.extra_fds.end());
  RD_TRY(const pid_t pid, SpawnChild(child));
  in.read.Reset();
  out.write.Reset();
  err.write.Reset();

  ProcessResult result;
  Supervision watch = Watch(spec, pid);
  if (spec.stdin_fd < 0) watch.input_fd = std::move(in.write);
  if (spec.stdout_fd < 0) {
    watch.streams.push_back(
        Collect(std::move(out.read), false, result.out, result.output_truncated, spec));
  }
  if (!spec.merge_stderr) {
    watch.streams.push_back(
        Collect(std::move(err.read), true, result.err, result.output_truncated, spec));
  }
  const SupervisionResult supervised = SuperviseChild(pid, std::move(watch));
  if (supervised.error) {
    return MakeError(ErrorCode::kInternal, "running " + spec.argv[0] + ": " + *supervised.error);
  }
  result.timed_out = supervised.stop_reason != kNotStopped;
  result.exit_code = WIFEXITED(supervised.wait_status) ? WEXITSTATUS(supervised.wait_status) : -1;
  return result;
}

}  // namespace replideploy::core
