// A disk quota for one build's workspace: the workspace is a fresh ext4 file system of a fixed
// size in a sparse image file, loop-mounted on the workspace directory.
//
// Everything the build can do to the disk (writes, fallocate, new files) is bounded by that file
// system's own size and inode count, while sparse files cost nothing. The image grows on the host
// only as blocks are really written, so the host's disk use is at most `VolumeLimits::bytes` per
// volume. (The host must have that much free: if it runs out first, the build's writes fail with
// EIO instead of ENOSPC, but the host is no fuller than without a quota.)
//
// Needs root, /dev/loop-control, ext4 and mkfs.ext4 (e2fsprogs); without them Create() says
// kUnavailable and the caller runs the build in a plain directory, without a quota.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace replideploy::sandbox {

// Image files end in this; RemoveStaleVolumes touches no other file.
inline constexpr std::string_view kVolumeImageSuffix = ".img";

struct VolumeLimits {
  // Size of the file system, its own metadata included (2.5% at the defaults).
  std::int64_t bytes = std::int64_t{10} << 30;
  // Files, directories and symlinks; mkfs rounds up a little to fill its block groups.
  std::int64_t inodes = 1'000'000;
};

struct VolumeUsage {
  std::int64_t bytes = 0;   // in blocks in use: data, directories, extent trees
  std::int64_t inodes = 0;  // inodes in use (the root and a few reserved ones count)
};

// One mounted workspace volume. Thread-safety: distinct instances may be used concurrently (also
// created and destroyed); one instance's const methods may be called from several threads.
class WorkspaceVolume {
 public:
  // Creates `mount_dir` (its parent must exist; it must not exist or be an empty directory),
  // makes a sparse image file `image_path` (must not exist, must end in kVolumeImageSuffix; its
  // directory should be reachable by root only) of `limits.bytes`, formats it ext4 (no journal, no
  // reserved blocks, inode count from `limits`, lazy inode tables), loop-mounts it on `mount_dir`
  // with nodev,nosuid,noatime and gives the file system's root (mode 0755, no lost+found) to
  // `owner`:`group`. Errors: kUnavailable when not root, no loop device can be had, mkfs.ext4 is
  // missing or the kernel refuses the mount (no ext4, no CAP_SYS_ADMIN); kInternal otherwise (bad
  // limits, an existing image, mkfs failing, with its stderr). On any error nothing made here is
  // left.
  static Result<std::unique_ptr<WorkspaceVolume>> Create(const std::string& mount_dir,
                                                         const std::string& image_path,
                                                         const VolumeLimits& limits, uid_t owner,
                                                         gid_t group);

  // Shuts the file system down (data not yet written back is dropped rather than written into
  // an image about to be deleted; processes still using the volume get EIO from then on),
  // unmounts it (lazily when still in use: it then vanishes, and its loop device detaches itself,
  // when the last user lets go), deletes the image and removes the mount directory. Failures are
  // logged. Never throws.
  ~WorkspaceVolume();
  WorkspaceVolume(const WorkspaceVolume&) = delete;
  WorkspaceVolume& operator=(const WorkspaceVolume&) = delete;

  // The mount directory, i.e. the workspace to hand to the runner.
  const std::string& path() const { return mount_dir_; }
  // The loop device in use ("/dev/loop3"), for logs and tests.
  const std::string& loop_device() const { return loop_device_; }

  // What is used now (statvfs), for the build log. kInternal if the kernel says no.
  Result<VolumeUsage> Usage() const;

 private:
  WorkspaceVolume(std::string mount_dir, std::string image_path);

  std::string mount_dir_;
  std::string image_path_;
  std::string loop_device_;
  // An open descriptor of the file system's root: Usage() never resolves a path the build can
  // change. Closed before unmounting.
  int root_fd_ = -1;
  bool made_mount_dir_ = false;
  bool made_image_ = false;
  bool mounted_ = false;
};

// Undoes what a crashed server left behind: unmounts (lazily) every file system whose loop
// device is backed by an image (a file ending in kVolumeImageSuffix) directly in `images_dir`,
// removes those mount directories when empty, detaches the loop devices and deletes the images.
// Call at start, before any volume is created. Best effort: failures are logged. Never throws.
void RemoveStaleVolumes(const std::string& images_dir);

}  // namespace replideploy::sandbox
