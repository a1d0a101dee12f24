// Runs one build command in an isolated sandbox and streams its output line by line.
//
// A SandboxRunner takes a SandboxSpec (command, workspace, environment, limits) and runs the
// command to completion: every line of stdout and stderr goes to an OutputCallback as it arrives,
// and the outcome comes back as a SandboxResult value (exit status, duration, the limit that was
// hit). Only failures to start the sandbox at all are an Error. No exception leaves Run().
//
// When Run() returns, every process of the build is dead and reaped: on success, on a limit, on
// cancellation, and when the callback throws.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "sandbox/egress.hpp"

namespace replideploy::sandbox {

// Where the workspace appears inside the sandbox; the command starts there.
inline constexpr std::string_view kWorkspaceMount = "/workspace";
// HOME inside the sandbox: a private tmpfs.
inline constexpr std::string_view kSandboxHome = "/home/build";
inline constexpr std::string_view kSandboxPath = "/usr/local/bin:/usr/bin:/bin";
// Longer lines are delivered in pieces of at most this many bytes.
inline constexpr std::size_t kMaxLineBytes = 16 * 1024;

enum class OutputStream { kStdout, kStderr };
std::string_view OutputStreamName(OutputStream stream);  // "stdout" / "stderr"

// One line without its terminating "\n" (a trailing "\r" is removed too). `timestamp_ms` is the
// runner clock's time when the bytes were read. Called on the thread that called Run(), in
// arrival order per stream (stdout and stderr are separate pipes, so their interleaving is only
// as precise as the reads). A slow callback applies back-pressure: at most about 1 MiB of output
// waits in memory, then the build's writes block until the callback catches up; nothing is
// dropped, and the wall-time limit still fires meanwhile. An exception thrown by the callback
// kills the build and makes Run() return an Error.
using OutputCallback =
    std::function<void(OutputStream stream, std::int64_t timestamp_ms, std::string_view line)>;

struct SandboxLimits {
  std::chrono::milliseconds wall_time = std::chrono::minutes(15);
  std::int64_t memory_bytes = std::int64_t{2} * 1024 * 1024 * 1024;
  // Includes the sandbox's own helper processes (about three).
  int max_processes = 256;
  // Bytes of stdout + stderr; output past it is discarded and the build is killed.
  std::int64_t max_output_bytes = std::int64_t{10} * 1024 * 1024;
  // Size of the private /tmp and of HOME (tmpfs, also counted in memory).
  std::int64_t tmp_bytes = std::int64_t{1} << 30;
  // Largest file a process may write (RLIMIT_FSIZE), and open files per process.
  std::int64_t max_file_bytes = std::int64_t{8} << 30;
  int max_open_files = 16384;
  // CPU share in cores (cgroup cpu quota); 0 = no CPU limit.
  double cpus = 0;
};

// An extra host directory made visible in the sandbox (e.g. a package manager cache).
struct SandboxBind {
  std::string host_path;     // absolute, must exist
  std::string sandbox_path;  // absolute, e.g. "/home/build/.npm"
  bool writable = false;
};

struct SandboxSpec {
  // The command; argv[0] is looked up in PATH inside the sandbox. E.g. {"bash", "-c", "npm ci"}.
  std::vector<std::string> argv;
  // Host directory bound read-write at kWorkspaceMount. It must exist and be writable by the
  // build user (see GiveTreeToUser).
  std::string workspace;
  // Directory inside the workspace to start in ("" = the workspace root); no "..".
  std::string working_subdir;
  // Added to PATH, HOME, CI=true, NETLIFY=true (a name given here replaces the default); bwrap
  // adds PWD. Nothing else of the host's environment reaches the build.
  std::vector<std::pair<std::string, std::string>> env;
  // Every sandbox has its own network namespace. true: the public internet through a
  // SandboxNetwork (sandbox/egress.hpp) when the runner's policy allows it; false: only loopback.
  bool network = true;
  // When >= 0, the command's stdout goes to this descriptor (e.g. a file being written) instead
  // of the line callback; bounded by limits.max_file_bytes. Stays the caller's.
  int stdout_fd = -1;
  // When >= 0, the command reads its stdin from this descriptor (else /dev/null). Stays the
  // caller's.
  int stdin_fd = -1;
  SandboxLimits limits;
  std::vector<SandboxBind> extra_binds;
  // Requesting a stop kills the build; the result then says kCancelled.
  std::stop_token stop;
};

enum class LimitHit { kNone, kWallTime, kMemory, kProcesses, kOutput, kCancelled };

struct SandboxResult {
  // The command's exit status as the sandbox reports it: 128+N when it died of signal N.
  // Meaningful when `signal` is 0.
  int exit_code = -1;
  // Set only when the sandbox's own processes died of a signal (escalated kills), else 0. A
  // build killed on a limit usually shows exit_code 137 here; `limit` says why.
  int signal = 0;
  std::chrono::milliseconds duration{0};
  LimitHit limit = LimitHit::kNone;
  // For the build log when `limit` is set: "build exceeded its memory limit (512 MiB)".
  std::string limit_message;
  std::int64_t output_bytes = 0;  // bytes of output read (at most the cap)
  // Which mechanism enforced memory and process limits: "cgroup-v2", "cgroup-v1" or "rlimit".
  std::string limits_enforced_by;
  // What the build could reach: "public internet", "none (...reason...)".
  std::string network;

  bool Succeeded() const { return limit == LimitHit::kNone && signal == 0 && exit_code == 0; }
};

// Thread-safety: implementations allow concurrent Run() calls on one object.
class SandboxRunner {
 public:
  virtual ~SandboxRunner() = default;
  // Blocks until the build ended and every process of it is reaped. Error only when the sandbox
  // could not be started (bad spec, missing bwrap or user, fork/exec failure, bwrap refusing to
  // set up); everything that happens to a started build is in the SandboxResult.
  virtual Result<SandboxResult> Run(const SandboxSpec& spec, const OutputCallback& on_line) = 0;
  // Makes ahead what the next Run() would otherwise make first (for bubblewrap: a network
  // namespace with its rules and link), so that it is off the build's critical path. Call when
  // idle. Best effort: a failure is left for that Run() to meet and report. Default: nothing.
  virtual void Prepare() {}
};

struct BuildUser {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

// Looks the user up; when missing and we are root, creates it as a system user without home or
// login shell (`useradd --system --no-create-home --shell /usr/sbin/nologin`). Not thread-safe
// with respect to other user database changes.
Result<BuildUser> EnsureBuildUser(const std::string& name);

// Chowns `path` and everything below it (symlinks themselves, never their targets) to `user`.
Status GiveTreeToUser(const std::string& path, const BuildUser& user);

struct BubblewrapOptions {
  std::string bwrap_path = "/usr/bin/bwrap";
  // Builds run as this user when we are root (created if missing). When not root, builds run as
  // the current user and this is ignored.
  std::string build_user = "replideploy-build";
  // Where cgroup hierarchies are mounted; "" disables cgroups (rlimits only).
  std::string cgroup_root = "/sys/fs/cgroup";
  // Host paths under the read-only /etc that the build must not see (directories are covered by
  // an empty tmpfs, files by /dev/null); missing ones are skipped.
  std::vector<std::string> masked_paths = {"/etc/replideploy"};
  // Where builds may connect (SandboxSpec::network): the public internet, minus what the
  // operator denies, plus what it allows; mode kNone turns networking off for every build.
  EgressPolicy egress;
  EgressOptions egress_options;
  // Networks made ahead by Prepare() and kept for the next builds (one per build worker is
  // enough); 0 makes each build's network when it starts.
  int spare_networks = 1;
  // true: a thread of the runner's own keeps `spare_networks` made (from the start, and again
  // each time a Run() takes one), instead of callers calling Prepare() when idle. For callers
  // with no idle moment of their own (function processes, started on a request's path). The
  // spares then belong to the namespace of the thread that constructed the runner.
  bool keep_spares = false;
  // The setting named when the operator turned networking off ("--build-network none").
  std::string network_setting = "--build-network";
};

// The argv that runs `spec` under bwrap (no privilege drop or limits; those happen around it).
// Exposed for tests and for the Docker runner's parity. `status_fd` is passed as --json-status-fd.
// Without `resolv_fd` bwrap makes a network namespace of its own (--unshare-net: only loopback);
// with it (>= 0) the sandbox is in a SandboxNetwork that bwrap was started in, and `resolv_fd`
// becomes its /etc/resolv.conf.
Result<std::vector<std::string>> BubblewrapArgv(const SandboxSpec& spec,
                                                const BubblewrapOptions& options, int status_fd,
                                                int resolv_fd = -1);

// "build exceeded its memory limit (512 MiB)" etc.
std::string LimitMessage(LimitHit limit, const SandboxLimits& limits);

// Runs builds with bubblewrap. As root, the forked child joins the build's cgroup, drops to the
// build user (setgroups, setgid, setuid) and stays as a small reaper (PR_SET_CHILD_SUBREAPER)
// that forks `bwrap --unshare-user --unshare-pid ...` and exits once every process below it is
// reaped, so nothing is ever orphaned to the host's init. The sandbox sees read-only /usr and
// /etc, the workspace read-write at /workspace, a private /tmp and HOME, its own /proc and a
// minimal /dev, and new user/PID/IPC/UTS (and optionally network) namespaces. Memory and
// process limits use a per-build cgroup (v2, else v1 memory+pids), else RLIMIT_AS/RLIMIT_NPROC.
// On a limit the sandbox's PID-namespace init is killed (taking every build process with it),
// then the cgroup is swept. Each Run() uses one extra thread for supervision while the calling
// thread runs the callback. Thread-safe.
class BubblewrapRunner final : public SandboxRunner {
 public:
  // `clock` stamps output lines and must outlive the runner.
  explicit BubblewrapRunner(BubblewrapOptions options = {},
                            const core::Clock& clock = DefaultClock());
  ~BubblewrapRunner() override;

  Result<SandboxResult> Run(const SandboxSpec& spec, const OutputCallback& on_line) override;
  // Keeps up to `spare_networks` SandboxNetworks ready (made on the calling thread, which must
  // outlive them: see SandboxNetwork). A spare is used only while the host's addresses are
  // those its rules were made for and its slirp4netns runs.
  void Prepare() override;
  std::size_t SpareNetworksForTest();

  // Whether bwrap exists and is executable.
  bool Available() const;

 private:
  static const core::Clock& DefaultClock();
  // A spare network when one is still good, else a new one.
  Result<std::unique_ptr<SandboxNetwork>> TakeNetwork();
  // The keeper thread (options_.keep_spares): Prepare(), then again when a spare was taken (or
  // a while after a failure), until stopped.
  void KeepSpares(const std::stop_token& stop);

  BubblewrapOptions options_;
  const core::Clock& clock_;
  std::mutex spare_mu_;
  std::condition_variable_any spare_taken_;
  bool spare_wanted_ = false;  // under spare_mu_
  std::vector<std::unique_ptr<SandboxNetwork>> spare_networks_;
  // Last: stopped and joined first, before the spares it made go.
  std::jthread keeper_;
};

}  // namespace replideploy::sandbox
