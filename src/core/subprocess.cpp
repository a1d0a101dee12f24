#include "core/subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

extern char** environ;

namespace replideploy::core {

namespace {

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

Result<ProcessResult> RunProcess(const ProcessSpec& spec) {
  if (spec.argv.empty()) return MakeError(ErrorCode::kInternal, "RunProcess: empty argv");
  int in_pipe[2] = {-1, -1};
  int out_pipe[2] = {-1, -1};
  int err_pipe[2] = {-1, -1};
  if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0 ||
      (!spec.merge_stderr && pipe2(err_pipe, O_CLOEXEC) != 0)) {
    for (int* p : {in_pipe, out_pipe, err_pipe}) {
      CloseFd(p[0]);
      CloseFd(p[1]);
    }
    return MakeError(ErrorCode::kInternal, std::string("pipe failed: ") + std::strerror(errno));
  }
  // Everything the child needs is prepared before fork: no allocation after it.
  std::vector<std::string> env_storage;
  if (spec.env) {
    env_storage = *spec.env;
  } else {
    for (char** e = environ; *e != nullptr; ++e) env_storage.emplace_back(*e);
  }
  env_storage.insert(env_storage.end(), spec.extra_env.begin(), spec.extra_env.end());
  std::vector<char*> args, envp;
  for (const auto& a : spec.argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (const auto& e : env_storage) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  const pid_t pid = fork();
  if (pid < 0) {
    for (int* p : {in_pipe, out_pipe, err_pipe}) {
      CloseFd(p[0]);
      CloseFd(p[1]);
    }
    return MakeError(ErrorCode::kInternal, std::string("fork failed: ") + std::strerror(errno));
  }
  if (pid == 0) {
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    dup2(spec.merge_stderr ? out_pipe[1] : err_pipe[1], 2);
    if (!spec.cwd.empty() && chdir(spec.cwd.c_str()) != 0) _exit(127);
    execvpe(args[0], args.data(), envp.data());
    _exit(127);
  }
  CloseFd(in_pipe[0]);
  CloseFd(out_pipe[1]);
  CloseFd(err_pipe[1]);
  if (spec.input.empty()) CloseFd(in_pipe[1]);

  ProcessResult result;
  std::size_t written = 0;
  const auto deadline = std::chrono::steady_clock::now() + spec.timeout;
  int out_fd = out_pipe[0];
  int err_fd = err_pipe[0];
  int in_fd = in_pipe[1];
  if (in_fd >= 0) fcntl(in_fd, F_SETFL, O_NONBLOCK);
  char buf[65536];
  while (out_fd >= 0 || err_fd >= 0) {
    pollfd fds[3];
    nfds_t n = 0;
    if (out_fd >= 0) fds[n++] = {out_fd, POLLIN, 0};
    if (err_fd >= 0) fds[n++] = {err_fd, POLLIN, 0};
    if (in_fd >= 0) fds[n++] = {in_fd, POLLOUT, 0};
    int wait_ms = -1;
    if (spec.stop.stop_requested()) {
      result.timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    if (spec.stop.stop_possible()) wait_ms = 200;
    if (spec.timeout.count() > 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        result.timed_out = true;
        kill(pid, SIGKILL);
        break;
      }
      wait_ms = wait_ms < 0 ? static_cast<int>(left.count())
                            : std::min(wait_ms, static_cast<int>(left.count()));
    }
    if (poll(fds, n, wait_ms) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (nfds_t i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == in_fd) {
        const ssize_t w = write(in_fd, spec.input.data() + written, spec.input.size() - written);
        if (w > 0) written += static_cast<std::size_t>(w);
        if (w < 0 && errno != EAGAIN) written = spec.input.size();
        if (written >= spec.input.size()) CloseFd(in_fd);
        continue;
      }
      const ssize_t r = read(fds[i].fd, buf, sizeof buf);
      std::string& sink = fds[i].fd == out_fd ? result.out : result.err;
      if (r > 0 && spec.on_output) {
        spec.on_output(fds[i].fd != out_fd, std::string_view(buf, static_cast<std::size_t>(r)));
      } else if (r > 0) {
        const std::size_t room =
            sink.size() < spec.max_output ? spec.max_output - sink.size() : std::size_t{0};
        sink.append(buf, std::min(room, static_cast<std::size_t>(r)));
      } else if (r == 0 || errno != EAGAIN) {
        if (fds[i].fd == out_fd) {
          CloseFd(out_fd);
        } else {
          CloseFd(err_fd);
        }
      }
    }
  }
  CloseFd(in_fd);
  CloseFd(out_fd);
  CloseFd(err_fd);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace replideploy::core
