#include "sandbox/untrusted_tree.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <utility>
#include <vector>

#include "core/unique_fd.hpp"

namespace replideploy::sandbox {

namespace {

constexpr std::uint64_t kNoLinks =
    RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
// Links may be followed as long as resolution never leaves the directory.
constexpr std::uint64_t kLinksBeneath = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;

int OpenAt2(int dir_fd, const std::string& path, int flags, std::uint64_t resolve) {
  open_how how{};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
  how.resolve = resolve;
  int fd = -1;
  do {
    fd = static_cast<int>(syscall(SYS_openat2, dir_fd, path.c_str(), &how, sizeof how));
  } while (fd < 0 && (errno == EINTR || errno == EAGAIN));
  return fd;
}

using core::UniqueFd;

// "" and "." name the directory itself; otherwise relative, without "..".
Result<std::string> CleanRelative(std::string_view relative, std::string_view what) {
  std::string out;
  std::size_t start = 0;
  while (start <= relative.size()) {
    const std::size_t slash = std::min(relative.find('/', start), relative.size());
    const std::string_view part = relative.substr(start, slash - start);
    if (part == "..") {
      return MakeError(ErrorCode::kUnprocessable,
                       std::string(what) + " '" + std::string(relative) +
                           "' must be a folder inside the repository (no \"..\")");
    }
    if (!part.empty() && part != ".") {
      if (!out.empty()) out += '/';
      out += part;
    }
    start = slash + 1;
  }
  if (!relative.empty() && relative.front() == '/') {
    return MakeError(ErrorCode::kUnprocessable, std::string(what) + " '" + std::string(relative) +
                                                    "' must be relative to the repository");
  }
  if (relative.find('\0') != std::string_view::npos) {
    return MakeError(ErrorCode::kUnprocessable, std::string(what) + " contains a NUL byte");
  }
  return out.empty() ? std::string(".") : out;
}

Result<int> OpenDirectory(int dir_fd, std::string_view relative, std::string_view what) {
  RD_TRY(std::string clean, CleanRelative(relative, what));
  const int fd = OpenAt2(dir_fd, clean, O_RDONLY | O_DIRECTORY, kNoLinks);
  if (fd >= 0) return fd;
  const std::string name = "'" + std::string(relative) + "'";
  switch (errno) {
    case ENOENT:
      return MakeError(ErrorCode::kNotFound, std::string(what) + " " + name + " does not exist");
    case ELOOP:
    case EXDEV:
      return MakeError(ErrorCode::kUnprocessable,
                       std::string(what) + " " + name +
                           " is or passes through a symbolic link (not followed, for safety)");
    case ENOTDIR:
      return MakeError(ErrorCode::kUnprocessable,
                       std::string(what) + " " + name + " is not a folder");
    default:
      return MakeError(ErrorCode::kInternal, "cannot open " + std::string(what) + " " + name +
                                                 ": " + std::strerror(errno));
  }
}

struct Walker {
  const UntrustedTree::WalkOptions& options;
  const std::function<Status(const UntrustedTree::File&)>& on_file;
  int root_fd;
  std::int64_t files = 0;
  std::int64_t bytes = 0;
  // (dev, ino) of the directories on the current path, to cut link loops.
  std::vector<std::pair<dev_t, ino_t>> stack;

  void Skip(const std::string& path, std::string_view reason) const {
    if (options.on_skip) options.on_skip(path, reason);
  }

  Status File(const std::string& path, int fd, const struct stat& st) {
    ++files;
    bytes += st.st_size;
    if (files > options.limits.max_files) {
      return MakeError(ErrorCode::kUnprocessable, "the output has more than " +
                                                      std::to_string(options.limits.max_files) +
                                                      " files (the limit)");
    }
    if (bytes > options.limits.max_bytes) {
      return MakeError(ErrorCode::kUnprocessable,
                       "the output is larger than " +
                           std::to_string(options.limits.max_bytes >> 20) + " MiB (the limit)");
    }
    return on_file(UntrustedTree::File{path, fd, static_cast<std::uint64_t>(st.st_size)});
  }

  // Walks the directory open at `dir_fd` (which this call owns) named `prefix` in the tree.
  Status Directory(int owned_fd, const std::string& prefix, int depth) {
    UniqueFd dir_fd(owned_fd);
    struct stat dir_st {};
    if (fstat(dir_fd.get(), &dir_st) != 0) {
      return MakeError(ErrorCode::kInternal, "cannot read the output: " + prefix);
    }
    const auto id = std::make_pair(dir_st.st_dev, dir_st.st_ino);
    if (std::find(stack.begin(), stack.end(), id) != stack.end()) {
      Skip(prefix, "a link loop");
      return {};
    }
    if (depth > options.limits.max_depth) {
      Skip(prefix, "nested too deep");
      return {};
    }
    const int list_fd = dup(dir_fd.get());
    if (list_fd < 0) return MakeError(ErrorCode::kInternal, "cannot read the output (dup)");
    DIR* dir = fdopendir(list_fd);
    if (dir == nullptr) {
      close(list_fd);
      return MakeError(ErrorCode::kInternal, "cannot list " + prefix);
    }
    rewinddir(dir);  // a dup shares the position with earlier walks of the same descriptor
    std::vector<std::string> names;
    while (dirent* entry = readdir(dir)) {
      const std::string_view name = entry->d_name;
      if (name != "." && name != "..") names.emplace_back(name);
    }
    closedir(dir);
    std::sort(names.begin(), names.end());
    stack.push_back(id);
    for (const std::string& name : names) {
      const std::string path = prefix.empty() ? name : prefix + "/" + name;
      RD_TRY_STATUS(Entry(dir_fd.get(), name, path, depth));
    }
    stack.pop_back();
    return {};
  }

  Status Entry(int dir_fd, const std::string& name, const std::string& path, int depth) {
    struct stat st {};
    if (fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return {};  // gone
    if (S_ISLNK(st.st_mode)) return Link(path, depth);
    if (S_ISDIR(st.st_mode)) {
      if (options.skip_directory && options.skip_directory(path)) return {};
      const int fd = openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) return {};
      return Directory(fd, path, depth + 1);
    }
    if (!S_ISREG(st.st_mode)) {
      Skip(path, "not a regular file (device, socket or pipe)");
      return {};
    }
    // Single component, no link followed: the name cannot lead anywhere else.
    const UniqueFd fd(openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (fd.get() < 0) return {};
    if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return {};
    return File(path, fd.get(), st);
  }

  Status Link(const std::string& path, int depth) {
    const int fd = OpenAt2(root_fd, path, O_RDONLY | O_NONBLOCK, kLinksBeneath);
    if (fd < 0) {
      Skip(path, errno == ENOENT ? "a link to nothing"
                                 : "a link that leads outside the published folder");
      return {};
    }
    UniqueFd target(fd);
    struct stat st {};
    if (fstat(target.get(), &st) != 0) return {};
    if (S_ISREG(st.st_mode)) return File(path, target.get(), st);
    if (S_ISDIR(st.st_mode)) {
      if (options.skip_directory && options.skip_directory(path)) return {};
      const int dir_fd = dup(target.get());
      if (dir_fd < 0) return MakeError(ErrorCode::kInternal, "cannot read the output (dup)");
      return Directory(dir_fd, path, depth + 1);
    }
    Skip(path, "a link to something that is not a file");
    return {};
  }
};

}  // namespace

int OpenBeneathNoLinks(int dir_fd, std::string_view relative, int flags) {
  auto clean = CleanRelative(relative, "path");
  if (!clean.ok()) {
    errno = EXDEV;
    return -1;
  }
  return OpenAt2(dir_fd, *clean, flags, kNoLinks);
}

Result<UntrustedTree> UntrustedTree::Open(const std::string& root, std::string_view relative,
                                          std::string_view what) {
  const UniqueFd root_fd(open(root.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (root_fd.get() < 0) {
    return MakeError(ErrorCode::kInternal,
                     "cannot open the workspace " + root + ": " + std::strerror(errno));
  }
  RD_TRY(int fd, OpenDirectory(root_fd.get(), relative, what));
  return UntrustedTree(fd);
}

UntrustedTree::UntrustedTree(UntrustedTree&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

UntrustedTree& UntrustedTree::operator=(UntrustedTree&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

UntrustedTree::~UntrustedTree() {
  if (fd_ >= 0) close(fd_);
}

Result<UntrustedTree> UntrustedTree::Subtree(std::string_view relative,
                                             std::string_view what) const {
  RD_TRY(int fd, OpenDirectory(fd_, relative, what));
  return UntrustedTree(fd);
}

EntryType UntrustedTree::Type(std::string_view relative) const {
  const int fd = OpenBeneathNoLinks(fd_, relative, O_PATH | O_NOFOLLOW);
  if (fd < 0) return EntryType::kMissing;  // ELOOP: a link on the way
  const UniqueFd owned(fd);
  struct stat st {};
  if (fstat(fd, &st) != 0) return EntryType::kMissing;
  if (S_ISREG(st.st_mode)) return EntryType::kFile;
  if (S_ISDIR(st.st_mode)) return EntryType::kDirectory;
  if (S_ISLNK(st.st_mode)) return EntryType::kSymlink;
  return EntryType::kOther;
}

Result<std::optional<std::string>> UntrustedTree::ReadFile(std::string_view relative,
                                                           std::size_t max_bytes) const {
  const int fd = OpenBeneathNoLinks(fd_, relative, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return std::optional<std::string>();
  const UniqueFd owned(fd);
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return std::optional<std::string>();
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    return MakeError(ErrorCode::kUnprocessable, std::string(relative) + " is larger than " +
                                                    std::to_string(max_bytes) + " bytes");
  }
  std::string data;
  char buffer[65536];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return MakeError(ErrorCode::kInternal,
                       "cannot read " + std::string(relative) + ": " + std::strerror(errno));
    }
    if (n == 0) break;
    data.append(buffer, static_cast<std::size_t>(n));
    if (data.size() > max_bytes) {
      return MakeError(ErrorCode::kUnprocessable, std::string(relative) + " is larger than " +
                                                      std::to_string(max_bytes) + " bytes");
    }
  }
  return std::optional<std::string>(std::move(data));
}

Status UntrustedTree::Walk(const WalkOptions& options,
                           const std::function<Status(const File&)>& on_file) const {
  Walker walker{options, on_file, fd_};
  const int fd = dup(fd_);
  if (fd < 0) return MakeError(ErrorCode::kInternal, "cannot read the output (dup)");
  return walker.Directory(fd, "", 0);
}

}  // namespace replideploy::sandbox
