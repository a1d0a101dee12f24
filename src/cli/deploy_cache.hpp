// What `replideploy deploy` remembers between runs for one folder (docs/cli.md, "Redeploys"):
// the SHA-1 of each file by (size, mtime, inode), so an unchanged file is not read again, and
// per API and site the deploy last made from the folder with the file list it sent, so the next
// deploy sends only the changes (PUT /api/v1/deploys/{id}/file_changes).
//
// One small text file per folder under $XDG_CACHE_HOME/replideploy (or ~/.cache/replideploy),
// named after the folder's real path, which it also holds. It is a hint, never trusted for
// what the server cannot check: the server verifies every uploaded body against its digest,
// and refuses a base deploy that is not the user's, not of the site or not ready (the CLI then
// sends the whole list). A file that is missing, unreadable, of another folder or not exactly
// in the format below is ignored as a whole (everything is hashed again). Written atomically
// (a temporary file renamed over it). Not thread-safe; used by one command at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/result.hpp"

namespace replideploy::cli {

// What must be unchanged for a cached digest to hold.
struct FileStamp {
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::uint64_t inode = 0;
  bool operator==(const FileStamp&) const = default;
};

struct CachedDigest {
  FileStamp stamp;
  std::string sha1;
};

// Keyed by deploy path, looked up by std::string_view too (no copy per lookup). Hashed: the
// paths of a site share long prefixes, which an ordered map compares again at every level.
struct PathHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};
template <typename V>
using PathMap = std::unordered_map<std::string, V, PathHash, std::equal_to<>>;

// A deploy made from the folder: its id and the file list sent (deploy path -> SHA-1).
struct BaseDeploy {
  std::string deploy_id;
  PathMap<std::string> files;
};

struct DeployCache {
  PathMap<CachedDigest> digests;            // deploy path ("/a/b.html") ->
  std::map<std::string, BaseDeploy> bases;  // BaseKey(api_url, site) ->
};

// A file modified this close to the moment it was hashed is not cached: a write within the
// file system's timestamp granularity after the hash could leave size and mtime unchanged
// (git's "racy" rule). An mtime with a fraction of a second comes from a file system with
// nanosecond timestamps, which move at least every kernel tick (at most 10 ms): a tenth of a
// second is ample. A whole-second mtime may come from one with 1-2 s granularity (FAT, ext3):
// two seconds.
inline constexpr std::int64_t kRacyWindowNs = 2'000'000'000;
inline constexpr std::int64_t kFineRacyWindowNs = 100'000'000;

// Whether a file with `stamp`, hashed at `hashed_at_ns` (wall clock, taken before it was
// read), may be cached.
bool Cacheable(const FileStamp& stamp, std::int64_t hashed_at_ns);

// "<api_url> <site>".
std::string BaseKey(const std::string& api_url, const std::string& site);

// $XDG_CACHE_HOME/replideploy, else $HOME/.cache/replideploy; "" when neither is set.
std::string DefaultCacheRoot();

// The cache file of the folder whose real path is `real_dir`, under `root`.
std::string CacheFileFor(const std::string& root, const std::string& real_dir);

// The cache in `file` if it is well formed and of `real_dir`; else an empty one.
DeployCache LoadDeployCache(const std::string& file, const std::string& real_dir);

// Writes `cache` to `file` (creating its folder): a temporary file renamed over it. At most
// kMaxBases bases are kept (`keep_base` among them).
Status SaveDeployCache(const std::string& file, const std::string& real_dir,
                       const DeployCache& cache, const std::string& keep_base);

// SaveDeployCache in two steps, so the text can be made while waiting for something else:
// the file's text ("" for a folder that is not cached, whose path holds a tab or line break),
// then the writing of that text (nothing for "").
std::string FormatDeployCache(const std::string& real_dir, const DeployCache& cache,
                              const std::string& keep_base);
Status WriteDeployCache(const std::string& file, const std::string& text);
inline constexpr std::size_t kMaxBases = 8;

}  // namespace replideploy::cli
