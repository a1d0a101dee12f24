// POSIX file helpers shared by the local blob store and PutFile. Internal to store/.
// Failures are logged with the path and errno text; the returned Error carries a client-safe
// message only.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace replideploy::store {

// Owns a file descriptor; closes it on destruction. Not thread-safe.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int Get() const { return fd_; }
  bool IsValid() const { return fd_ >= 0; }
  int Release();
  void Reset();

 private:
  int fd_ = -1;
};

// The Error for a failed system call `what` on `path` with `err` (an errno value): kNotFound
// for ENOENT, kUnavailable for a full disk or quota, kInternal otherwise. Logs all but ENOENT.
Error IoError(std::string_view what, const std::string& path, int err);

// Writes all of `data`, retrying short writes and EINTR.
Status WriteAll(int fd, std::string_view data, const std::string& path);
// Reads up to `size` bytes; 0 at end of file. Retries EINTR.
Result<std::size_t> ReadSome(int fd, char* buffer, std::size_t size, const std::string& path);
Status Fsync(int fd, const std::string& path);
// Makes the entries of directory `path` (creations, renames, unlinks) durable.
Status FsyncDir(const std::string& path);

}  // namespace replideploy::store
