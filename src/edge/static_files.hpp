// Which file of a deploy answers a path, with Netlify's pretty-URL and trailing-slash rules:
//   /            -> /index.html
//   /about       -> /about (exact), else /about.html, else 301 to /about/ when
//                   /about/index.html exists
//   /about/      -> /about/index.html, else 301 to /about when /about.html exists
// Rule files (_redirects, _headers, netlify.toml) are never served. Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "deploys/manifest.hpp"

namespace replideploy::edge {

struct StaticMatch {
  enum class Kind { kNone, kFile, kRedirect };
  Kind kind = Kind::kNone;
  std::string path;  // kFile: the manifest path; kRedirect: the path to redirect to
  const deploys::ManifestEntry* entry = nullptr;  // kFile
};

// `path` is a normalised request path (starts with '/', no '..').
StaticMatch ResolveStatic(const deploys::DeployManifest& manifest, std::string_view path);

// True for the deploy's configuration files, which are read by the edge but never served.
bool IsHiddenFile(std::string_view path);

}  // namespace replideploy::edge
