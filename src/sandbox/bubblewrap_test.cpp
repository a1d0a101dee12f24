#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>

#include "core/testing.hpp"
#include "sandbox/runner.hpp"

namespace replideploy::sandbox {
namespace {

namespace fs = std::filesystem;

struct Captured {
  OutputStream stream;
  std::int64_t timestamp_ms;
  std::string text;
};

// POSIX reads: /proc files of exiting processes fail with ESRCH, which std::ifstream turns
// into an exception.
std::string ReadAll(const fs::path& path) {
  std::string text;
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return text;
  char buffer[4096];
  ssize_t n = 0;
  while ((n = read(fd, buffer, sizeof buffer)) > 0)
    text.append(buffer, static_cast<std::size_t>(n));
  close(fd);
  return text;
}

void WriteText(const fs::path& path, const std::string& text) {
  std::ofstream(path) << text;
  chmod(path.c_str(), 0644);
}

// What is left of a build: processes whose environment carries `marker` (everything the command
// started), and processes of the build user that were orphaned to the host's init (a sandbox
// init whose bwrap died first). Both stay precise when other test processes run builds too.
std::vector<std::string> LeftoverProcesses(const std::string& marker, uid_t build_uid) {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    if (ReadAll(entry.path() / "environ").find(marker) != std::string::npos) {
      found.push_back(name + " carries the marker");
    }
    const std::string status = ReadAll(entry.path() / "status");
    const bool build_user =
        status.find("\nUid:\t" + std::to_string(build_uid) + "\t") != std::string::npos;
    if (build_user && status.find("\nPPid:\t1\n") != std::string::npos) {
      found.push_back(name + " is an orphan of the build user");
    }
  }
  return found;
}

TEST(BubblewrapArgv, IsolatesAndPassesOnlyTheGivenEnvironment) {
  const fs::path workspace = fs::temp_directory_path();
  SandboxSpec spec;
  spec.argv = {"npm", "run", "build"};
  spec.workspace = workspace;
  spec.working_subdir = "site";
  spec.env = {{"FOO", "bar"}, {"CI", "1"}};
  auto argv = BubblewrapArgv(spec, BubblewrapOptions{}, 3);
  ASSERT_TRUE(argv.ok()) << argv.error().message;
  auto has = [&](std::initializer_list<std::string> seq) {
    return std::search(argv->begin(), argv->end(), seq.begin(), seq.end()) != argv->end();
  };
  for (const char* flag : {"--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
                           "--die-with-parent", "--new-session", "--clearenv"}) {
    EXPECT_TRUE(has({flag})) << flag;
  }
  // Without a SandboxNetwork (no resolv.conf for one), bwrap makes a namespace of its own.
  EXPECT_TRUE(has({"--unshare-net"}));
  EXPECT_FALSE(has({"--ro-bind-data"}));
  EXPECT_TRUE(has({"--ro-bind", "/usr", "/usr"}));
  EXPECT_TRUE(has({"--ro-bind", "/etc", "/etc"}));
  EXPECT_TRUE(has({"--bind", fs::canonical(workspace).string(), "/workspace"}));
  EXPECT_TRUE(has({"--chdir", "/workspace/site"}));
  EXPECT_TRUE(has({"--setenv", "FOO", "bar"}));
  EXPECT_TRUE(has({"--setenv", "CI", "1"}));
  EXPECT_FALSE(has({"--setenv", "CI", "true"}));
  EXPECT_TRUE(has({"--json-status-fd", "3"}));
  EXPECT_TRUE(has({"--", "npm", "run", "build"}));
  EXPECT_FALSE(has({"/root"}));

  // In a SandboxNetwork (joined before bwrap starts): no namespace of bwrap's own.
  auto with_net = BubblewrapArgv(spec, BubblewrapOptions{}, 3, 5);
  ASSERT_TRUE(with_net.ok());
  argv = std::move(with_net);
  EXPECT_FALSE(has({"--unshare-net"}));
  EXPECT_TRUE(has({"--ro-bind-data", "5", "/etc/resolv.conf"}));
  EXPECT_TRUE(has({"--size", std::to_string(spec.limits.tmp_bytes), "--tmpfs", "/tmp"}));
}

TEST(BubblewrapArgv, RejectsBadSpecs) {
  SandboxSpec spec;
  spec.argv = {"true"};
  spec.workspace = "/nonexistent/replideploy-workspace";
  EXPECT_FALSE(BubblewrapArgv(spec, {}, 3).ok());
  spec.workspace = fs::temp_directory_path();
  spec.working_subdir = "../escape";
  EXPECT_FALSE(BubblewrapArgv(spec, {}, 3).ok());
  spec.working_subdir = "";
  spec.argv = {};
  EXPECT_FALSE(BubblewrapArgv(spec, {}, 3).ok());
}

TEST(LimitMessage, SaysWhichLimit) {
  SandboxLimits limits;
  limits.memory_bytes = std::int64_t{512} * 1024 * 1024;
  limits.max_processes = 256;
  limits.max_output_bytes = std::int64_t{10} * 1024 * 1024;
  EXPECT_EQ(LimitMessage(LimitHit::kMemory, limits), "build exceeded its memory limit (512 MiB)");
  EXPECT_EQ(LimitMessage(LimitHit::kWallTime, limits), "build exceeded its time limit (15 min)");
  EXPECT_EQ(LimitMessage(LimitHit::kOutput, limits), "build output exceeded 10 MiB");
  EXPECT_EQ(LimitMessage(LimitHit::kProcesses, limits), "build exceeded its process limit (256)");
}

// The real sandbox. Needs root (to drop to the build user) and bubblewrap; CI runs as root.
class SandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "sandbox tests need root (CI runs them as root)";
    if (!runner_.Available()) GTEST_SKIP() << "bubblewrap missing: apt-get install bubblewrap";
    auto user = EnsureBuildUser(BubblewrapOptions{}.build_user);
    ASSERT_TRUE(user.ok()) << user.error().message;
    user_ = *user;

    std::string base_template = (fs::temp_directory_path() / "rd-sandbox-XXXXXX").string();
    ASSERT_NE(mkdtemp(base_template.data()), nullptr);
    base_ = base_template;
    // Deliberately world-readable: isolation, not file modes, must hide these.
    chmod(base_.c_str(), 0755);
    workspace_ = base_ / "site-a";
    other_workspace_ = base_ / "site-b";
    data_dir_ = base_ / "data";
    for (const auto& dir : {workspace_, other_workspace_, data_dir_}) {
      fs::create_directory(dir);
      chmod(dir.c_str(), 0755);
    }
    WriteText(other_workspace_ / "secret.txt", "other-site-secret\n");
    WriteText(data_dir_ / "secret.key", "data-dir-secret\n");
    ASSERT_TRUE(GiveTreeToUser(workspace_, user_).ok());

    std::random_device random;
    marker_ = "rdtest" + std::to_string(random()) + std::to_string(random());
  }

  void TearDown() override {
    if (base_.empty()) return;
    // Run() returned: nothing of the build may be alive, nor left unreaped. An orphan of the
    // build user may belong to another test running beside this one (ctest -j2: a function
    // process or a build whose parent just exited is an orphan until --die-with-parent's kill
    // lands), so orphans count only when they outlive a grace period; processes carrying this
    // test's marker count at once.
    auto leftovers = LeftoverProcesses(marker_, user_.uid);
    const bool marked = std::any_of(leftovers.begin(), leftovers.end(), [](const std::string& l) {
      return l.find("carries the marker") != std::string::npos;
    });
    if (!leftovers.empty() && !marked) {
      core::testing::WaitUntil(
          [&] {
            leftovers = LeftoverProcesses(marker_, user_.uid);
            return leftovers.empty();
          },
          std::chrono::seconds(5));
    }
    EXPECT_TRUE(leftovers.empty()) << leftovers.front();
    errno = 0;
    EXPECT_EQ(waitpid(-1, nullptr, WNOHANG), -1);
    EXPECT_EQ(errno, ECHILD);
    std::error_code ec;
    fs::remove_all(base_, ec);
  }

  SandboxSpec Spec(std::vector<std::string> argv) {
    SandboxSpec spec;
    spec.argv = std::move(argv);
    spec.workspace = workspace_;
    spec.env = {{"RD_TEST_MARKER", marker_}};
    spec.limits.wall_time = std::chrono::seconds(60);
    return spec;
  }

  Result<SandboxResult> Run(const SandboxSpec& spec) {
    return runner_.Run(spec, [&](OutputStream stream, std::int64_t ts, std::string_view line) {
      lines_.push_back(Captured{stream, ts, std::string(line)});
    });
  }

  std::vector<std::string> Lines(OutputStream stream) const {
    std::vector<std::string> out;
    for (const auto& line : lines_) {
      if (line.stream == stream) out.push_back(line.text);
    }
    return out;
  }

  bool AnyLineContains(std::string_view text) const {
    return std::any_of(lines_.begin(), lines_.end(), [&](const Captured& line) {
      return line.text.find(text) != std::string::npos;
    });
  }

  BubblewrapRunner runner_;
  BuildUser user_;
  fs::path base_;
  fs::path workspace_;
  fs::path other_workspace_;
  fs::path data_dir_;
  std::string marker_;
  std::vector<Captured> lines_;
};

TEST_F(SandboxTest, OutputLinesArriveInOrderWithTheirStreams) {
  auto result =
      Run(Spec({"sh", "-c", "for i in 1 2 3; do echo out$i; echo err$i >&2; done; printf tail"}));
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_TRUE(result->Succeeded());
  EXPECT_EQ(Lines(OutputStream::kStdout),
            (std::vector<std::string>{"out1", "out2", "out3", "tail"}));
  EXPECT_EQ(Lines(OutputStream::kStderr), (std::vector<std::string>{"err1", "err2", "err3"}));
  for (std::size_t i = 1; i < lines_.size(); ++i) {
    EXPECT_LE(lines_[i - 1].timestamp_ms, lines_[i].timestamp_ms);
  }
}

TEST_F(SandboxTest, ReportsExitCodes) {
  auto failed = Run(Spec({"sh", "-c", "exit 3"}));
  ASSERT_TRUE(failed.ok()) << failed.error().message;
  EXPECT_EQ(failed->exit_code, 3);
  EXPECT_EQ(failed->limit, LimitHit::kNone);
  EXPECT_FALSE(failed->Succeeded());

  auto killed = Run(Spec({"sh", "-c", "kill -9 $$"}));
  ASSERT_TRUE(killed.ok()) << killed.error().message;
  EXPECT_EQ(killed->exit_code, 128 + 9);

  auto missing = Run(Spec({"/nonexistent-command"}));
  ASSERT_TRUE(missing.ok()) << missing.error().message;
  EXPECT_NE(missing->exit_code, 0);
}

TEST_F(SandboxTest, EnvironmentIsOnlyWhatWasGiven) {
  auto spec = Spec({"env"});
  spec.env.emplace_back("FOO", "bar baz");
  auto result = Run(spec);
  ASSERT_TRUE(result.ok()) << result.error().message;
  const auto lines = Lines(OutputStream::kStdout);
  EXPECT_EQ(std::set<std::string>(lines.begin(), lines.end()),
            (std::set<std::string>{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/home/build",
                                   "CI=true", "NETLIFY=true", "PWD=/workspace",
                                   "RD_TEST_MARKER=" + marker_, "FOO=bar baz"}));
}

TEST_F(SandboxTest, RunsAsTheUnprivilegedBuildUser) {
  auto result = Run(Spec({"sh", "-c", "id -u; id -G; pwd; echo $HOME"}));
  ASSERT_TRUE(result.ok()) << result.error().message;
  ASSERT_NE(user_.uid, 0u);
  EXPECT_EQ(Lines(OutputStream::kStdout),
            (std::vector<std::string>{std::to_string(user_.uid), std::to_string(user_.gid),
                                      "/workspace", "/home/build"}));
}

TEST_F(SandboxTest, CannotSeeHostData) {
  const std::string script =
      "for p in " + data_dir_.string() + " " + (data_dir_ / "secret.key").string() + " " +
      other_workspace_.string() + " " + (other_workspace_ / "secret.txt").string() + " " +
      base_.string() + " /root /home/" + user_.name +
      "; do if test -e \"$p\"; then echo \"visible $p\"; else echo \"hidden $p\"; fi; done;"
      "cat " +
      (data_dir_ / "secret.key").string() + " " + (other_workspace_ / "secret.txt").string() +
      " /etc/shadow /root/.bashrc; ls /home";
  auto result = Run(Spec({"sh", "-c", script}));
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_FALSE(AnyLineContains("visible"));
  EXPECT_FALSE(AnyLineContains("data-dir-secret"));
  EXPECT_FALSE(AnyLineContains("other-site-secret"));
  EXPECT_FALSE(AnyLineContains("root:"));                   // /etc/shadow
  EXPECT_EQ(Lines(OutputStream::kStdout).back(), "build");  // /home holds only the build HOME
  EXPECT_EQ(Lines(OutputStream::kStderr).size(), 4u);       // each cat failed
}

TEST_F(SandboxTest, CannotWriteOutsideTheWorkspace) {
  auto result = Run(Spec(
      {"sh", "-c",
       "for p in /usr/rd-sandbox-probe /rd-sandbox-probe /etc/rd-sandbox-probe "
       "/workspace/written /tmp/written /home/build/written; do "
       "if touch \"$p\" 2>/dev/null; then echo \"wrote $p\"; else echo \"refused $p\"; fi; done"}));
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(Lines(OutputStream::kStdout),
            (std::vector<std::string>{"refused /usr/rd-sandbox-probe", "refused /rd-sandbox-probe",
                                      "refused /etc/rd-sandbox-probe", "wrote /workspace/written",
                                      "wrote /tmp/written", "wrote /home/build/written"}));
  EXPECT_TRUE(fs::exists(workspace_ / "written"));
  EXPECT_FALSE(fs::exists("/usr/rd-sandbox-probe"));
  EXPECT_FALSE(fs::exists("/etc/rd-sandbox-probe"));
}

TEST_F(SandboxTest, ForkBombIsContainedByTheProcessLimit) {
  auto spec = Spec({"bash", "-c", ":(){ :|:& };:; sleep 1000"});
  spec.limits.max_processes = 64;
  auto result = Run(spec);
  ASSERT_TRUE(result.ok()) << result.error().message;
  if (result->limits_enforced_by == "rlimit") {
    EXPECT_NE(result->limit, LimitHit::kNone);
  } else {
    EXPECT_EQ(result->limit, LimitHit::kProcesses);
    EXPECT_EQ(result->limit_message, "build exceeded its process limit (64)");
  }
  // The machine still forks.
  EXPECT_EQ(system("true"), 0);
}

TEST_F(SandboxTest, SpawningLoopIsContainedByTheProcessLimit) {
  auto spec = Spec({"sh", "-c", "while true; do sleep 1000 & done"});
  spec.limits.max_processes = 32;
  auto result = Run(spec);
  ASSERT_TRUE(result.ok()) << result.error().message;
  if (result->limits_enforced_by == "rlimit") GTEST_SKIP() << "no writable cgroup here";
  EXPECT_EQ(result->limit, LimitHit::kProcesses);
  EXPECT_EQ(result->limit_message, "build exceeded its process limit (32)");
}

TEST_F(SandboxTest, MemoryHogIsStoppedByTheMemoryLimit) {
  auto spec = Spec({"perl", "-e", "$x = 'a' x (1 << 30); print qq(survived\\n)"});
  spec.limits.memory_bytes = std::int64_t{256} * 1024 * 1024;
  auto result = Run(spec);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_FALSE(AnyLineContains("survived"));
  if (result->limits_enforced_by == "rlimit") {
    EXPECT_NE(result->exit_code, 0);
  } else {
    EXPECT_EQ(result->limit, LimitHit::kMemory);
    EXPECT_EQ(result->limit_message, "build exceeded its memory limit (256 MiB)");
  }
}

TEST_F(SandboxTest, WallTimeLimitKillsAHangingBuild) {
  auto spec = Spec({"sleep", "1000"});
  spec.limits.wall_time = std::chrono::seconds(2);
  auto result = Run(spec);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->limit, LimitHit::kWallTime);
  EXPECT_EQ(result->limit_message, "build exceeded its time limit (2 s)");
}

TEST_F(SandboxTest, OutputOverTheCapIsCut) {
  auto spec = Spec({"yes", "0123456789"});
  spec.limits.max_output_bytes = 64 * 1024;
  auto result = Run(spec);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->limit, LimitHit::kOutput);
  EXPECT_EQ(result->limit_message, "build output exceeded 64 KiB");
  EXPECT_EQ(result->output_bytes, 64 * 1024);
  std::size_t delivered = 0;
  for (const auto& line : lines_) delivered += line.text.size() + 1;
  EXPECT_LE(delivered, std::size_t{64 * 1024 + 1});
}

TEST_F(SandboxTest, LongLinesArriveInPieces) {
  auto result = Run(Spec({"sh", "-c", "head -c 40000 /dev/zero | tr '\\0' a; echo; echo next"}));
  ASSERT_TRUE(result.ok()) << result.error().message;
  const auto lines = Lines(OutputStream::kStdout);
  ASSERT_GE(lines.size(), 4u);
  std::string joined;
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
    EXPECT_LE(lines[i].size(), kMaxLineBytes);
    joined += lines[i];
  }
  EXPECT_EQ(joined, std::string(40000, 'a'));
  EXPECT_EQ(lines.back(), "next");
}

TEST_F(SandboxTest, SlowCallbackLosesNothingAndDoesNotDeadlock) {
  bool first = true;
  std::vector<std::string> seen;
  auto result = runner_.Run(Spec({"seq", "1", "300000"}),
                            [&](OutputStream, std::int64_t, std::string_view line) {
                              if (first) {
                                first = false;
                                std::this_thread::sleep_for(std::chrono::milliseconds(500));
                              }
                              seen.emplace_back(line);
                            });
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_TRUE(result->Succeeded());
  ASSERT_EQ(seen.size(), 300000u);
  EXPECT_EQ(seen.front(), "1");
  EXPECT_EQ(seen.back(), "300000");
}

TEST_F(SandboxTest, ThrowingCallbackKillsTheBuild) {
  auto result = runner_.Run(Spec({"sh", "-c", "echo hi; sleep 1000"}),
                            [](OutputStream, std::int64_t, std::string_view) {
                              throw std::runtime_error("log store down");
                            });
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find("log store down"), std::string::npos);
}

TEST_F(SandboxTest, StopRequestCancelsTheBuild) {
  std::stop_source stop;
  auto spec = Spec({"sh", "-c", "echo started; sleep 1000"});
  spec.stop = stop.get_token();
  auto result =
      runner_.Run(spec, [&](OutputStream, std::int64_t, std::string_view) { stop.request_stop(); });
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->limit, LimitHit::kCancelled);
}

TEST_F(SandboxTest, NetworkCanBeTurnedOff) {
  auto spec = Spec({"sh", "-c", "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '"});
  spec.network = false;
  auto result = Run(spec);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(Lines(OutputStream::kStdout), (std::vector<std::string>{"lo"}));
}

// With a network, the sandbox's own namespace gets slirp4netns's tap0 (and its DNS forwarder as
// resolver), never the host's interfaces. The egress rules are tested in egress_test.cpp.
TEST_F(SandboxTest, NetworkIsItsOwnNamespaceWithAnEgressLink) {
  if (geteuid() != 0) GTEST_SKIP() << "attaching a network needs root";
  auto spec = Spec({"sh", "-c",
                    "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort; "
                    "cat /etc/resolv.conf"});
  auto result = Run(spec);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->network, "public internet");
  EXPECT_EQ(Lines(OutputStream::kStdout),
            (std::vector<std::string>{"lo", "tap0", "nameserver 10.0.2.3"}));
  BubblewrapOptions off;
  off.egress.mode = NetworkMode::kNone;
  BubblewrapRunner no_network(off);
  auto none = no_network.Run(Spec({"true"}), [](OutputStream, std::int64_t, std::string_view) {});
  ASSERT_TRUE(none.ok());
  EXPECT_NE(none->network.find("--build-network none"), std::string::npos) << none->network;
}

// A network made ahead (Prepare) serves one build only, the runner keeps at most
// `spare_networks` of them, and a build in one has what a build whose network was made at its
// start has.
TEST_F(SandboxTest, PreparedNetworksAreUsedOnceEach) {
  if (geteuid() != 0) GTEST_SKIP() << "attaching a network needs root";
  EXPECT_EQ(runner_.SpareNetworksForTest(), 0U);
  runner_.Prepare();
  runner_.Prepare();
  EXPECT_EQ(runner_.SpareNetworksForTest(), 1U);
  auto result =
      Run(Spec({"sh", "-c", "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort"}));
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->network, "public internet");
  EXPECT_EQ(Lines(OutputStream::kStdout), (std::vector<std::string>{"lo", "tap0"}));
  EXPECT_EQ(runner_.SpareNetworksForTest(), 0U);
  // Builds without a network leave a spare alone.
  runner_.Prepare();
  auto offline = Spec({"true"});
  offline.network = false;
  ASSERT_TRUE(Run(offline).ok());
  EXPECT_EQ(runner_.SpareNetworksForTest(), 1U);
  ASSERT_TRUE(Run(Spec({"true"})).ok());
  EXPECT_EQ(runner_.SpareNetworksForTest(), 0U);
}

// With keep_spares (function processes), the runner's own thread makes the spare from the start
// and again after a run took it, without Prepare() calls.
TEST_F(SandboxTest, KeptSparesAreMadeAgainByTheRunnersOwnThread) {
  if (geteuid() != 0) GTEST_SKIP() << "attaching a network needs root";
  BubblewrapOptions options;
  options.keep_spares = true;
  BubblewrapRunner keeper(options);
  ASSERT_TRUE(core::testing::WaitUntil([&] { return keeper.SpareNetworksForTest() == 1; }));
  auto result = keeper.Run(Spec({"true"}), [](OutputStream, std::int64_t, std::string_view) {});
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->network, "public internet");
  EXPECT_TRUE(core::testing::WaitUntil([&] { return keeper.SpareNetworksForTest() == 1; }));
  // Off: no spare, and the setting named is the one given.
  options.egress.mode = NetworkMode::kNone;
  options.network_setting = "--functions-network";
  BubblewrapRunner off(options);
  auto none = off.Run(Spec({"true"}), [](OutputStream, std::int64_t, std::string_view) {});
  ASSERT_TRUE(none.ok());
  EXPECT_NE(none->network.find("--functions-network none"), std::string::npos) << none->network;
  EXPECT_EQ(off.SpareNetworksForTest(), 0U);
}

TEST_F(SandboxTest, TmpIsSizedAndStdoutCanGoToAFile) {
  auto spec = Spec({"sh", "-c",
                    "head -c 3000000 /dev/zero > /tmp/big || echo tmp-full >&2; "
                    "echo to-the-file"});
  spec.limits.tmp_bytes = 1 << 20;
  const std::string file = (base_ / "stdout.txt").string();
  const int fd = open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  spec.stdout_fd = fd;
  auto result = Run(spec);
  close(fd);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(Lines(OutputStream::kStderr).back(), "tmp-full");
  std::ifstream in(file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "to-the-file\n");
  EXPECT_TRUE(Lines(OutputStream::kStdout).empty());
}

TEST_F(SandboxTest, TheBuildGetsNoDescriptorOfTheServer) {
  // dup(): not close-on-exec, as a careless open elsewhere in the server would be.
  const int leaked = dup(STDERR_FILENO);
  ASSERT_GE(leaked, 0);
  auto result = Run(Spec({"sh", "-c", "ls /proc/$$/fd/; true"}));
  close(leaked);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(Lines(OutputStream::kStdout), (std::vector<std::string>{"0", "1", "2"}));
}

TEST_F(SandboxTest, SpawnFailuresAreErrors) {
  auto spec = Spec({"true"});
  spec.workspace = (base_ / "missing").string();
  auto missing_workspace = Run(spec);
  ASSERT_FALSE(missing_workspace.ok());

  BubblewrapOptions options;
  options.bwrap_path = "/nonexistent/bwrap";
  BubblewrapRunner no_bwrap(options);
  auto result = no_bwrap.Run(Spec({"true"}), [](OutputStream, std::int64_t, std::string_view) {});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace replideploy::sandbox
