#include "core/child_process.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "core/subprocess.hpp"
#include "core/unique_fd.hpp"

namespace replideploy::core {
namespace {

std::string FdProbe(int fd) {
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  return "if test -e " + path + "; then echo open; else echo closed; fi";
}

TEST(SpawnChild, OnlyListedDescriptorsReachTheChildWhenOthersAreClosed) {
  UniqueFd leaked(dup(STDERR_FILENO));  // dup(): no O_CLOEXEC, like a careless open elsewhere
  ASSERT_GE(leaked.get(), 0);
  UniqueFd passed(open("/dev/null", O_RDONLY | O_CLOEXEC));
  const std::string probe = FdProbe(leaked.get()) + "; " + FdProbe(7);

  auto inherited = RunProcess({.argv = {"/bin/sh", "-c", probe}});
  ASSERT_TRUE(inherited.ok());
  EXPECT_EQ(inherited->out, "open\nclosed\n");

  auto closed = RunProcess({.argv = {"/bin/sh", "-c", probe},
                            .extra_fds = {{passed.get(), 7}},
                            .close_other_fds = true});
  ASSERT_TRUE(closed.ok());
  EXPECT_EQ(closed->out, "closed\nopen\n");
}

TEST(SpawnChild, AFailedStepIsAnErrorNamingIt) {
  SpawnSpec spec{.argv = {"/bin/true"}};
  spec.before_exec = []() -> const char* {
    errno = EPERM;
    return "dropping privileges";
  };
  auto started = SpawnChild(spec);
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().message, "dropping privileges: Operation not permitted");

  auto missing = SpawnChild({.argv = {"/nonexistent/program"}});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, "exec: No such file or directory");

  auto quiet = SpawnChild({.argv = {"/nonexistent/program"}, .report_exec_failure = false});
  ASSERT_TRUE(quiet.ok());
  const int status = ReapChild(*quiet);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 127);
}

TEST(SpawnChild, StepsRunInTheChildBeforeExec) {
  UniqueFd marker(memfd_create("rd-step", MFD_CLOEXEC));
  ASSERT_GE(marker.get(), 0);
  SpawnSpec spec{.argv = {"/bin/true"}};
  const int fd = marker.get();
  spec.before_fds = [fd]() -> const char* { return write(fd, "a", 1) == 1 ? nullptr : "writing"; };
  spec.before_exec = [fd]() -> const char* { return write(fd, "b", 1) == 1 ? nullptr : "writing"; };
  auto started = SpawnChild(spec);
  ASSERT_TRUE(started.ok()) << started.error().message;
  EXPECT_EQ(WEXITSTATUS(ReapChild(*started)), 0);
  char text[3] = {};
  ASSERT_EQ(pread(fd, text, 2, 0), 2);
  EXPECT_STREQ(text, "ab");
}

TEST(RunProcess, ResetSignalsClearsWhatWeIgnore) {
  struct sigaction ignore {};
  struct sigaction previous {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGUSR2, &ignore, &previous);
  const std::vector<std::string> argv = {"/bin/sh", "-c", "grep SigIgn /proc/self/status"};
  auto inherited = RunProcess({.argv = argv});
  auto reset = RunProcess({.argv = argv, .reset_signals = true});
  sigaction(SIGUSR2, &previous, nullptr);
  ASSERT_TRUE(inherited.ok());
  ASSERT_TRUE(reset.ok());
  EXPECT_NE(inherited->out, "SigIgn:\t0000000000000000\n");
  EXPECT_EQ(reset->out, "SigIgn:\t0000000000000000\n");
}

// The server ignores SIGPIPE (http::Server); its children must not inherit that, or a build's
// `yes | head` would never end its writer. Without reset_signals, SIGPIPE alone is put back.
TEST(RunProcess, ChildrenGetSigpipeBackEvenWithoutResetSignals) {
  struct sigaction ignore {};
  struct sigaction previous {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ignore, &previous);
  auto child = RunProcess({.argv = {"/bin/sh", "-c", "grep SigIgn /proc/self/status"}});
  auto pipeline = RunProcess({.argv = {"/bin/sh", "-c", "yes | head -n 2; echo done"},
                              .timeout = std::chrono::seconds(60)});
  sigaction(SIGPIPE, &previous, nullptr);
  ASSERT_TRUE(child.ok());
  const std::string mask = child->out.substr(child->out.find('\t') + 1, 16);
  ASSERT_EQ(mask.size(), 16u) << child->out;
  // SIGPIPE is 13: bit 12 of the mask, in its fourth hex digit from the right.
  EXPECT_EQ(std::stoull(mask, nullptr, 16) & (1ULL << (SIGPIPE - 1)), 0u) << child->out;
  ASSERT_TRUE(pipeline.ok()) << pipeline.error().message;
  EXPECT_EQ(pipeline->out, "y\ny\ndone\n");
  // Ended by the signal, `yes` says nothing; with SIGPIPE ignored it reports a broken pipe.
  EXPECT_EQ(pipeline->err, "");
}

TEST(RunProcess, StdinAndStdoutCanBeOurDescriptors) {
  UniqueFd input(memfd_create("rd-in", MFD_CLOEXEC));
  UniqueFd output(memfd_create("rd-out", MFD_CLOEXEC));
  ASSERT_EQ(write(input.get(), "hello", 5), 5);
  ASSERT_EQ(lseek(input.get(), 0, SEEK_SET), 0);
  auto r = RunProcess({.argv = {"/bin/sh", "-c", "cat; echo err >&2"},
                       .stdin_fd = input.get(),
                       .stdout_fd = output.get()});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out, "");
  EXPECT_EQ(r->err, "err\n");
  char text[6] = {};
  ASSERT_EQ(pread(output.get(), text, 5, 0), 5);
  EXPECT_STREQ(text, "hello");
}

// A zombie still has a /proc entry; it counts as gone.
bool Gone(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string skip, state;
  if (!(stat >> skip >> skip >> state)) return true;
  return state == "Z" || state == "X";
}

TEST(RunProcess, TimeoutKillsTheWholeGroupOfANewSession) {
  const auto start = std::chrono::steady_clock::now();
  auto r = RunProcess({.argv = {"/bin/sh", "-c", "sleep 30 & echo $!; wait"},
                       .timeout = std::chrono::milliseconds(300),
                       .new_session = true});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->timed_out);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  const pid_t background = static_cast<pid_t>(std::stol(r->out));
  for (int i = 0; i < 100 && !Gone(background); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(Gone(background));
}

TEST(RunProcess, TruncatedOutputIsReported) {
  auto r = RunProcess({.argv = {"/bin/sh", "-c", "head -c 5000 /dev/zero"}, .max_output = 100});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->output_truncated);
  EXPECT_EQ(r->out.size(), 100u);
  auto whole = RunProcess({.argv = {"/bin/sh", "-c", "head -c 100 /dev/zero"}, .max_output = 100});
  ASSERT_TRUE(whole.ok());
  EXPECT_FALSE(whole->output_truncated);
}

}  // namespace
}  // namespace replideploy::core
