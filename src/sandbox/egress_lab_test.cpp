// The egress rules at work: real bwrap sandboxes, slirp4netns and nft inside network namespaces
// of the test's own (egress_test.cpp checks the rules themselves).
#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <linux/nsfs.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "core/subprocess.hpp"
#include "core/testing.hpp"
#include "sandbox/egress.hpp"
#include "sandbox/egress_testing.hpp"
#include "sandbox/runner.hpp"

namespace replideploy::sandbox {
namespace {

namespace fs = std::filesystem;
using namespace testing;  // NOLINT(google-build-using-namespace): the lab
using SteadyClock = std::chrono::steady_clock;

Cidr Parse(std::string_view text) {
  auto cidr = ParseCidr(text);
  EXPECT_TRUE(cidr.ok()) << text << ": " << (cidr.ok() ? "" : cidr.error().message);
  return cidr.ok() ? *cidr : Cidr{};
}

// A bwrap sandbox as the build user with its own user and PID namespaces, in the network
// namespace `netns_fd` (joined as root before dropping to the user, as the runner does), blocked
// on --block-fd until Release().
class BlockedSandbox {
 public:
  BlockedSandbox(const BuildUser& user, const fs::path& etc_dir, const std::string& script,
                 int netns_fd) {
    int block[2];
    int info[2];
    int output[2];
    if (pipe2(block, O_CLOEXEC) != 0 || pipe2(info, O_CLOEXEC) != 0 ||
        pipe2(output, O_CLOEXEC) != 0) {
      ADD_FAILURE() << "pipe2: " << std::strerror(errno);
      return;
    }
    Fd block_read(block[0]);
    block_write_ = Fd(block[1]);
    Fd info_read(info[0]);
    Fd info_write(info[1]);
    output_read_ = Fd(output[0]);
    Fd output_write(output[1]);
    std::vector<std::string> args = {kBwrap,
                                     "--unshare-user",
                                     "--unshare-pid",
                                     "--die-with-parent",
                                     "--ro-bind",
                                     "/usr",
                                     "/usr",
                                     "--symlink",
                                     "usr/bin",
                                     "/bin",
                                     "--symlink",
                                     "usr/sbin",
                                     "/sbin",
                                     "--symlink",
                                     "usr/lib",
                                     "/lib",
                                     "--symlink",
                                     "usr/lib64",
                                     "/lib64",
                                     "--ro-bind",
                                     "/etc",
                                     "/etc",
                                     "--ro-bind",
                                     (etc_dir / "resolv.conf").string(),
                                     "/etc/resolv.conf",
                                     "--ro-bind",
                                     (etc_dir / "hosts").string(),
                                     "/etc/hosts",
                                     "--proc",
                                     "/proc",
                                     "--dev",
                                     "/dev",
                                     "--tmpfs",
                                     "/tmp",
                                     "--info-fd",
                                     "6",
                                     "--block-fd",
                                     "5",
                                     "--",
                                     "/usr/bin/bash",
                                     "-c",
                                     script};
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    char path[] = "PATH=/usr/bin:/usr/sbin";
    char* env[] = {path, nullptr};
    const pid_t parent = getpid();
    // The sandbox's init outlives a killed bwrap for a moment: it comes to us (not to the host's
    // init, as an orphan of the build user that other tests would see) and is reaped below.
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    bwrap_ = fork();
    if (bwrap_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(126);
      // Lifted first: a source may sit where another one goes.
      const int null_in = fcntl(open("/dev/null", O_RDONLY | O_CLOEXEC), F_DUPFD_CLOEXEC, 64);
      const int out = fcntl(output_write.get(), F_DUPFD_CLOEXEC, 64);
      const int block_in = fcntl(block_read.get(), F_DUPFD_CLOEXEC, 64);
      const int info_out = fcntl(info_write.get(), F_DUPFD_CLOEXEC, 64);
      if (null_in < 0 || out < 0 || block_in < 0 || info_out < 0 || dup2(null_in, 0) < 0 ||
          dup2(out, 1) < 0 || dup2(out, 2) < 0 || dup2(block_in, 5) < 0 || dup2(info_out, 6) < 0) {
        _exit(126);
      }
      if (setns(netns_fd, CLONE_NEWNET) != 0) _exit(126);
      close_range(7, ~0U, 0);
      if (setgroups(0, nullptr) != 0 || setgid(user.gid) != 0 || setuid(user.uid) != 0) _exit(126);
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      execve(argv[0], argv.data(), env);
      _exit(127);
    }
    info_write.Reset();
    output_write.Reset();
    sandbox_pid_ = ReadChildPid(info_read.get());
    if (sandbox_pid_ <= 0) {
      ADD_FAILURE() << "bwrap: " << ReadUntilEof(output_read_.get(), std::chrono::seconds(5));
    }
  }

  ~BlockedSandbox() {
    if (bwrap_ > 0) {
      kill(bwrap_, SIGKILL);
      waitpid(bwrap_, nullptr, 0);
    }
    ReapSandboxInit();
  }

  pid_t bwrap() const { return bwrap_; }
  // The sandbox's init as the host sees it (bwrap's "child-pid"); -1 when bwrap failed.
  pid_t sandbox_pid() const { return sandbox_pid_; }

  // Lets the command run and returns its output once it ended.
  std::string Release() {
    [[maybe_unused]] const ssize_t n = write(block_write_.get(), "x", 1);
    block_write_.Reset();
    std::string output = ReadUntilEof(output_read_.get(), std::chrono::seconds(120));
    int status = 0;
    waitpid(bwrap_, &status, 0);
    bwrap_ = -1;
    ReapSandboxInit();
    return output;
  }

 private:
  // bwrap gone, its init is ours now (the subreaper): our child until reaped, so its pid cannot
  // have been reused. Killed (it may still be blocked before --die-with-parent took effect).
  void ReapSandboxInit() {
    if (sandbox_pid_ > 0 && kill(sandbox_pid_, SIGKILL) == 0) waitpid(sandbox_pid_, nullptr, 0);
    sandbox_pid_ = -1;
  }

  static std::string ReadUntilEof(int fd, std::chrono::seconds limit) {
    std::string text;
    const auto deadline = SteadyClock::now() + limit;
    char buffer[4096];
    while (SteadyClock::now() < deadline) {
      pollfd poll_fd{fd, POLLIN, 0};
      if (poll(&poll_fd, 1, 200) <= 0) continue;
      const ssize_t n = read(fd, buffer, sizeof buffer);
      if (n <= 0) break;
      text.append(buffer, static_cast<std::size_t>(n));
    }
    return text;
  }

  static pid_t ReadChildPid(int info_fd) {
    std::string json;
    const auto deadline = SteadyClock::now() + std::chrono::seconds(10);
    char buffer[512];
    while (json.find('}') == std::string::npos && SteadyClock::now() < deadline) {
      pollfd poll_fd{info_fd, POLLIN, 0};
      if (poll(&poll_fd, 1, 200) <= 0) continue;
      const ssize_t n = read(info_fd, buffer, sizeof buffer);
      if (n <= 0) break;
      json.append(buffer, static_cast<std::size_t>(n));
    }
    const std::size_t key = json.find("\"child-pid\":");
    if (key == std::string::npos) {
      ADD_FAILURE() << "bwrap reported no child-pid: " << json;
      return -1;
    }
    return static_cast<pid_t>(std::atol(json.c_str() + key + 12));
  }

  pid_t bwrap_ = -1;
  pid_t sandbox_pid_ = -1;
  Fd block_write_;
  Fd output_read_;
};

// Files the sandbox sees at /etc/resolv.conf and /etc/hosts.
class SandboxEtc {
 public:
  SandboxEtc() {
    char pattern[] = "/tmp/rd-egress-XXXXXX";
    dir_ = mkdtemp(pattern);
    chmod(dir_.c_str(), 0755);
    std::ofstream(dir_ / "resolv.conf") << SandboxResolvConf();
    std::ofstream(dir_ / "hosts") << "127.0.0.1 localhost\n10.99.0.1 mirror.test\n";
    chmod((dir_ / "resolv.conf").c_str(), 0644);
    chmod((dir_ / "hosts").c_str(), 0644);
  }
  ~SandboxEtc() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  const fs::path& path() const { return dir_; }

 private:
  fs::path dir_;
};

struct Probe {
  std::string name;
  std::string host;
  int port;
};

// A bash script that tries each probe and prints "<name> open" or "<name> closed"; first it
// tries to remove the egress rules from inside ("tamper"), and it checks that the sandbox's own
// loopback works ("own-loopback").
std::string ProbeScript(const std::vector<Probe>& probes) {
  std::string script =
      "probe() { if timeout 3 bash -c \"exec 3<>/dev/tcp/$2/$3\" 2>/dev/null; "
      "then echo \"$1 open\"; else echo \"$1 closed\"; fi; }\n"
      "if nft flush ruleset 2>/dev/null; then echo 'tamper open'; else echo 'tamper closed'; fi\n"
      "if perl -MIO::Socket::INET -e '$s = IO::Socket::INET->new(Listen => 1, LocalAddr => "
      "\"127.0.0.1:0\") or exit 1; IO::Socket::INET->new(\"127.0.0.1:\" . $s->sockport) or "
      "exit 1'; then echo 'own-loopback open'; else echo 'own-loopback closed'; fi\n";
  for (const Probe& probe : probes) {
    script += "probe " + probe.name + " " + probe.host + " " + std::to_string(probe.port) + "\n";
  }
  return script;
}

std::map<std::string, std::string> Outcomes(const std::string& output) {
  std::map<std::string, std::string> outcomes;
  std::istringstream lines(output);
  std::string name;
  std::string state;
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    if (words >> name >> state && (state == "open" || state == "closed")) outcomes[name] = state;
  }
  return outcomes;
}

struct Lab {
  std::string resolver;
  int host_port = 0;
  int web_port = 0;
};

std::vector<Probe> LabProbes(const Lab& lab) {
  std::vector<Probe> probes = {
      {"metadata", "169.254.169.254", lab.host_port},
      {"host-private-10", "10.99.0.1", lab.host_port},
      {"host-private-172", "172.16.5.5", lab.host_port},
      {"host-private-192", "192.168.7.7", lab.host_port},
      {"host-cgnat", "100.64.3.3", lab.host_port},
      {"host-public", "192.0.2.2", lab.host_port},
      {"host-ipv6", "fd99::1", lab.host_port},
      {"host-loopback-gateway", "10.0.2.2", lab.host_port},
      {"host-loopback-alias", "10.0.2.5", lab.host_port},
      {"by-name-to-host", "mirror.test", lab.host_port},
      {"private-mirror", "10.50.0.1", lab.web_port},
      {"public", "203.0.113.10", lab.web_port},
      {"public-closed-port", "203.0.113.10", 9},
  };
  if (!lab.resolver.empty()) {
    probes.push_back({"dns-tcp", "10.0.2.3", 53});
    // slirp4netns sends every port of its DNS address to the resolver, which listens on the
    // web port as well.
    probes.push_back({"resolver-other-port", "10.0.2.3", lab.web_port});
  }
  return probes;
}

std::map<std::string, std::string> DefaultExpectations(const Lab& lab) {
  std::map<std::string, std::string> expected;
  for (const Probe& probe : LabProbes(lab)) expected[probe.name] = "closed";
  expected["tamper"] = "closed";
  expected["own-loopback"] = "open";
  expected["public"] = "open";
  if (!lab.resolver.empty()) expected["dns-tcp"] = "open";
  return expected;
}

struct ProbeRun {
  std::map<std::string, std::string> outcomes;
  std::string output;
  std::chrono::milliseconds attach_time{0};
  std::chrono::milliseconds detach_time{0};
};

// One sandbox in a SandboxNetwork for `policy`, running the lab's probes. Call on the lab thread.
ProbeRun RunProbes(const Lab& lab, const EgressPolicy& policy, const BuildUser& user,
                   const SandboxEtc& etc) {
  ProbeRun run;
  // A descriptor of "the server" that is not close-on-exec: slirp4netns must not get it.
  const fs::path marker = etc.path() / "server-secret";
  std::ofstream(marker) << "secret";
  Fd leaky(open(marker.c_str(), O_RDONLY));

  const auto start = SteadyClock::now();
  auto link = SandboxNetwork::Create(policy);
  run.attach_time =
      std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start);
  if (!link.ok()) {
    ADD_FAILURE() << "Create: " << link.error().message;
    return run;
  }
  const pid_t slirp = (*link)->SlirpPidForTest();
  std::error_code ec;
  for (const auto& fd : fs::directory_iterator("/proc/" + std::to_string(slirp) + "/fd", ec)) {
    EXPECT_NE(fs::read_symlink(fd.path(), ec), marker) << "slirp4netns inherited " << fd.path();
  }
  BlockedSandbox sandbox(user, etc.path(), ProbeScript(LabProbes(lab)), (*link)->netns_fd());
  if (sandbox.sandbox_pid() <= 0) return run;
  run.output = sandbox.Release();
  run.outcomes = Outcomes(run.output);
  const auto stop = SteadyClock::now();
  link->reset();
  run.detach_time =
      std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - stop);
  EXPECT_EQ(kill(slirp, 0), -1) << "slirp4netns " << slirp << " outlived its link";
  return run;
}

TEST(Egress, SandboxReachesOnlyThePublicInternet) {
  SKIP_UNLESS_REAL_TESTS_CAN_RUN();
  auto user = EnsureBuildUser("replideploy-build");
  ASSERT_TRUE(user.ok()) << user.error().message;
  SandboxEtc etc;
  RunInOwnNetns([&] {
    Internet internet;
    ASSERT_TRUE(internet.ok());
    Lab lab;
    lab.resolver = ForwardedResolver();
    lab.web_port = internet.web_port();
    Fd host_v4 = Listen("0.0.0.0", 0);
    lab.host_port = PortOf(host_v4);
    Fd host_v6 = Listen("::", lab.host_port);
    BuildLab(internet, lab.resolver);
    if (HasFatalFailure()) return;

    const ProbeRun run = RunProbes(lab, EgressPolicy{}, *user, etc);
    std::cout << "[ egress ] Making the network took " << run.attach_time.count()
              << " ms, destroying it " << run.detach_time.count() << " ms\n";
    EXPECT_EQ(run.outcomes, DefaultExpectations(lab)) << run.output;
    if (lab.resolver.empty()) {
      std::cout << "[ egress ] DNS probe skipped: the machine's resolver is loopback or IPv6\n";
    }
  });
}

TEST(Egress, OperatorAllowedAndDeniedRangesTakeEffect) {
  SKIP_UNLESS_REAL_TESTS_CAN_RUN();
  auto user = EnsureBuildUser("replideploy-build");
  ASSERT_TRUE(user.ok()) << user.error().message;
  SandboxEtc etc;
  RunInOwnNetns([&] {
    Internet internet;
    ASSERT_TRUE(internet.ok());
    Lab lab;
    lab.resolver = ForwardedResolver();
    lab.web_port = internet.web_port();
    Fd host_v4 = Listen("0.0.0.0", 0);
    lab.host_port = PortOf(host_v4);
    Fd host_v6 = Listen("::", lab.host_port);
    BuildLab(internet, lab.resolver);
    if (HasFatalFailure()) return;

    // A private mirror's range opens the mirror, but neither the host address inside that wide
    // range nor slirp4netns's network; an operator denial closes a public address.
    EgressPolicy wide;
    wide.allowed = {Parse("10.0.0.0/8")};
    wide.denied = {Parse("203.0.113.10")};
    auto expected = DefaultExpectations(lab);
    expected["private-mirror"] = "open";
    expected["public"] = "closed";
    const ProbeRun wide_run = RunProbes(lab, wide, *user, etc);
    EXPECT_EQ(wide_run.outcomes, expected) << wide_run.output;

    // Naming the host address exactly opens it, by address and by a name resolving to it.
    EgressPolicy exact;
    exact.allowed = {Parse("10.99.0.1")};
    expected = DefaultExpectations(lab);
    expected["host-private-10"] = "open";
    expected["by-name-to-host"] = "open";
    const ProbeRun exact_run = RunProbes(lab, exact, *user, etc);
    EXPECT_EQ(exact_run.outcomes, expected) << exact_run.output;
  });
}

// The namespace is a new one, owned by our user namespace (so a sandbox, whose capabilities are
// in a user namespace below, cannot change it), and nothing is loaded into the caller's own.
TEST(Egress, NetworkIsANewNamespaceAndLeavesTheCallersAlone) {
  SKIP_UNLESS_REAL_TESTS_CAN_RUN();
  RunInOwnNetns([&] {
    auto network = SandboxNetwork::Create(EgressPolicy{});
    ASSERT_TRUE(network.ok()) << network.error().message;
    struct stat made {};
    struct stat own {};
    ASSERT_EQ(fstat((*network)->netns_fd(), &made), 0);
    ASSERT_EQ(stat("/proc/thread-self/ns/net", &own), 0);
    EXPECT_NE(made.st_ino, own.st_ino);
    Fd owner(ioctl((*network)->netns_fd(), NS_GET_USERNS));
    ASSERT_GE(owner.get(), 0);
    struct stat owner_stat {};
    struct stat our_userns {};
    ASSERT_EQ(fstat(owner.get(), &owner_stat), 0);
    ASSERT_EQ(stat("/proc/self/ns/user", &our_userns), 0);
    EXPECT_EQ(owner_stat.st_ino, our_userns.st_ino);
    auto host = HostAddresses();
    ASSERT_TRUE(host.ok());
    EXPECT_TRUE((*network)->MadeFor(*host));
    auto more = *host;
    more.push_back(Parse("192.0.2.99"));
    EXPECT_FALSE((*network)->MadeFor(more));
    core::ProcessSpec list;
    list.argv = {EgressOptions{}.nft_path, "list", "ruleset"};
    auto rules = core::RunProcess(list);
    ASSERT_TRUE(rules.ok());
    EXPECT_EQ(rules->out, "") << "rules were loaded into the caller's namespace";
  });
}

// A network whose slirp4netns is gone (killed, crashed) says so: a spare like that is not used.
TEST(Egress, NetworkIsAliveWhileItsSlirpRuns) {
  SKIP_UNLESS_REAL_TESTS_CAN_RUN();
  RunInOwnNetns([&] {
    auto network = SandboxNetwork::Create(EgressPolicy{});
    ASSERT_TRUE(network.ok()) << network.error().message;
    EXPECT_TRUE((*network)->Alive());
    ASSERT_EQ(kill((*network)->SlirpPidForTest(), SIGKILL), 0);
    EXPECT_TRUE(core::testing::WaitUntil([&] { return !(*network)->Alive(); }));
  });
}

TEST(Egress, CreateNamesAMissingTool) {
  SKIP_UNLESS_REAL_TESTS_CAN_RUN();
  RunInOwnNetns([&] {
    EgressOptions options;
    options.slirp4netns_path = "/nonexistent/slirp4netns";
    const auto before = ChildrenOfThisProcess();
    auto link = SandboxNetwork::Create(EgressPolicy{}, options);
    ASSERT_FALSE(link.ok());
    EXPECT_EQ(link.error().code, ErrorCode::kUnavailable);
    EXPECT_NE(link.error().message.find("slirp4netns is not installed (no executable "
                                        "/nonexistent/slirp4netns)"),
              std::string::npos)
        << link.error().message;
    EXPECT_EQ(ChildrenOfThisProcess(), before);

    options = EgressOptions{};
    options.nft_path = "/nonexistent/nft";
    link = SandboxNetwork::Create(EgressPolicy{}, options);
    ASSERT_FALSE(link.ok());
    EXPECT_NE(link.error().message.find("/nonexistent/nft"), std::string::npos);
  });
}

// slirp4netns stand-ins: one that fails with a message, one that never becomes ready.
TEST(Egress, SlirpFailureOrTimeoutIsAnErrorAndLeavesNothingRunning) {
  SKIP_UNLESS_REAL_TESTS_CAN_RUN();
  SandboxEtc etc;
  const fs::path failing = etc.path() / "failing-slirp4netns";
  const fs::path stuck = etc.path() / "stuck-slirp4netns";
  std::ofstream(failing) << "#!/bin/sh\necho \"cannot configure tap0 (fake)\" >&2\nexit 3\n";
  std::ofstream(stuck) << "#!/bin/sh\nexec sleep 30\n";
  fs::permissions(failing, fs::perms::owner_all);
  fs::permissions(stuck, fs::perms::owner_all);
  RunInOwnNetns([&] {
    const auto before = ChildrenOfThisProcess();

    EgressOptions options;
    options.slirp4netns_path = failing;
    auto link = SandboxNetwork::Create(EgressPolicy{}, options);
    ASSERT_FALSE(link.ok());
    EXPECT_EQ(link.error().code, ErrorCode::kInternal);
    EXPECT_NE(link.error().message.find("slirp4netns failed (exit 3): cannot configure tap0"),
              std::string::npos)
        << link.error().message;
    EXPECT_EQ(ChildrenOfThisProcess(), before);

    options.slirp4netns_path = stuck;
    options.ready_timeout = std::chrono::milliseconds(300);
    link = SandboxNetwork::Create(EgressPolicy{}, options);
    ASSERT_FALSE(link.ok());
    EXPECT_NE(link.error().message.find("within 300 ms"), std::string::npos)
        << link.error().message;
    EXPECT_EQ(ChildrenOfThisProcess(), before);
  });
}

}  // namespace
}  // namespace replideploy::sandbox
