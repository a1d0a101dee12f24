#include "core/process_supervisor.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <exception>
#include <thread>
#include <utility>

#include "core/child_process.hpp"

namespace replideploy::core {

namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr std::size_t kReadChunk = std::size_t{64} * 1024;
constexpr auto kIdleSleep = std::chrono::milliseconds(10);

class ChildSupervisor {
 public:
  ChildSupervisor(pid_t pid, Supervision supervision)
      : pid_(pid),
        // Readable once the child exits: an exit wakes the poll at once (no interval to wait
        // out when its streams closed first). -1 where the kernel lacks pidfd_open (< 5.3).
        pidfd_(static_cast<int>(syscall(SYS_pidfd_open, pid, 0))),
        s_(std::move(supervision)),
        ended_(s_.streams.size(), false) {
    for (auto& stream : s_.streams) SetNonBlocking(stream.fd.get());
    if (s_.input.empty()) s_.input_fd.Reset();
    SetNonBlocking(s_.input_fd.get());
  }

  SupervisionResult Run() noexcept {
    const auto start = SteadyClock::now();
    try {
      Loop();
    } catch (const std::exception& e) {
      result_.error = e.what();
    } catch (...) {
      result_.error = "supervising a child process failed";
    }
    KillAndReap();
    for (auto& stream : s_.streams) stream.fd.Reset();
    s_.input_fd.Reset();
    result_.duration =
        std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start);
    return std::move(result_);
  }

 private:
  static void SetNonBlocking(int fd) {
    if (fd >= 0) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  }

  bool StreamsOpen() const {
    return std::any_of(s_.streams.begin(), s_.streams.end(),
                       [](const SupervisedStream& stream) { return stream.fd.get() >= 0; });
  }

  // In whole milliseconds, so that a grace of milliseconds::max() is "no limit", not an overflow.
  static std::chrono::milliseconds Since(SteadyClock::time_point then) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - then);
  }

  void Loop() {
    SteadyClock::time_point ended_at{};
    while (true) {
      const auto now = SteadyClock::now();
      if (!killed_) {
        int reason = s_.check ? s_.check() : kNotStopped;
        if (reason == kNotStopped && s_.deadline && now >= *s_.deadline) {
          reason = kStoppedAtDeadline;
        }
        if (reason != kNotStopped) Stop(reason);
      }
      if (!reaped_ && waitpid(pid_, &result_.wait_status, WNOHANG) == pid_) {
        reaped_ = true;
        ended_at = now;
      }
      if (reaped_ && (!StreamsOpen() || Since(ended_at) > s_.drain_grace)) break;
      if (killed_ && !reaped_ && Since(killed_at_) > s_.kill_grace) Escalate();
      if (killed_ && Since(killed_at_) / 2 > s_.kill_grace) break;
      if (!killed_ && s_.hold_reading && s_.hold_reading(s_.poll_interval)) continue;
      PollOnce();
    }
  }

  int PollTimeoutMs() const {
    auto wait = s_.poll_interval;
    if (s_.deadline && !killed_) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(*s_.deadline - SteadyClock::now());
      wait = std::clamp(left, std::chrono::milliseconds(0), wait);
    }
    return static_cast<int>(wait.count());
  }

  void PollOnce() {
    std::vector<pollfd> polls;
    std::vector<std::size_t> which;
    for (std::size_t i = 0; i < s_.streams.size(); ++i) {
      if (s_.streams[i].fd.get() < 0) continue;
      polls.push_back(pollfd{s_.streams[i].fd.get(), POLLIN, 0});
      which.push_back(i);
    }
    const std::size_t input_at = polls.size();
    if (s_.input_fd.get() >= 0) polls.push_back(pollfd{s_.input_fd.get(), POLLOUT, 0});
    if (!reaped_ && pidfd_.get() >= 0) polls.push_back(pollfd{pidfd_.get(), POLLIN, 0});
    if (polls.empty()) {
      std::this_thread::sleep_for(kIdleSleep);
      return;
    }
    if (poll(polls.data(), polls.size(), PollTimeoutMs()) <= 0) return;
    for (std::size_t k = 0; k < which.size(); ++k) {
      if (polls[k].revents != 0) ReadFrom(which[k]);
    }
    if (s_.input_fd.get() >= 0 && polls[input_at].revents != 0) WriteInput();
  }

  void WriteInput() {
    const ssize_t n =
        write(s_.input_fd.get(), s_.input.data() + written_, s_.input.size() - written_);
    if (n > 0) written_ += static_cast<std::size_t>(n);
    if ((n < 0 && errno != EAGAIN && errno != EINTR) || written_ >= s_.input.size()) {
      s_.input_fd.Reset();
    }
  }

  void ReadFrom(std::size_t index) {
    SupervisedStream& stream = s_.streams[index];
    char buffer[kReadChunk];
    const ssize_t n = read(stream.fd.get(), buffer, sizeof buffer);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
      stream.fd.Reset();
      End(index);
      return;
    }
    std::size_t take = static_cast<std::size_t>(n);
    const bool capped = stream.counts_toward_cap && s_.max_output_bytes >= 0;
    if (capped) {
      if (result_.output_capped) return;  // dropped, but still drained
      const std::int64_t room = s_.max_output_bytes - result_.output_bytes;
      if (static_cast<std::int64_t>(take) > room) {
        take = static_cast<std::size_t>(std::max<std::int64_t>(room, 0));
        result_.output_capped = true;
      }
    }
    if (stream.counts_toward_cap) result_.output_bytes += static_cast<std::int64_t>(take);
    if (stream.on_data) stream.on_data(std::string_view(buffer, take));
    if (capped && result_.output_capped) {
      End(index);
      if (!killed_) Stop(kStoppedAtOutputCap);
    }
  }

  void End(std::size_t index) {
    if (ended_[index]) return;
    ended_[index] = true;
    if (s_.streams[index].on_end) s_.streams[index].on_end();
  }

  void Stop(int reason) {
    result_.stop_reason = reason;
    Kill();
  }

  void Kill() {
    killed_ = true;
    killed_at_ = SteadyClock::now();
    if (reaped_) return;
    if (s_.kill) {
      s_.kill();
    } else {
      ::kill(pid_, SIGKILL);
    }
  }

  void Escalate() {
    if (s_.escalate) {
      s_.escalate();
    } else {
      ::kill(pid_, SIGKILL);
    }
  }

  void KillAndReap() noexcept {
    if (reaped_) return;
    try {
      if (!killed_) Kill();
      const auto give_up = SteadyClock::now() + s_.kill_grace;
      while (true) {
        const pid_t r = waitpid(pid_, &result_.wait_status, WNOHANG);
        if (r == pid_ || (r < 0 && errno != EINTR)) break;
        if (SteadyClock::now() >= give_up) {
          Escalate();
          result_.wait_status = ReapChild(pid_);
          break;
        }
        std::this_thread::sleep_for(kIdleSleep);
      }
    } catch (...) {
      ::kill(pid_, SIGKILL);  // a kill hook threw: the child still goes
      result_.wait_status = ReapChild(pid_);
    }
    reaped_ = true;
  }

  pid_t pid_;
  UniqueFd pidfd_;
  Supervision s_;
  std::vector<bool> ended_;
  SupervisionResult result_;
  std::size_t written_ = 0;
  bool killed_ = false;
  bool reaped_ = false;
  SteadyClock::time_point killed_at_{};
};

}  // namespace

SupervisionResult SuperviseChild(pid_t pid, Supervision supervision) {
  return ChildSupervisor(pid, std::move(supervision)).Run();
}

}  // namespace replideploy::core
