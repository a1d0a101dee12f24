// The Docker runner, without a Docker engine (there is none on this machine): what it asks
// `docker` to do, and how it reads a stand-in `docker` script's output and exit statuses.
#include "sandbox/docker_runner.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "core/clock.hpp"

namespace replideploy::sandbox {
namespace {

namespace fs = std::filesystem;

const core::SystemClock kClock;

bool HasPair(const std::vector<std::string>& argv, const std::string& flag,
             const std::string& value) {
  for (std::size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] == flag && argv[i + 1] == value) return true;
  }
  return false;
}

SandboxSpec Spec() {
  SandboxSpec spec;
  spec.argv = {"/bin/sh", "-c", "npm ci && npm run build"};
  spec.workspace = "/data/builds/job1";
  spec.working_subdir = "repo/site";
  spec.env = {{"CONTEXT", "production"}, {"API_KEY", "s3cret value"}};
  spec.limits.memory_bytes = 512 << 20;
  spec.limits.max_processes = 128;
  return spec;
}

TEST(DockerRunArgv, NonRootLimitedContainerWithTheWorkspace) {
  auto argv = DockerRunArgv(Spec(), DockerOptions{}, "replideploy-build-x");
  ASSERT_TRUE(argv.ok()) << argv.error().message;
  const auto& a = *argv;
  EXPECT_EQ(a[0], "docker");
  EXPECT_EQ(a[1], "run");
  EXPECT_TRUE(HasPair(a, "--name", "replideploy-build-x"));
  EXPECT_TRUE(HasPair(a, "--user", "1000:1000"));
  EXPECT_TRUE(HasPair(a, "--memory", std::to_string(512 << 20)));
  EXPECT_TRUE(HasPair(a, "--memory-swap", std::to_string(512 << 20)));
  EXPECT_TRUE(HasPair(a, "--pids-limit", "128"));
  EXPECT_TRUE(HasPair(a, "--cap-drop", "ALL"));
  EXPECT_TRUE(HasPair(a, "--security-opt", "no-new-privileges"));
  EXPECT_NE(std::find(a.begin(), a.end(), "--read-only"), a.end());
  EXPECT_TRUE(HasPair(a, "--volume", "/data/builds/job1:/workspace:rw"));
  EXPECT_TRUE(HasPair(a, "--workdir", "/workspace/repo/site"));
  // Variables by name only: the values come from the client's environment, never argv.
  EXPECT_TRUE(HasPair(a, "--env", "API_KEY"));
  for (const auto& arg : a) EXPECT_EQ(arg.find("s3cret"), std::string::npos) << arg;
  EXPECT_EQ(DockerRunEnv(Spec()),
            (std::vector<std::string>{"CONTEXT=production", "API_KEY=s3cret value"}));
  // The image, then the command, last.
  ASSERT_GE(a.size(), 4u);
  EXPECT_EQ(a[a.size() - 4], "node:18-bullseye");
  EXPECT_EQ(a.back(), "npm ci && npm run build");
  // Never privileged, never the host's network namespace or docker socket.
  EXPECT_EQ(std::find(a.begin(), a.end(), "--privileged"), a.end());
  EXPECT_FALSE(HasPair(a, "--network", "host"));
  for (const auto& arg : a) EXPECT_EQ(arg.find("docker.sock"), std::string::npos) << arg;
}

TEST(DockerRunArgv, RefusesWhatItCannotExpressSafely) {
  SandboxSpec relative = Spec();
  relative.workspace = "builds/job1";
  EXPECT_FALSE(DockerRunArgv(relative, {}, "n").ok());
  SandboxSpec escape = Spec();
  escape.working_subdir = "../../etc";
  EXPECT_FALSE(DockerRunArgv(escape, {}, "n").ok());
  SandboxSpec bad_env = Spec();
  bad_env.env.push_back({"A=B", "c"});
  EXPECT_FALSE(DockerRunArgv(bad_env, {}, "n").ok());
}

class FakeDocker : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("rd-fake-docker-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  // A `docker` that records its argv and runs `body` for `run`.
  std::string Script(const std::string& body) {
    const fs::path path = dir_ / "docker";
    std::ofstream(path) << "#!/bin/sh\necho \"$@\" >> " << (dir_ / "calls").string()
                        << "\nif [ \"$1\" = run ]; then\n"
                        << body << "\nfi\n";
    fs::permissions(path, fs::perms::owner_all);
    return path.string();
  }
  std::string Calls() {
    std::ifstream in(dir_ / "calls");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  fs::path dir_;
};

TEST_F(FakeDocker, StreamsLinesAndReportsExitStatus) {
  DockerOptions options;
  options.docker_path = Script("echo building; echo warn >&2; exit 3");
  DockerRunner runner(options, kClock);
  std::vector<std::string> lines;
  auto result = runner.Run(Spec(), [&](OutputStream s, std::int64_t, std::string_view line) {
    lines.push_back((s == OutputStream::kStderr ? "err:" : "out:") + std::string(line));
  });
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->exit_code, 3);
  EXPECT_EQ(result->limit, LimitHit::kNone);
  EXPECT_FALSE(result->Succeeded());
  std::sort(lines.begin(), lines.end());
  EXPECT_EQ(lines, (std::vector<std::string>{"err:warn", "out:building"}));
  // The container is killed by name afterwards, whatever happened, then inspected and removed.
  EXPECT_NE(Calls().find("kill replideploy-build-"), std::string::npos) << Calls();
  EXPECT_NE(Calls().find("inspect --format {{.State.OOMKilled}} replideploy-build-"),
            std::string::npos)
      << Calls();
  EXPECT_NE(Calls().find("rm -f replideploy-build-"), std::string::npos) << Calls();
}

TEST_F(FakeDocker, SecretsReachDockerThroughItsEnvironmentNotItsArguments) {
  DockerOptions options;
  // The stand-in prints what `docker run --env API_KEY` would hand the container.
  options.docker_path = Script("echo \"key=$API_KEY\"");
  DockerRunner runner(options, kClock);
  std::vector<std::string> lines;
  auto result = runner.Run(
      Spec(), [&](OutputStream, std::int64_t, std::string_view line) { lines.emplace_back(line); });
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(lines, (std::vector<std::string>{"key=s3cret value"}));
  EXPECT_EQ(Calls().find("s3cret"), std::string::npos) << Calls();
}

TEST_F(FakeDocker, OomKilledContainerIsTheMemoryLimit) {
  DockerOptions options;
  // `docker run` ends with 137; `docker inspect` says the OOM killer did it.
  options.docker_path = Script("exit 137\nfi\nif [ \"$1\" = inspect ]; then echo true");
  DockerRunner runner(options, kClock);
  auto oom = runner.Run(Spec(), [](OutputStream, std::int64_t, std::string_view) {});
  ASSERT_TRUE(oom.ok());
  EXPECT_EQ(oom->limit, LimitHit::kMemory);
  EXPECT_NE(oom->limit_message.find("memory"), std::string::npos) << oom->limit_message;
  // 137 without the OOM killer: a build that was killed, not a limit.
  options.docker_path = Script("exit 137\nfi\nif [ \"$1\" = inspect ]; then echo false");
  DockerRunner killed(options, kClock);
  auto plain = killed.Run(Spec(), [](OutputStream, std::int64_t, std::string_view) {});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->limit, LimitHit::kNone);
  EXPECT_EQ(plain->exit_code, 137);
}

TEST_F(FakeDocker, WallTimeAndOutputLimits) {
  DockerOptions options;
  options.docker_path = Script("sleep 30");
  DockerRunner runner(options, kClock);
  SandboxSpec spec = Spec();
  spec.limits.wall_time = std::chrono::milliseconds(300);
  auto slow = runner.Run(spec, [](OutputStream, std::int64_t, std::string_view) {});
  ASSERT_TRUE(slow.ok());
  EXPECT_EQ(slow->limit, LimitHit::kWallTime);
  EXPECT_NE(slow->limit_message.find("time"), std::string::npos) << slow->limit_message;

  options.docker_path = Script("yes 0123456789");
  DockerRunner noisy(options, kClock);
  spec = Spec();
  spec.limits.max_output_bytes = 100'000;
  auto loud = noisy.Run(spec, [](OutputStream, std::int64_t, std::string_view) {});
  ASSERT_TRUE(loud.ok());
  EXPECT_EQ(loud->limit, LimitHit::kOutput);
}

TEST_F(FakeDocker, MissingDockerIsAnError) {
  DockerOptions options;
  options.docker_path = (dir_ / "no-such-docker").string();
  DockerRunner runner(options, kClock);
  auto result = runner.Run(Spec(), [](OutputStream, std::int64_t, std::string_view) {});
  EXPECT_FALSE(result.ok());
}

}  // namespace
}  // namespace replideploy::sandbox
