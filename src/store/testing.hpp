// Test support for store/: a scratch directory per test, and file-system helpers. Header-only;
// for tests only.
#pragma once

#include <fcntl.h>
#include <stdlib.h>  // mkdtemp
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace replideploy::store::testing {

// A new directory under /tmp, removed with everything in it on destruction.
class ScopedTempDir {
 public:
  ScopedTempDir() {
    char pattern[] = "/tmp/rd-store-XXXXXX";
    path_ = ::mkdtemp(pattern) != nullptr ? pattern : "";
  }
  ~ScopedTempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  const std::string& path() const { return path_; }  // NOLINT(readability-identifier-naming)

 private:
  std::string path_;
};

// Sets a file's mtime (and atime); false on failure.
inline bool SetMtime(const std::string& path, std::chrono::system_clock::time_point when) {
  const auto since_epoch = when.time_since_epoch();
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - secs);
  struct timespec times[2];
  times[0].tv_sec = times[1].tv_sec = static_cast<time_t>(secs.count());
  times[0].tv_nsec = times[1].tv_nsec = static_cast<long>(nanos.count());
  return ::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0;
}

// Paths of the regular files under `dir`, recursively, sorted.
inline std::vector<std::string> FilesUnder(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (std::filesystem::recursive_directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    if (it->is_regular_file()) files.push_back(it->path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// `n` bytes that do not compress (a fixed xorshift sequence).
inline std::string NoiseBytes(std::size_t n, unsigned seed = 1) {
  std::string out(n, '\0');
  unsigned long long x = 0x9e3779b97f4a7c15ull ^ seed;
  for (std::size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    out[i] = static_cast<char>(x >> 32);
  }
  return out;
}

}  // namespace replideploy::store::testing
