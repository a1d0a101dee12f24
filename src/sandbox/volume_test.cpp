#include "sandbox/volume.hpp"

#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace replideploy::sandbox {
namespace {

namespace fs = std::filesystem;

// The build user of these tests: nobody.
constexpr uid_t kUser = 65534;
constexpr gid_t kGroup = 65534;
constexpr std::int64_t kMiB = std::int64_t{1} << 20;
constexpr std::int64_t kQuotaBytes = 64 * kMiB;
constexpr std::int64_t kQuotaInodes = 2048;
// Child exit codes besides errno values.
constexpr int kReachedCap = 250;  // the test's own safety cap: nothing stopped the writes
constexpr int kCouldNotDrop = 251;

// Runs `body` in a forked child as kUser:kGroup and returns its exit code (-1 on a signal).
// `body` should only make system calls: the child of a threaded process must not allocate.
int RunAsUser(const std::function<int()>& body) {
  const pid_t pid = fork();
  if (pid == 0) {
    if (setgroups(0, nullptr) != 0 || setgid(kGroup) != 0 || setuid(kUser) != 0) {
      _exit(kCouldNotDrop);
    }
    _exit(body());
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

struct MountEntry {
  std::string mount_options;
  std::string fs_type;
  std::string source;
};

std::optional<MountEntry> FindMount(const std::string& mount_point) {
  std::ifstream mountinfo("/proc/self/mountinfo");
  std::string line;
  while (std::getline(mountinfo, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev_num, root, point, options, field;
    fields >> id >> parent >> dev_num >> root >> point >> options;
    if (point != mount_point) continue;
    while (fields >> field && field != "-") {
    }
    MountEntry entry;
    entry.mount_options = options;
    fields >> entry.fs_type >> entry.source;
    return entry;
  }
  return std::nullopt;
}

bool HasOption(const std::string& options, const std::string& option) {
  return ("," + options + ",").find("," + option + ",") != std::string::npos;
}

// Loop devices whose backing file is `image` (deleted or not).
std::vector<std::string> LoopsBackedBy(const std::string& image) {
  std::vector<std::string> loops;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/sys/block", ec)) {
    std::ifstream in(entry.path() / "loop" / "backing_file");
    std::string backing;
    std::getline(in, backing);
    if (backing == image || backing == image + " (deleted)") {
      loops.push_back(entry.path().filename().string());
    }
  }
  return loops;
}

// The loop driver may detach an autoclear device a moment after its last user let go.
bool NoLoopBackedBySoon(const std::string& image) {
  for (int i = 0; i < 100; ++i) {
    if (LoopsBackedBy(image).empty()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

std::int64_t FreeBytes(const std::string& path) {
  struct statvfs st {};
  if (statvfs(path.c_str(), &st) != 0) return -1;
  return static_cast<std::int64_t>(st.f_bavail * st.f_frsize);
}

std::int64_t AllocatedBytes(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return -1;
  return static_cast<std::int64_t>(st.st_blocks) * 512;
}

// Why volumes cannot be made here, or "" when they can (asked once: one volume is made).
const std::string& UnavailableReason() {
  static const std::string reason = [] {
    if (geteuid() != 0) return std::string("volume tests need root (CI runs them as root)");
    if (access("/dev/loop-control", R_OK | W_OK) != 0) {
      return std::string("no /dev/loop-control: volume tests need loop devices");
    }
    char base[] = "/tmp/rd-volume-probe-XXXXXX";
    if (mkdtemp(base) == nullptr) return std::string("mkdtemp failed");
    std::string why;
    {
      auto volume = WorkspaceVolume::Create(std::string(base) + "/ws",
                                            std::string(base) + "/probe.img", {}, kUser, kGroup);
      if (!volume.ok()) why = "cannot create volumes here: " + volume.error().message;
    }
    fs::remove_all(base);
    return why;
  }();
  return reason;
}

class Volume : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!UnavailableReason().empty()) GTEST_SKIP() << UnavailableReason();
    char base[] = "/tmp/rd-volume-test-XXXXXX";
    ASSERT_NE(mkdtemp(base), nullptr);
    base_ = base;
    chmod(base_.c_str(), 0755);  // the build user reaches its workspace
    images_ = base_ + "/images";
    ASSERT_EQ(mkdir(images_.c_str(), 0700), 0);
  }
  void TearDown() override {
    if (base_.empty()) return;
    RemoveStaleVolumes(images_);
    std::error_code ec;
    fs::remove_all(base_, ec);
  }

  std::unique_ptr<WorkspaceVolume> MakeVolume(const std::string& name,
                                              VolumeLimits limits = {kQuotaBytes, kQuotaInodes}) {
    auto volume =
        WorkspaceVolume::Create(base_ + "/" + name, ImagePath(name), limits, kUser, kGroup);
    EXPECT_TRUE(volume.ok()) << volume.error().message;
    return volume.ok() ? std::move(volume).value() : nullptr;
  }
  std::string ImagePath(const std::string& name) const { return images_ + "/" + name + ".img"; }

  std::string base_;
  std::string images_;
};

TEST_F(Volume, DiskFillerStopsAtTheQuota) {
  auto volume = MakeVolume("ws");
  ASSERT_TRUE(volume);
  const std::string file = volume->path() + "/filler";
  sync();
  const std::int64_t host_free_before = FreeBytes(base_);

  const int result = RunAsUser([&] {
    const int fd = open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) return errno;
    static char chunk[1 << 20];
    std::memset(chunk, 'x', sizeof chunk);
    for (std::int64_t written = 0; written < 2 * kQuotaBytes;) {
      const ssize_t n = write(fd, chunk, sizeof chunk);
      if (n < 0) return errno;
      written += n;
    }
    return kReachedCap;
  });
  EXPECT_EQ(result, ENOSPC);

  struct stat st {};
  ASSERT_EQ(stat(file.c_str(), &st), 0);
  EXPECT_LE(st.st_size, kQuotaBytes);
  EXPECT_GE(st.st_size, kQuotaBytes * 8 / 10) << "the file system wastes too much of the quota";
  sync();
  EXPECT_LE(AllocatedBytes(ImagePath("ws")), kQuotaBytes);
  // Other processes share the host's disk: allow them some slack.
  EXPECT_LE(host_free_before - FreeBytes(base_), kQuotaBytes + 32 * kMiB);
  auto usage = volume->Usage();
  ASSERT_TRUE(usage.ok());
  EXPECT_GE(usage->bytes, st.st_size);
}

TEST_F(Volume, SparseTebibyteFileCostsNothing) {
  auto volume = MakeVolume("ws");
  ASSERT_TRUE(volume);
  const std::string file = volume->path() + "/sparse";
  const std::int64_t image_before = AllocatedBytes(ImagePath("ws"));

  const int result = RunAsUser([&] {
    const int fd = open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) return errno;
    if (ftruncate(fd, std::int64_t{1} << 40) != 0) return errno;
    return close(fd) == 0 ? 0 : errno;
  });
  // ext4 allows files of up to 16 TiB, so the sparse file is made; failing cleanly
  // (EFBIG) would do too.
  EXPECT_TRUE(result == 0 || result == EFBIG) << result;
  if (result == 0) {
    struct stat st {};
    ASSERT_EQ(stat(file.c_str(), &st), 0);
    EXPECT_EQ(st.st_size, std::int64_t{1} << 40);
    EXPECT_EQ(st.st_blocks, 0);
  }
  sync();
  EXPECT_LE(AllocatedBytes(ImagePath("ws")) - image_before, kMiB);
}

TEST_F(Volume, FallocateBeyondTheQuotaFails) {
  auto volume = MakeVolume("ws");
  ASSERT_TRUE(volume);
  const std::string file = volume->path() + "/reserved";

  const int result = RunAsUser([&] {
    const int fd = open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) return errno;
    if (fallocate(fd, 0, 0, kQuotaBytes / 2) != 0) return 100 + errno;  // within: fine
    if (fallocate(fd, 0, 0, 2 * kQuotaBytes) == 0) return kReachedCap;
    return errno;
  });
  EXPECT_EQ(result, ENOSPC);
  sync();
  EXPECT_LE(AllocatedBytes(ImagePath("ws")), kQuotaBytes);
}

TEST_F(Volume, CreatingFilesStopsAtTheInodeLimit) {
  auto volume = MakeVolume("ws");
  ASSERT_TRUE(volume);
  const std::string dir = volume->path();

  const int result = RunAsUser([&] {
    const int dir_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (dir_fd < 0) return errno;
    char name[32];
    for (int created = 0; created < 2 * kQuotaInodes; ++created) {
      std::snprintf(name, sizeof name, "f%d", created);
      const int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL, 0644);
      if (fd < 0) return errno;
      close(fd);
    }
    return kReachedCap;
  });
  EXPECT_TRUE(result == ENOSPC || result == EDQUOT) << result;
  std::int64_t files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir)) ++files;
  EXPECT_LE(files, kQuotaInodes);
  EXPECT_GE(files, kQuotaInodes - 16);
  auto usage = volume->Usage();
  ASSERT_TRUE(usage.ok());
  EXPECT_GE(usage->inodes, files);
}

TEST_F(Volume, RootBelongsToTheOwnerAndDevicesAndSetuidAreOff) {
  auto volume = MakeVolume("ws");
  ASSERT_TRUE(volume);
  struct stat st {};
  ASSERT_EQ(stat(volume->path().c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kUser);
  EXPECT_EQ(st.st_gid, kGroup);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  EXPECT_FALSE(fs::exists(volume->path() + "/lost+found"));
  EXPECT_EQ(RunAsUser([&] { return access(volume->path().c_str(), W_OK) == 0 ? 0 : errno; }), 0);

  const auto mount = FindMount(volume->path());
  ASSERT_TRUE(mount.has_value()) << "not a mount point";
  EXPECT_EQ(mount->fs_type, "ext4");
  EXPECT_EQ(mount->source, volume->loop_device());
  EXPECT_TRUE(HasOption(mount->mount_options, "nodev")) << mount->mount_options;
  EXPECT_TRUE(HasOption(mount->mount_options, "nosuid")) << mount->mount_options;
  EXPECT_TRUE(HasOption(mount->mount_options, "noatime")) << mount->mount_options;

  // Even root cannot use a device node made in the workspace: /dev/null's numbers.
  const std::string node = volume->path() + "/null";
  ASSERT_EQ(mknod(node.c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
  const int fd = open(node.c_str(), O_WRONLY);
  EXPECT_LT(fd, 0);
  EXPECT_EQ(errno, EACCES);
  if (fd >= 0) close(fd);
}

TEST_F(Volume, DestructionLeavesNothing) {
  auto volume = MakeVolume("ws");
  ASSERT_TRUE(volume);
  const std::string path = volume->path();
  ASSERT_EQ(LoopsBackedBy(ImagePath("ws")).size(), 1u);
  ASSERT_TRUE(FindMount(path).has_value());

  volume.reset();
  EXPECT_FALSE(FindMount(path).has_value());
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(ImagePath("ws")));
  EXPECT_TRUE(NoLoopBackedBySoon(ImagePath("ws")));
}

TEST_F(Volume, DestructionWhileAFileIsOpenUnmountsLazily) {
  auto volume = MakeVolume("ws");
  ASSERT_TRUE(volume);
  const std::string path = volume->path();
  const int fd = open((path + "/held").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);

  volume.reset();
  EXPECT_FALSE(FindMount(path).has_value());
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(ImagePath("ws")));
  // The detached file system lives on for the open file, its loop device with it, but it is
  // shut down.
  EXPECT_EQ(LoopsBackedBy(ImagePath("ws")).size(), 1u);
  EXPECT_EQ(write(fd, "x", 1), -1);
  EXPECT_EQ(errno, EIO);
  close(fd);
  EXPECT_TRUE(NoLoopBackedBySoon(ImagePath("ws")));
}

TEST_F(Volume, DestructionWritesNothingBack) {
  auto volume = MakeVolume("ws");
  ASSERT_TRUE(volume);
  // Held open to see how much of the image was written after it is deleted.
  const int image_fd = open(ImagePath("ws").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(image_fd, 0);
  {
    std::ofstream out(volume->path() + "/data");
    out << std::string(32 * kMiB, 'x');
  }

  volume.reset();
  EXPECT_TRUE(NoLoopBackedBySoon(ImagePath("ws")));
  struct stat st {};
  ASSERT_EQ(fstat(image_fd, &st), 0);
  close(image_fd);
  EXPECT_LT(st.st_blocks * 512, 4 * kMiB) << "unmounting flushed data into a deleted image";
}

TEST_F(Volume, RemoveStaleVolumesCleansUpAfterACrash) {
  const std::string path = base_ + "/ws";
  // A server that made a volume and died without destroying it.
  const pid_t pid = fork();
  if (pid == 0) {
    auto volume =
        WorkspaceVolume::Create(path, ImagePath("ws"), {kQuotaBytes, kQuotaInodes}, kUser, kGroup);
    _exit(volume.ok() ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_TRUE(FindMount(path).has_value());
  ASSERT_TRUE(fs::exists(ImagePath("ws")));
  ASSERT_EQ(LoopsBackedBy(ImagePath("ws")).size(), 1u);
  // A file that is not an image stays.
  std::ofstream(images_ + "/notes.txt") << "keep";

  RemoveStaleVolumes(images_);
  EXPECT_FALSE(FindMount(path).has_value());
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(ImagePath("ws")));
  EXPECT_TRUE(fs::exists(images_ + "/notes.txt"));
  EXPECT_TRUE(NoLoopBackedBySoon(ImagePath("ws")));
}

TEST_F(Volume, FailedCreateLeavesNothing) {
  // An image that exists already: the mount directory made for it is removed again.
  std::ofstream(ImagePath("taken")) << "";
  auto taken = WorkspaceVolume::Create(base_ + "/ws", ImagePath("taken"), {}, kUser, kGroup);
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.error().code, ErrorCode::kInternal);
  EXPECT_FALSE(fs::exists(base_ + "/ws"));
  EXPECT_TRUE(fs::exists(ImagePath("taken")));

  // A workspace that is not empty: no image is left.
  ASSERT_TRUE(fs::create_directory(base_ + "/full"));
  std::ofstream(base_ + "/full/file") << "x";
  auto full = WorkspaceVolume::Create(base_ + "/full", ImagePath("full"), {}, kUser, kGroup);
  ASSERT_FALSE(full.ok());
  EXPECT_FALSE(fs::exists(ImagePath("full")));

  // mkfs refusing the limits (more inodes than blocks): its message comes back.
  auto bad = WorkspaceVolume::Create(base_ + "/bad", ImagePath("bad"), {kQuotaBytes, 1LL << 30},
                                     kUser, kGroup);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("mkfs.ext4"), std::string::npos) << bad.error().message;
  EXPECT_FALSE(fs::exists(base_ + "/bad"));
  EXPECT_FALSE(fs::exists(ImagePath("bad")));
  EXPECT_TRUE(LoopsBackedBy(ImagePath("bad")).empty());
}

TEST_F(Volume, ConcurrentCreatesGetTheirOwnLoopDevices) {
  constexpr int kVolumes = 6;
  std::vector<std::unique_ptr<WorkspaceVolume>> volumes(kVolumes);
  std::vector<std::string> errors(kVolumes);
  std::vector<std::thread> threads;
  for (int i = 0; i < kVolumes; ++i) {
    threads.emplace_back([&, i] {
      const std::string name = "ws" + std::to_string(i);
      auto volume = WorkspaceVolume::Create(base_ + "/" + name, ImagePath(name),
                                            {kQuotaBytes, kQuotaInodes}, kUser, kGroup);
      if (volume.ok()) {
        volumes[i] = std::move(volume).value();
      } else {
        errors[i] = volume.error().message;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  std::vector<std::string> devices;
  for (int i = 0; i < kVolumes; ++i) {
    ASSERT_TRUE(volumes[i]) << errors[i];
    EXPECT_TRUE(FindMount(volumes[i]->path()).has_value());
    devices.push_back(volumes[i]->loop_device());
  }
  std::sort(devices.begin(), devices.end());
  EXPECT_EQ(std::unique(devices.begin(), devices.end()), devices.end());
}

TEST_F(Volume, AcceptsAnExistingEmptyDirectory) {
  ASSERT_TRUE(fs::create_directory(base_ + "/ws"));
  auto volume = MakeVolume("ws");
  ASSERT_TRUE(volume);
  EXPECT_TRUE(FindMount(base_ + "/ws").has_value());
}

TEST_F(Volume, UnavailableWithoutRoot) {
  const std::string path = base_ + "/ws";
  const std::string image = ImagePath("ws");
  const int result = RunAsUser([&] {
    auto volume = WorkspaceVolume::Create(path, image, {}, kUser, kGroup);
    return !volume.ok() && volume.error().code == ErrorCode::kUnavailable ? 0 : 1;
  });
  EXPECT_EQ(result, 0);
  EXPECT_FALSE(fs::exists(path));
}

TEST_F(Volume, UsageCountsWhatIsWritten) {
  auto volume = MakeVolume("ws");
  ASSERT_TRUE(volume);
  auto before = volume->Usage();
  ASSERT_TRUE(before.ok());
  {
    std::ofstream out(volume->path() + "/data");
    out << std::string(4 * kMiB, 'x');
  }
  sync();
  auto after = volume->Usage();
  ASSERT_TRUE(after.ok());
  EXPECT_GE(after->bytes - before->bytes, 4 * kMiB);
  EXPECT_EQ(after->inodes - before->inodes, 1);
}

// Every build pays this: report it, and catch a regression (e.g. a full mkfs) coarsely.
TEST_F(Volume, TenGibibyteCreateAndDestroyIsQuick) {
  constexpr int kRounds = 5;
  std::vector<std::int64_t> ms;
  for (int i = 0; i < kRounds; ++i) {
    const auto start = std::chrono::steady_clock::now();
    {
      auto volume = MakeVolume("ws", {std::int64_t{10} << 30, 1'000'000});
      ASSERT_TRUE(volume);
    }
    ms.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - start)
                     .count());
  }
  std::sort(ms.begin(), ms.end());
  std::cout << "10 GiB volume create+destroy: min " << ms.front() << " ms, median "
            << ms[kRounds / 2] << " ms, max " << ms.back() << " ms\n";
  EXPECT_LT(ms[kRounds / 2], 2000);
}

}  // namespace
}  // namespace replideploy::sandbox
