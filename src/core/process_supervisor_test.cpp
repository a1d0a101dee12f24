#include "core/process_supervisor.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include "core/child_process.hpp"

namespace replideploy::core {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

struct Started {
  pid_t pid = -1;
  UniqueFd out;
};

// `script` under /bin/sh with its stdout on a pipe of ours.
Started Start(const std::string& script) {
  int fds[2];
  EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  auto pid = SpawnChild({.argv = {"/bin/sh", "-c", script},
                         .env = {"PATH=/usr/bin:/bin"},
                         .fds = {{write_end.get(), 1}},
                         .new_session = true});
  EXPECT_TRUE(pid.ok());
  return Started{pid.ok() ? *pid : -1, std::move(read_end)};
}

TEST(SuperviseChild, TheOutputCapCutsReportsAndKills) {
  Started child = Start("head -c 100000 /dev/zero; sleep 30");
  std::string seen;
  int ends = 0;
  Supervision watch;
  watch.streams.push_back({.fd = std::move(child.out),
                           .on_data = [&](std::string_view chunk) { seen.append(chunk); },
                           .on_end = [&] { ++ends; }});
  watch.max_output_bytes = 1000;
  const SupervisionResult result = SuperviseChild(child.pid, std::move(watch));
  EXPECT_EQ(result.stop_reason, kStoppedAtOutputCap);
  EXPECT_TRUE(result.output_capped);
  EXPECT_EQ(result.output_bytes, 1000);
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_EQ(ends, 1);
  EXPECT_LT(result.duration, milliseconds(10'000));
}

TEST(SuperviseChild, TheDeadlineKillsThroughTheCallersHook) {
  Started child = Start("sleep 30 & sleep 30");
  std::atomic<int> kills{0};
  Supervision watch;
  watch.streams.push_back({.fd = std::move(child.out)});
  watch.deadline = steady_clock::now() + milliseconds(200);
  const pid_t group = child.pid;
  watch.kill = [&kills, group] {
    ++kills;
    ::kill(-group, SIGKILL);
  };
  const SupervisionResult result = SuperviseChild(child.pid, std::move(watch));
  EXPECT_EQ(result.stop_reason, kStoppedAtDeadline);
  EXPECT_EQ(kills.load(), 1);
  ASSERT_TRUE(WIFSIGNALED(result.wait_status));
  EXPECT_EQ(WTERMSIG(result.wait_status), SIGKILL);
  // The background sleep held the pipe too: it went with the group, or this would wait 2 s.
  EXPECT_LT(result.duration, milliseconds(1500));
}

TEST(SuperviseChild, ACheckStopsWithItsOwnReasonAndAnExitIsReported) {
  Started stopped = Start("exec sleep 30");
  Supervision watch;
  watch.streams.push_back({.fd = std::move(stopped.out)});
  int calls = 0;
  watch.check = [&] { return ++calls >= 3 ? 42 : kNotStopped; };
  EXPECT_EQ(SuperviseChild(stopped.pid, std::move(watch)).stop_reason, 42);

  Started exits = Start("echo done; exit 3");
  std::string out;
  Supervision plain;
  plain.streams.push_back(
      {.fd = std::move(exits.out), .on_data = [&](std::string_view c) { out.append(c); }});
  const SupervisionResult result = SuperviseChild(exits.pid, std::move(plain));
  EXPECT_EQ(result.stop_reason, kNotStopped);
  EXPECT_EQ(out, "done\n");
  ASSERT_TRUE(WIFEXITED(result.wait_status));
  EXPECT_EQ(WEXITSTATUS(result.wait_status), 3);
}

TEST(SuperviseChild, AThrowingCallbackKillsTheChildAndIsReported) {
  Started child = Start("while true; do echo line; sleep 0.01; done");
  Supervision watch;
  watch.streams.push_back({.fd = std::move(child.out), .on_data = [](std::string_view) {
                             throw std::runtime_error("log store full");
                           }});
  const SupervisionResult result = SuperviseChild(child.pid, std::move(watch));
  ASSERT_TRUE(result.error.has_value());
  EXPECT_EQ(*result.error, "log store full");
  EXPECT_TRUE(WIFSIGNALED(result.wait_status));
}

}  // namespace
}  // namespace replideploy::core
