// A deploy's file list: request path -> stored blob. Built once when a deploy becomes ready and
// shared read-only by every request the deploy serves.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace replideploy::deploys {

struct ManifestEntry {
  std::string sha256;
  std::int64_t size = 0;
  std::string content_type;
  bool has_br = false;
  bool has_gzip = false;
};

// A function of the deploy: its zip in the blob store.
struct FunctionEntry {
  std::string sha256;
  std::string runtime;  // as uploaded ("js"), may be empty
};

struct DeployManifest {
  std::string deploy_id;
  std::string site_id;
  // Compressed variants of its files are still being made: files without has_br/has_gzip may
  // get them later (a newer manifest of the same deploy).
  bool variants_pending = false;
  std::unordered_map<std::string, ManifestEntry> files;      // "/index.html" -> entry
  std::unordered_map<std::string, FunctionEntry> functions;  // "hello" -> zip

  const FunctionEntry* FindFunction(std::string_view name) const {
    auto it = functions.find(std::string(name));
    return it == functions.end() ? nullptr : &it->second;
  }

  const ManifestEntry* Find(std::string_view path) const {
    auto it = files.find(std::string(path));
    return it == files.end() ? nullptr : &it->second;
  }
};

}  // namespace replideploy::deploys
