#include "sandbox/volume.hpp"

#include <fcntl.h>
#include <linux/loop.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "core/subprocess.hpp"
#include "core/unique_fd.hpp"

namespace replideploy::sandbox {

namespace {

namespace fs = std::filesystem;

constexpr const char* kMkfsCandidates[] = {"/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4"};
constexpr std::size_t kMaxToolOutput = std::size_t{16} * 1024;
constexpr std::int64_t kMinBytes = std::int64_t{16} << 20;
constexpr std::int64_t kMinInodes = 64;
// EXT4_IOC_SHUTDOWN and EXT4_GOING_FLAGS_NOLOGFLUSH (<linux/ext4.h> is missing from older headers).
constexpr unsigned long kExt4Shutdown = _IOR('X', 125, __u32);
constexpr __u32 kShutdownWithoutFlush = 0x2;
// Volumes created at the same moment race for the same free loop device; the loser asks again.
constexpr int kLoopAttempts = 16;

using core::UniqueFd;

std::string ErrnoText(int error) { return std::strerror(error); }

Error Internal(const std::string& what, int error) {
  return MakeError(ErrorCode::kInternal, what + ": " + ErrnoText(error));
}

Error Unavailable(std::string message) {
  return MakeError(ErrorCode::kUnavailable, "disk quota unavailable: " + std::move(message));
}

// The destructor and RemoveStaleVolumes report here; logging must not throw out of them.
template <typename... Args>
void Warn(spdlog::format_string_t<Args...> format, Args&&... args) noexcept {
  try {
    spdlog::warn(format, std::forward<Args>(args)...);
  } catch (...) {
  }
}

bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

Status CheckArguments(const std::string& image_path, const VolumeLimits& limits) {
  if (!EndsWith(image_path, kVolumeImageSuffix)) {
    return MakeError(ErrorCode::kInternal, "volume image " + image_path + " must end in " +
                                               std::string(kVolumeImageSuffix));
  }
  if (limits.bytes < kMinBytes || limits.inodes < kMinInodes) {
    return MakeError(ErrorCode::kInternal,
                     "volume limits too small: " + std::to_string(limits.bytes) + " bytes, " +
                         std::to_string(limits.inodes) + " inodes");
  }
  if (geteuid() != 0) return Unavailable("needs root");
  return {};
}

// Makes `path`, or accepts it when it is an empty directory already.
Status MakeMountDir(const std::string& path) {
  if (mkdir(path.c_str(), 0700) == 0) return {};
  const int error = errno;
  struct stat st {};
  if (error != EEXIST || lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Internal("making workspace " + path, error);
  }
  std::error_code ec;
  if (!fs::is_empty(path, ec) || ec) {
    return MakeError(ErrorCode::kInternal, "workspace " + path + " exists and is not empty");
  }
  return {};
}

Status MakeSparseImage(const std::string& path, std::int64_t bytes) {
  UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd.get() < 0) return Internal("creating volume image " + path, errno);
  if (ftruncate(fd.get(), bytes) != 0) {
    const int error = errno;
    unlink(path.c_str());
    return Internal("sizing volume image " + path, error);
  }
  return {};
}

// Runs a host tool with a fixed environment, no input, and none of our descriptors.
Result<core::ProcessResult> RunTool(const std::vector<std::string>& argv) {
  return core::RunProcess(
      {.argv = argv,
       .env = std::vector<std::string>{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"},
       .merge_stderr = true,
       .max_output = kMaxToolOutput,
       .close_other_fds = true,
       .reset_signals = true});
}

// Options chosen for creation time, which every build pays: no journal (a workspace need not
// survive a crash), no reserved blocks, no resize inode or backup superblocks, no discard pass,
// and inode tables left uninitialised (the image is sparse, so they read as zeros; noinit_itable
// at mount keeps the kernel from zeroing them in the background).
Status FormatImage(const std::string& image_path, const VolumeLimits& limits) {
  const char* mkfs = nullptr;
  for (const char* candidate : kMkfsCandidates) {
    if (access(candidate, X_OK) == 0) {
      mkfs = candidate;
      break;
    }
  }
  if (mkfs == nullptr) return Unavailable("mkfs.ext4 missing (apt-get install e2fsprogs)");
  // clang-format off
  const std::vector<std::string> argv = {
      mkfs, "-q", "-F", "-b", "4096", "-m", "0", "-N", std::to_string(limits.inodes),
      "-O", "^has_journal,^resize_inode,sparse_super2",
      "-E", "nodiscard,lazy_itable_init=1,num_backup_sb=0",
      image_path};
  // clang-format on
  RD_TRY(const core::ProcessResult run, RunTool(argv));
  if (run.exit_code != 0) {
    return MakeError(ErrorCode::kInternal,
                     "mkfs.ext4 failed (exit " + std::to_string(run.exit_code) + "): " + run.out);
  }
  return {};
}

// Returns 0 or the errno of the failure.
int BindLoop(int loop_fd, int backing_fd, const std::string& image_path) {
  loop_config config{};
  config.fd = static_cast<__u32>(backing_fd);
  config.info.lo_flags = LO_FLAGS_AUTOCLEAR;
  image_path.copy(reinterpret_cast<char*>(config.info.lo_file_name), LO_NAME_SIZE - 1);
  if (ioctl(loop_fd, LOOP_CONFIGURE, &config) == 0) return 0;
  if (errno != EINVAL && errno != ENOTTY) return errno;
  // Before Linux 5.8 there is no LOOP_CONFIGURE: bind, then set the flags.
  if (ioctl(loop_fd, LOOP_SET_FD, backing_fd) != 0) return errno;
  if (ioctl(loop_fd, LOOP_SET_STATUS64, &config.info) != 0) {
    const int error = errno;
    ioctl(loop_fd, LOOP_CLR_FD, 0);
    return error;
  }
  return 0;
}

struct LoopDevice {
  UniqueFd fd;
  std::string path;
};

// The device detaches itself (LO_FLAGS_AUTOCLEAR) once the returned descriptor is closed and no
// mount uses it any more, so neither a failed mount nor a crash leaves it bound.
Result<LoopDevice> AttachLoop(const std::string& image_path) {
  UniqueFd control(open("/dev/loop-control", O_RDWR | O_CLOEXEC));
  if (control.get() < 0) return Unavailable("/dev/loop-control: " + ErrnoText(errno));
  UniqueFd backing(open(image_path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
  if (backing.get() < 0) return Internal("opening volume image " + image_path, errno);
  for (int attempt = 0; attempt < kLoopAttempts; ++attempt) {
    const int index = ioctl(control.get(), LOOP_CTL_GET_FREE);
    if (index < 0) return Unavailable("no free loop device: " + ErrnoText(errno));
    LoopDevice device{UniqueFd(), "/dev/loop" + std::to_string(index)};
    device.fd = UniqueFd(open(device.path.c_str(), O_RDWR | O_CLOEXEC));
    if (device.fd.get() < 0) return Unavailable(device.path + ": " + ErrnoText(errno));
    const int error = BindLoop(device.fd.get(), backing.get(), image_path);
    if (error == 0) return device;
    if (error != EBUSY) return Internal("attaching " + device.path, error);
  }
  return Unavailable("no free loop device after " + std::to_string(kLoopAttempts) + " attempts");
}

Status MountVolume(const std::string& device, const std::string& mount_dir) {
  if (mount(device.c_str(), mount_dir.c_str(), "ext4", MS_NODEV | MS_NOSUID | MS_NOATIME,
            "noinit_itable") == 0) {
    return {};
  }
  const int error = errno;
  if (error == EPERM || error == EACCES || error == ENODEV) {
    return Unavailable("mounting ext4 from " + device + ": " + ErrnoText(error));
  }
  return Internal("mounting " + device + " on " + mount_dir, error);
}

Result<UniqueFd> GiveRootTo(const std::string& mount_dir, uid_t owner, gid_t group) {
  UniqueFd root(open(mount_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
  if (root.get() < 0) return Internal("opening " + mount_dir, errno);
  if (unlinkat(root.get(), "lost+found", AT_REMOVEDIR) != 0 && errno != ENOENT) {
    return Internal("removing lost+found", errno);
  }
  if (fchown(root.get(), owner, group) != 0) return Internal("chown " + mount_dir, errno);
  if (fchmod(root.get(), 0755) != 0) return Internal("chmod " + mount_dir, errno);
  return root;
}

// The image is deleted next, so whatever the build wrote that the kernel has not flushed yet need
// not reach the host's disk: shutting the file system down (as if the power went) makes
// unmounting write nothing. Processes still using it get EIO from now on.
void ShutDown(int root_fd) {
  __u32 flags = kShutdownWithoutFlush;
  if (ioctl(root_fd, kExt4Shutdown, &flags) != 0) {
    Warn("volume: shutting down file system: {}", ErrnoText(errno));
  }
}

// Unmounts `dir`, lazily when something still uses it. Returns false (and logs) on failure.
bool Unmount(const std::string& dir) {
  if (umount2(dir.c_str(), UMOUNT_NOFOLLOW) == 0) return true;
  if (errno == EBUSY && umount2(dir.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0) return true;
  Warn("volume: unmounting {}: {}", dir, ErrnoText(errno));
  return false;
}

std::string ReadSmallFile(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  std::getline(in, text);
  return text;
}

// "\040" in /proc/self/mountinfo is a space, and so on.
std::string UnescapeMountPath(const std::string& field) {
  const auto octal = [](char c) { return c >= '0' && c <= '7'; };
  std::string path;
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() && octal(field[i + 1]) && octal(field[i + 2]) &&
        octal(field[i + 3])) {
      path += static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                                (field[i + 3] - '0'));
      i += 3;
    } else {
      path += field[i];
    }
  }
  return path;
}

struct StaleLoop {
  std::string device;   // "/dev/loop3"
  std::string dev_num;  // "7:3", as in mountinfo
};

std::vector<StaleLoop> LoopsBackedByImagesIn(const fs::path& images_dir) {
  std::vector<StaleLoop> loops;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/sys/block", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("loop", 0) != 0) continue;
    std::string backing = ReadSmallFile(entry.path().string() + "/loop/backing_file");
    constexpr std::string_view kDeleted = " (deleted)";
    if (EndsWith(backing, kDeleted)) backing.resize(backing.size() - kDeleted.size());
    const fs::path backing_path(backing);
    if (backing.empty() || backing_path.parent_path() != images_dir ||
        !EndsWith(backing, kVolumeImageSuffix)) {
      continue;
    }
    loops.push_back({"/dev/" + name, ReadSmallFile(entry.path().string() + "/dev")});
  }
  return loops;
}

// Mount points (deepest first) of the file systems on `loops`.
std::vector<std::string> MountsOf(const std::vector<StaleLoop>& loops) {
  std::vector<std::string> mount_points;
  std::ifstream mountinfo("/proc/self/mountinfo");
  std::string line;
  while (std::getline(mountinfo, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev_num, root, mount_point;
    fields >> id >> parent >> dev_num >> root >> mount_point;
    for (const auto& loop : loops) {
      if (loop.dev_num == dev_num) mount_points.push_back(UnescapeMountPath(mount_point));
    }
  }
  std::reverse(mount_points.begin(), mount_points.end());
  return mount_points;
}

void RemoveStaleVolumesOrThrow(const std::string& images_dir) {
  std::error_code ec;
  const fs::path dir = fs::weakly_canonical(images_dir, ec);
  if (ec) return;
  const std::vector<StaleLoop> loops = LoopsBackedByImagesIn(dir);
  for (const auto& mount_point : MountsOf(loops)) {
    if (umount2(mount_point.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0) {
      Warn("volume: unmounting stale {}: {}", mount_point, ErrnoText(errno));
      continue;
    }
    rmdir(mount_point.c_str());  // fails, harmlessly, when something else is in it
  }
  for (const auto& loop : loops) {
    // Busy devices (a file still open on a lazily unmounted volume) are only marked to detach
    // themselves when their last user lets go.
    UniqueFd fd(open(loop.device.c_str(), O_RDWR | O_CLOEXEC));
    if (fd.get() >= 0 && ioctl(fd.get(), LOOP_CLR_FD, 0) != 0 && errno != ENXIO) {
      Warn("volume: detaching {}: {}", loop.device, ErrnoText(errno));
    }
  }
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file(ec) || !EndsWith(entry.path().string(), kVolumeImageSuffix)) {
      continue;
    }
    if (unlink(entry.path().c_str()) != 0) {
      Warn("volume: removing stale image {}: {}", entry.path().string(), ErrnoText(errno));
    }
  }
}

}  // namespace

WorkspaceVolume::WorkspaceVolume(std::string mount_dir, std::string image_path)
    : mount_dir_(std::move(mount_dir)), image_path_(std::move(image_path)) {}

Result<std::unique_ptr<WorkspaceVolume>> WorkspaceVolume::Create(const std::string& mount_dir,
                                                                 const std::string& image_path,
                                                                 const VolumeLimits& limits,
                                                                 uid_t owner, gid_t group) {
  try {
    RD_TRY_STATUS(CheckArguments(image_path, limits));
    // From here on, the destructor of `volume` undoes whatever the flags say was done.
    std::unique_ptr<WorkspaceVolume> volume(new WorkspaceVolume(mount_dir, image_path));
    RD_TRY_STATUS(MakeMountDir(mount_dir));
    volume->made_mount_dir_ = true;
    RD_TRY_STATUS(MakeSparseImage(image_path, limits.bytes));
    volume->made_image_ = true;
    RD_TRY_STATUS(FormatImage(image_path, limits));
    RD_TRY(const LoopDevice loop, AttachLoop(image_path));
    RD_TRY_STATUS(MountVolume(loop.path, mount_dir));
    volume->mounted_ = true;
    volume->loop_device_ = loop.path;
    RD_TRY(UniqueFd root, GiveRootTo(mount_dir, owner, group));
    volume->root_fd_ = root.Release();
    return volume;
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInternal, std::string("creating volume: ") + e.what());
  }
}

WorkspaceVolume::~WorkspaceVolume() {
  if (root_fd_ >= 0) {
    ShutDown(root_fd_);
    close(root_fd_);
  }
  if (mounted_) Unmount(mount_dir_);
  if (made_image_ && unlink(image_path_.c_str()) != 0) {
    Warn("volume: removing image {}: {}", image_path_, ErrnoText(errno));
  }
  if (made_mount_dir_ && rmdir(mount_dir_.c_str()) != 0) {
    Warn("volume: removing {}: {}", mount_dir_, ErrnoText(errno));
  }
}

Result<VolumeUsage> WorkspaceVolume::Usage() const {
  struct statvfs st {};
  if (fstatvfs(root_fd_, &st) != 0) return Internal("statvfs " + mount_dir_, errno);
  VolumeUsage usage;
  usage.bytes = static_cast<std::int64_t>((st.f_blocks - st.f_bfree) * st.f_frsize);
  usage.inodes = static_cast<std::int64_t>(st.f_files - st.f_ffree);
  return usage;
}

void RemoveStaleVolumes(const std::string& images_dir) {
  try {
    RemoveStaleVolumesOrThrow(images_dir);
  } catch (const std::exception& e) {
    Warn("volume: removing stale volumes in {}: {}", images_dir, e.what());
  }
}

}  // namespace replideploy::sandbox
