// A deploy's file list: request path -> stored blob. Built once when a deploy becomes ready and
// shared read-only by every request the deploy serves.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "deploys/url_pattern.hpp"

namespace replideploy::deploys {

struct ManifestEntry {
  std::string sha256;
  std::int64_t size = 0;
  std::string content_type;
  bool has_br = false;
  bool has_gzip = false;
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
  std::unordered_map<std::string, ManifestEntry> files;      // "/index.html" -> entry
  std::unordered_map<std::string, FunctionEntry> functions;  // "hello" -> zip
  // The names of the functions with routes, in matching order (docs/functions.md, "Routes").
  std::vector<std::string> routed_functions;

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
