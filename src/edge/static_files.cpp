#include "edge/static_files.hpp"

namespace replideploy::edge {

bool IsHiddenFile(std::string_view path) {
  return path == "/_redirects" || path == "/_headers" || path == "/netlify.toml";
}

namespace {
const deploys::ManifestEntry* Find(const deploys::DeployManifest& m, const std::string& path) {
  if (IsHiddenFile(path)) return nullptr;
  return m.Find(path);
}
}  // namespace

StaticMatch ResolveStatic(const deploys::DeployManifest& manifest, std::string_view path) {
  StaticMatch match;
  std::string p(path);
  if (p.empty() || p.front() != '/') return match;
  if (p.back() == '/') {
    if (auto* e = Find(manifest, p + "index.html")) {
      return {StaticMatch::Kind::kFile, p + "index.html", e};
    }
    if (p.size() > 1) {
      std::string bare = p.substr(0, p.size() - 1);
      if (Find(manifest, bare + ".html") != nullptr) {
        return {StaticMatch::Kind::kRedirect, bare, nullptr};
      }
    }
    return match;
  }
  if (auto* e = Find(manifest, p)) return {StaticMatch::Kind::kFile, p, e};
  if (auto* e = Find(manifest, p + ".html")) return {StaticMatch::Kind::kFile, p + ".html", e};
  if (Find(manifest, p + "/index.html") != nullptr) {
    return {StaticMatch::Kind::kRedirect, p + "/", nullptr};
  }
  return match;
}

}  // namespace replideploy::edge
