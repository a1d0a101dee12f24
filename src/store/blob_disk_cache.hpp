// A bounded local disk cache of blobs for a store whose blobs are not on a local file system
// (the S3 backend): the edge's large files are sent with sendfile from here, so hot files
// never wait on the object store.
//
//   <dir>/ab/<sha256>[.br|.gz]   cached objects (flat below one level of fan-out)
//   <dir>/tmp/                   downloads in progress, renamed into place when complete
//
// Bounded by `capacity_bytes`; the least recently used entries are unlinked first when an
// insert goes over it. An entry is "used" when Lookup finds it. An entry bigger than the
// whole capacity is not kept. A file a reader has opened stays readable after eviction (the
// unlink removes the name only). Nothing is fsynced: after a crash an entry is either absent
// or complete (rename), and the index is rebuilt from the directory at start.
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/result.hpp"

namespace replideploy::store {

class BlobDiskCache {
 public:
  // Creates `dir` (and dir/tmp) when missing, empties dir/tmp, and indexes the entries there
  // (oldest access first). kInternal when the directory cannot be made.
  static Result<std::unique_ptr<BlobDiskCache>> Open(const std::string& dir,
                                                     std::uint64_t capacity_bytes);

  // The path of a cached entry (`name` is "<sha256>" or "<sha256>.br"), marking it used;
  // nullopt when not cached.
  std::optional<std::string> Lookup(const std::string& name);

  // A new temporary file for a download: its descriptor and path. The caller closes it, then
  // Insert()s or unlinks it.
  Result<std::pair<int, std::string>> CreateTemp();

  // Moves a complete temporary file into place as `name` and accounts for it, evicting as
  // needed. Returns the entry's path, or nullopt when it was not kept (bigger than the
  // capacity; the temporary file is removed then).
  Result<std::optional<std::string>> Insert(const std::string& name, const std::string& temp_path);

  // Drops an entry (a deleted or replaced object).
  void Erase(const std::string& name);

  std::uint64_t UsedBytes() const;
  std::uint64_t capacity() const { return capacity_; }  // NOLINT

 private:
  BlobDiskCache(std::string dir, std::uint64_t capacity);
  std::string PathFor(const std::string& name) const;
  void EvictLocked();

  struct Entry {
    std::uint64_t size;
    std::list<std::string>::iterator lru;
  };

  std::string dir_;
  std::uint64_t capacity_;
  mutable std::mutex mu_;
  std::list<std::string> lru_;  // most recently used first
  std::unordered_map<std::string, Entry> entries_;
  std::uint64_t used_ = 0;
};

}  // namespace replideploy::store
