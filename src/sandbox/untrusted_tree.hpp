// Reads a directory tree that untrusted code wrote (a checkout, a build's output) from trusted
// code running as root, without ever following a link the tree's owner planted.
//
// Every path is resolved beneath a directory descriptor with openat2(RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV): a symbolic link anywhere in a
// path, "..", an absolute path or a mount crossing makes the lookup fail instead of leaving the
// tree, and nothing is checked first and opened later (no window for a swapped link). Walk()
// publishes a link inside the tree only when it resolves beneath the tree's root (RESOLVE_BENEATH
// without NO_SYMLINKS), as Netlify does; links that lead out are skipped and reported.
//
// Thread-safety: const methods may be called concurrently; an object is used by one owner.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace replideploy::sandbox {

struct TreeLimits {
  std::int64_t max_files = 100'000;
  std::int64_t max_bytes = std::int64_t{4} << 30;  // sum of the files' sizes
  int max_depth = 64;
};

enum class EntryType { kMissing, kFile, kDirectory, kSymlink, kOther };

class UntrustedTree {
 public:
  // Opens `relative` (may be "" for the root itself; never absolute, no "..") beneath `root`, a
  // directory that trusted code made (itself opened without following a link). kNotFound when
  // missing; kUnprocessable when a component is a symbolic link (message names `what`, e.g.
  // "build.publish") or the last one is not a directory.
  static Result<UntrustedTree> Open(const std::string& root, std::string_view relative,
                                    std::string_view what = "folder");

  UntrustedTree(UntrustedTree&& other) noexcept;
  UntrustedTree& operator=(UntrustedTree&& other) noexcept;
  UntrustedTree(const UntrustedTree&) = delete;
  UntrustedTree& operator=(const UntrustedTree&) = delete;
  ~UntrustedTree();

  // The same beneath this tree.
  Result<UntrustedTree> Subtree(std::string_view relative, std::string_view what = "folder") const;

  // The open directory, for *at() calls with single names (renameat, fstatat with
  // AT_SYMLINK_NOFOLLOW), which never follow a link in that name. Owned by the tree.
  int fd() const { return fd_; }

  // What `relative` is, without following a link in any component (a link is kSymlink, a path
  // through a link is kMissing).
  EntryType Type(std::string_view relative) const;

  // A regular file's bytes; nullopt when missing, not a regular file, or reached through a
  // link. kUnprocessable when it is larger than `max_bytes`.
  Result<std::optional<std::string>> ReadFile(std::string_view relative,
                                              std::size_t max_bytes) const;

  struct File {
    std::string path;  // relative to the tree, '/'-separated, no leading '/'
    int fd;            // open for reading, valid during the callback only
    std::uint64_t size;
  };
  struct WalkOptions {
    TreeLimits limits;
    // Directories (relative paths) not to enter, e.g. ".git" or "node_modules".
    std::function<bool(std::string_view path)> skip_directory;
    // Told of every entry left out: devices, sockets, links that lead outside, too deep.
    std::function<void(std::string_view path, std::string_view reason)> on_skip;
  };
  // Calls `on_file` for every regular file, in sorted path order per directory. Links are
  // followed only when they resolve inside the tree (to a file, or a directory walked under the
  // link's name; loops are cut). kUnprocessable naming the limit when the tree has more files
  // or bytes than the limits allow; an error from `on_file` stops the walk and is returned.
  Status Walk(const WalkOptions& options, const std::function<Status(const File&)>& on_file) const;

 private:
  explicit UntrustedTree(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// openat2 beneath `dir_fd` with every link refused. -1 with errno set on failure.
int OpenBeneathNoLinks(int dir_fd, std::string_view relative, int flags);

}  // namespace replideploy::sandbox
