#include "store/blob_disk_cache.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <vector>

#include "store/posix_file.hpp"

namespace replideploy::store {

namespace fs = std::filesystem;

BlobDiskCache::BlobDiskCache(std::string dir, std::uint64_t capacity)
    : dir_(std::move(dir)), capacity_(capacity) {}

Result<std::unique_ptr<BlobDiskCache>> BlobDiskCache::Open(const std::string& dir,
                                                           std::uint64_t capacity_bytes) {
  std::error_code ec;
  fs::create_directories(dir + "/tmp", ec);
  if (ec) {
    spdlog::error("blob cache: cannot create {}: {}", dir, ec.message());
    return MakeError(ErrorCode::kInternal, "cannot create the blob cache directory");
  }
  std::unique_ptr<BlobDiskCache> cache(new BlobDiskCache(dir, capacity_bytes));
  for (fs::directory_iterator it(dir + "/tmp", ec), end; !ec && it != end; it.increment(ec)) {
    fs::remove(it->path(), ec);
  }
  // Oldest access first, so that the most recent ends up at the front of the LRU list.
  std::vector<std::pair<timespec, std::pair<std::string, std::uint64_t>>> found;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().parent_path().filename() == "tmp") continue;
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    found.push_back(
        {st.st_atim, {it->path().filename().string(), static_cast<std::uint64_t>(st.st_size)}});
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
    return a.first.tv_sec != b.first.tv_sec ? a.first.tv_sec < b.first.tv_sec
                                            : a.first.tv_nsec < b.first.tv_nsec;
  });
  std::lock_guard lock(cache->mu_);
  for (auto& [when, entry] : found) {
    cache->lru_.push_front(entry.first);
    cache->entries_[entry.first] = Entry{entry.second, cache->lru_.begin()};
    cache->used_ += entry.second;
  }
  cache->EvictLocked();
  return cache;
}

std::string BlobDiskCache::PathFor(const std::string& name) const {
  return dir_ + "/" + name.substr(0, 2) + "/" + name;
}

std::optional<std::string> BlobDiskCache::Lookup(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(name);
  if (it == entries_.end()) return std::nullopt;
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  return PathFor(name);
}

Result<std::pair<int, std::string>> BlobDiskCache::CreateTemp() {
  std::string path = dir_ + "/tmp/get-XXXXXX";
  const int fd = ::mkostemp(path.data(), O_CLOEXEC);
  if (fd < 0) return IoError("mkostemp", path, errno);
  (void)::fchmod(fd, 0644);
  return std::pair<int, std::string>(fd, std::move(path));
}

Result<std::optional<std::string>> BlobDiskCache::Insert(const std::string& name,
                                                         const std::string& temp_path) {
  struct stat st {};
  if (::stat(temp_path.c_str(), &st) != 0) return IoError("stat", temp_path, errno);
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size > capacity_) {
    ::unlink(temp_path.c_str());
    return std::optional<std::string>();
  }
  const std::string path = PathFor(name);
  const std::string subdir = dir_ + "/" + name.substr(0, 2);
  if (::mkdir(subdir.c_str(), 0755) != 0 && errno != EEXIST) return IoError("mkdir", subdir, errno);
  std::lock_guard lock(mu_);
  if (::rename(temp_path.c_str(), path.c_str()) != 0) return IoError("rename", path, errno);
  auto it = entries_.find(name);
  if (it != entries_.end()) {  // the same content, fetched twice at once, or a replacement
    used_ -= it->second.size;
    lru_.erase(it->second.lru);
    entries_.erase(it);
  }
  lru_.push_front(name);
  entries_[name] = Entry{size, lru_.begin()};
  used_ += size;
  EvictLocked();
  if (!entries_.contains(name)) return std::optional<std::string>();
  return std::optional<std::string>(path);
}

void BlobDiskCache::Erase(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(name);
  if (it == entries_.end()) return;
  ::unlink(PathFor(name).c_str());
  used_ -= it->second.size;
  lru_.erase(it->second.lru);
  entries_.erase(it);
}

void BlobDiskCache::EvictLocked() {
  while (used_ > capacity_ && !lru_.empty()) {
    const std::string& victim = lru_.back();
    ::unlink(PathFor(victim).c_str());
    auto it = entries_.find(victim);
    used_ -= it->second.size;
    entries_.erase(it);
    lru_.pop_back();
  }
}

std::uint64_t BlobDiskCache::UsedBytes() const {
  std::lock_guard lock(mu_);
  return used_;
}

}  // namespace replideploy::store
