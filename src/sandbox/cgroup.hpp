// A per-build cgroup that limits memory, processes and (when asked) CPU time, counts limit hits and
// kills its members.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace replideploy::sandbox {

// Thread-safety: const methods may be called from any thread; KillAll and destruction from one.
class BuildCgroup {
 public:
  enum class Version { kV1, kV2 };

  // Creates `name` below this process's own cgroup: with cgroup v2 when `cgroup_root` is a
  // cgroup2 mount whose memory and pids controllers can be enabled, else with the v1 `memory`
  // and `pids` hierarchies mounted under `cgroup_root`. Returns nullptr (callers fall back to
  // rlimits) when neither is writable; never leaves a half-made cgroup behind.
  static std::unique_ptr<BuildCgroup> Create(const std::string& cgroup_root,
                                             const std::string& name, std::int64_t memory_bytes,
                                             int max_processes, double cpus = 0);

  // Kills what is left and removes the cgroup directories (retrying briefly while the kernel
  // lets go of exited members). Call after the build's process is reaped.
  ~BuildCgroup();
  BuildCgroup(const BuildCgroup&) = delete;
  BuildCgroup& operator=(const BuildCgroup&) = delete;

  // Open (O_WRONLY, O_CLOEXEC) cgroup.procs files: a child process joins by writing "0" to each,
  // which is async-signal-safe and so can happen between fork and exec.
  const std::vector<int>& procs_fds() const { return procs_fds_; }
  Version version() const { return version_; }

  // Processes killed by the OOM killer inside this cgroup so far.
  std::int64_t OomKills() const;
  // Forks refused because the process limit was reached.
  std::int64_t ProcessLimitHits() const;
  // SIGKILLs every member until none is left (bounded to a few seconds).
  void KillAll();

 private:
  BuildCgroup() = default;

  Version version_ = Version::kV1;
  // v2: one directory; v1: the memory directory, then the pids directory.
  std::vector<std::string> dirs_;
  std::vector<int> procs_fds_;
};

}  // namespace replideploy::sandbox
