#include "sandbox/cgroup.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <sstream>
#include <string_view>
#include <thread>

namespace replideploy::sandbox {

namespace {

bool IsFsType(const std::string& path, long magic) {
  struct statfs st {};
  if (statfs(path.c_str(), &st) != 0) return false;
  return static_cast<long>(st.f_type) == magic;
}

// POSIX reads: /proc and cgroup files of exiting processes fail with ESRCH, which std::ifstream
// reports by throwing.
std::string ReadSmallFile(const std::string& path) {
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

bool WriteFile(const std::string& path, const std::string& value) {
  const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const ssize_t n = write(fd, value.data(), value.size());
  close(fd);
  return n == static_cast<ssize_t>(value.size());
}

// Value of `key` in a flat-keyed file ("oom_kill 3"), 0 when absent.
std::int64_t ReadKey(const std::string& path, std::string_view key) {
  std::istringstream in(ReadSmallFile(path));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string name;
    std::int64_t value = 0;
    if (fields >> name >> value && name == key) return value;
  }
  return 0;
}

// This process's cgroup path in the hierarchy that carries `controller` ("" = the v2 one).
std::string OwnCgroupPath(std::string_view controller) {
  std::istringstream in(ReadSmallFile("/proc/self/cgroup"));
  std::string line;
  while (std::getline(in, line)) {
    const std::size_t first = line.find(':');
    const std::size_t second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string_view controllers =
        std::string_view(line).substr(first + 1, second - first - 1);
    bool match = controller.empty() ? controllers.empty() : false;
    std::size_t pos = 0;
    while (!controller.empty() && pos <= controllers.size()) {
      std::size_t comma = controllers.find(',', pos);
      if (comma == std::string_view::npos) comma = controllers.size();
      if (controllers.substr(pos, comma - pos) == controller) match = true;
      pos = comma + 1;
    }
    if (match) {
      std::string path = line.substr(second + 1);
      if (path == "/") path.clear();
      return path;
    }
  }
  return {};
}

std::vector<pid_t> Members(const std::string& dir) {
  std::vector<pid_t> pids;
  std::istringstream in(ReadSmallFile(dir + "/cgroup.procs"));
  pid_t pid = 0;
  while (in >> pid) pids.push_back(pid);
  return pids;
}

// Zombies stay listed until reaped (by us, or by their pid namespace's init) and cannot be killed.
bool IsZombie(pid_t pid) {
  const std::string stat = ReadSmallFile("/proc/" + std::to_string(pid) + "/stat");
  const std::size_t paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] == 'Z';
}

}  // namespace

std::unique_ptr<BuildCgroup> BuildCgroup::Create(const std::string& cgroup_root,
                                                 const std::string& name, std::int64_t memory_bytes,
                                                 int max_processes, double cpus) {
  constexpr std::int64_t kCpuPeriodMicros = 100'000;
  const std::int64_t cpu_quota = static_cast<std::int64_t>(cpus * kCpuPeriodMicros);
  if (cgroup_root.empty()) return nullptr;
  std::unique_ptr<BuildCgroup> cgroup(new BuildCgroup());
  bool ok = false;
  if (IsFsType(cgroup_root, CGROUP2_SUPER_MAGIC)) {
    cgroup->version_ = Version::kV2;
    const std::string parent = cgroup_root + OwnCgroupPath("");
    // Fails (EBUSY) when the parent holds processes and is not the root; then memory.max is
    // missing in the child and we give up on v2.
    WriteFile(parent + "/cgroup.subtree_control",
              cpus > 0 ? "+memory +pids +cpu" : "+memory +pids");
    const std::string dir = parent + "/" + name;
    if (mkdir(dir.c_str(), 0755) == 0) {
      cgroup->dirs_.push_back(dir);
      ok = WriteFile(dir + "/memory.max", std::to_string(memory_bytes)) &&
           WriteFile(dir + "/pids.max", std::to_string(max_processes));
      WriteFile(dir + "/memory.swap.max", "0");
      if (ok && cpu_quota > 0) {
        ok = WriteFile(dir + "/cpu.max",
                       std::to_string(cpu_quota) + " " + std::to_string(kCpuPeriodMicros));
      }
    }
  } else {
    cgroup->version_ = Version::kV1;
    ok = true;
    for (const char* controller : {"memory", "pids"}) {
      const std::string mount = cgroup_root + "/" + controller;
      if (!IsFsType(mount, CGROUP_SUPER_MAGIC)) {
        ok = false;
        break;
      }
      const std::string dir = mount + OwnCgroupPath(controller) + "/" + name;
      if (mkdir(dir.c_str(), 0755) != 0) {
        ok = false;
        break;
      }
      cgroup->dirs_.push_back(dir);
    }
    if (ok) {
      const std::string& memory = cgroup->dirs_[0];
      ok = WriteFile(memory + "/memory.limit_in_bytes", std::to_string(memory_bytes)) &&
           WriteFile(cgroup->dirs_[1] + "/pids.max", std::to_string(max_processes));
      // No swap past the limit; absent without swap accounting, which is fine.
      WriteFile(memory + "/memory.memsw.limit_in_bytes", std::to_string(memory_bytes));
    }
    // CPU is a third hierarchy, made only when a share is asked for.
    if (ok && cpu_quota > 0) {
      const std::string mount = cgroup_root + "/cpu";
      const std::string dir = mount + OwnCgroupPath("cpu") + "/" + name;
      ok = IsFsType(mount, CGROUP_SUPER_MAGIC) && mkdir(dir.c_str(), 0755) == 0;
      if (ok) {
        cgroup->dirs_.push_back(dir);
        ok = WriteFile(dir + "/cpu.cfs_period_us", std::to_string(kCpuPeriodMicros)) &&
             WriteFile(dir + "/cpu.cfs_quota_us", std::to_string(cpu_quota));
      }
    }
  }
  if (ok) {
    for (const std::string& dir : cgroup->dirs_) {
      const int fd = open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0) {
        ok = false;
        break;
      }
      cgroup->procs_fds_.push_back(fd);
    }
  }
  if (!ok) return nullptr;  // the destructor removes what was made
  return cgroup;
}

BuildCgroup::~BuildCgroup() {
  for (const int fd : procs_fds_) close(fd);
  KillAll();
  for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
    for (int attempt = 0; attempt < 100; ++attempt) {
      if (rmdir(it->c_str()) == 0 || errno == ENOENT) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

std::int64_t BuildCgroup::OomKills() const {
  if (dirs_.empty()) return 0;
  if (version_ == Version::kV2) return ReadKey(dirs_[0] + "/memory.events", "oom_kill");
  return ReadKey(dirs_[0] + "/memory.oom_control", "oom_kill");
}

std::int64_t BuildCgroup::ProcessLimitHits() const {
  if (dirs_.empty()) return 0;
  return ReadKey(dirs_.back() + "/pids.events", "max");
}

void BuildCgroup::KillAll() {
  if (dirs_.empty()) return;
  if (version_ == Version::kV2 && WriteFile(dirs_[0] + "/cgroup.kill", "1")) return;
  // v1 has no cgroup.kill: kill until nothing is left. The process limit bounds how many new
  // members a fork bomb can make between two rounds.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (std::chrono::steady_clock::now() < deadline) {
    bool any = false;
    for (const std::string& dir : dirs_) {
      for (const pid_t pid : Members(dir)) {
        if (pid > 0 && !IsZombie(pid)) {
          kill(pid, SIGKILL);
          any = true;
        }
      }
    }
    if (!any) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace replideploy::sandbox
