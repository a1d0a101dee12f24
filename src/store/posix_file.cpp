#include "store/posix_file.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace replideploy::store {

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    Reset();
    fd_ = other.Release();
  }
  return *this;
}

int UniqueFd::Release() {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

void UniqueFd::Reset() {
  // close() is not retried on EINTR: on Linux the descriptor is gone either way.
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Error IoError(std::string_view what, const std::string& path, int err) {
  if (err == ENOENT) return MakeError(ErrorCode::kNotFound, "blob not found");
  spdlog::error("blob store: {} {}: {}", what, path, std::strerror(err));
  if (err == ENOSPC || err == EDQUOT) {
    return MakeError(ErrorCode::kUnavailable, "blob store is out of space");
  }
  return MakeError(ErrorCode::kInternal, "blob store I/O failed");
}

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError("write", path, errno);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

Result<std::size_t> ReadSome(int fd, char* buffer, std::size_t size, const std::string& path) {
  for (;;) {
    const ssize_t n = ::read(fd, buffer, size);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno != EINTR) return IoError("read", path, errno);
  }
}

Status Fsync(int fd, const std::string& path) {
  if (::fsync(fd) != 0) return IoError("fsync", path, errno);
  return {};
}

Status FsyncDir(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.IsValid()) return IoError("open directory", path, errno);
  return Fsync(fd.Get(), path);
}

}  // namespace replideploy::store
