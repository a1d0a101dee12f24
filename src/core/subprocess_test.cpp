#include "core/subprocess.hpp"

#include <gtest/gtest.h>

namespace replideploy::core {
namespace {

TEST(RunProcess, CollectsStdoutStderrAndExitCode) {
  auto r = RunProcess({.argv = {"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->out, "out\n");
  EXPECT_EQ(r->err, "err\n");
  EXPECT_FALSE(r->Succeeded());
}

TEST(RunProcess, FeedsLargeInputWhileReadingLargeOutput) {
  // 4 MB through cat: neither side may block the other on a full pipe.
  const std::string input(4 << 20, 'x');
  auto r = RunProcess({.argv = {"cat"}, .input = input});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->out.size(), input.size());
}

TEST(RunProcess, EnvironmentIsReplacedOrExtended) {
  auto replaced = RunProcess(
      {.argv = {"/usr/bin/env"}, .env = std::vector<std::string>{"ONLY=1"}, .extra_env = {"B=2"}});
  ASSERT_TRUE(replaced.ok());
  EXPECT_EQ(replaced->out, "ONLY=1\nB=2\n");
  auto extended = RunProcess({.argv = {"/bin/sh", "-c", "echo $RD_X"}, .extra_env = {"RD_X=yes"}});
  ASSERT_TRUE(extended.ok());
  EXPECT_EQ(extended->out, "yes\n");
}

TEST(RunProcess, MergedStderrKeepsOrder) {
  auto r =
      RunProcess({.argv = {"/bin/sh", "-c", "echo a; echo b >&2; echo c"}, .merge_stderr = true});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out, "a\nb\nc\n");
  EXPECT_EQ(r->err, "");
}

TEST(RunProcess, TimeoutKills) {
  auto r = RunProcess({.argv = {"sleep", "30"}, .timeout = std::chrono::milliseconds(200)});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->timed_out);
  EXPECT_FALSE(r->Succeeded());
}

TEST(RunProcess, MissingProgramExits127AndOutputIsCapped) {
  auto missing = RunProcess({.argv = {"/nonexistent/program"}});
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->exit_code, 127);
  auto capped =
      RunProcess({.argv = {"/bin/sh", "-c", "head -c 100000 /dev/zero"}, .max_output = 1000});
  ASSERT_TRUE(capped.ok());
  EXPECT_EQ(capped->out.size(), 1000u);
  EXPECT_EQ(capped->exit_code, 0);
}

}  // namespace
}  // namespace replideploy::core
