// A deploy's file list: request path -> stored blob. Built once when a deploy becomes ready and
// shared read-only by every request the deploy serves.
//
// Compact, because the edge keeps one per live deploy (thousands of sites): a file is one
// 72-byte ManifestEntry in one vector (binary SHA-256, content type interned, path in one byte
// arena) plus 4-8 bytes of hash index, instead of a hash-map node with three heap strings.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "deploys/url_pattern.hpp"

namespace replideploy::deploys {

// The 64 lowercase hex characters of a SHA-256, by value (no allocation).
struct Sha256Hex {
  std::array<char, 64> chars{};
  std::string_view view() const { return {chars.data(), chars.size()}; }
  operator std::string_view() const { return view(); }  // NOLINT: used as a view everywhere
  std::string str() const { return std::string(view()); }
};

// A SHA-256 as its 32 bytes.
struct Sha256Digest {
  std::array<std::uint8_t, 32> bytes{};
  // False (digest untouched) unless `hex` is 64 hex characters (either case).
  bool ParseHex(std::string_view hex);
  Sha256Hex Hex() const;
  bool operator==(const Sha256Digest&) const = default;
};

// The process-lifetime copy of a content type: equal strings give the same view. Content types
// come from store::ContentTypeForPath's table, so the set stays small. Thread-safe.
std::string_view InternContentType(std::string_view content_type);

struct ManifestEntry {
  Sha256Digest digest;
  std::int64_t size = 0;
  std::string_view content_type;  // interned (InternContentType): valid for the process
  std::uint32_t path_offset = 0;  // the path in ManifestFiles' arena (ManifestFiles::Path)
  std::uint32_t path_size = 0;
  bool has_br = false;
  bool has_gzip = false;

  Sha256Hex sha256() const { return digest.Hex(); }
};

// The files of a deploy. Find is O(1) and allocation-free (open addressing over one vector of
// indexes). Not thread-safe while being filled; read-only use from many threads is.
class ManifestFiles {
 public:
  // Room for `files` paths totalling `path_bytes`, so that filling allocates once.
  void Reserve(std::size_t files, std::size_t path_bytes);
  // Adds a file; false (nothing changed) when `path` is there already or `sha256_hex` is not
  // a SHA-256 in hex. The content type is interned.
  bool Insert(std::string_view path, std::string_view sha256_hex, std::int64_t size,
              std::string_view content_type, bool has_br = false, bool has_gzip = false);
  // Adds a file with `entry`'s content, size, type and variants (an entry of another
  // ManifestFiles: its content type is interned already); false when `path` is there already.
  bool InsertCopy(std::string_view path, const ManifestEntry& entry);
  // Gives back what Reserve or growth left unused (call once filled).
  void ShrinkToFit();

  const ManifestEntry* Find(std::string_view path) const;
  std::string_view Path(const ManifestEntry& entry) const {
    return std::string_view(paths_).substr(entry.path_offset, entry.path_size);
  }
  std::size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  // In insertion order.
  std::vector<ManifestEntry>::const_iterator begin() const { return entries_.begin(); }
  std::vector<ManifestEntry>::const_iterator end() const { return entries_.end(); }
  // The heap bytes held (capacities), for the cache's byte bound and for reports.
  std::size_t MemoryBytes() const;

 private:
  bool Add(std::string_view path, ManifestEntry entry);  // entry's path fields are set here
  void Rehash(std::size_t slots);
  std::size_t Slot(std::string_view path) const;

  std::vector<ManifestEntry> entries_;
  std::string paths_;
  std::vector<std::uint32_t> index_;  // power-of-two size; entry number + 1, 0 when free
};

// A route of a v2 function (`export const config = { path, method, preferStatic }`).
struct FunctionRoute {
  UrlPattern pattern;
  std::vector<std::string> methods;  // upper case; empty: every method
  bool prefer_static = false;        // a file at the path wins over the function
};

// A function of the deploy: its zip in the blob store, and its routes.
struct FunctionEntry {
  std::string sha256;
  std::string runtime;  // as uploaded ("js"), may be empty
  // From the deploy's functions_config. With routes, the function answers only there (not at
  // /.netlify/functions/<name>), except on paths matching one of `excluded`.
  std::vector<FunctionRoute> routes;
  std::vector<UrlPattern> excluded;
  // A scheduled function's cron expression (cron.hpp), "" for others. Such a function runs on
  // its schedule only; the edge does not invoke it over HTTP.
  std::string schedule;
};

struct DeployManifest {
  std::string deploy_id;
  std::string site_id;
  // Compressed variants of its files are still being made: files without has_br/has_gzip may
  // get them later (a newer manifest of the same deploy).
  bool variants_pending = false;
  ManifestFiles files;                                       // "/index.html" -> entry
  std::unordered_map<std::string, FunctionEntry> functions;  // "hello" -> zip
  // The names of the functions with routes, in matching order (docs/functions.md, "Routes").
  std::vector<std::string> routed_functions;

  const FunctionEntry* FindFunction(std::string_view name) const {
    auto it = functions.find(std::string(name));
    return it == functions.end() ? nullptr : &it->second;
  }

  const ManifestEntry* Find(std::string_view path) const { return files.Find(path); }

  // An estimate of the heap bytes it holds (the manifest cache's byte bound).
  std::size_t MemoryBytes() const;
};

}  // namespace replideploy::deploys
