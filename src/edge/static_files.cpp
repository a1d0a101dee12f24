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
  if (path.empty() || path.front() != '/') return {};
  // One string holds every candidate in turn, with room for the longest suffix, and becomes the
  // match's path: a pretty URL costs one allocation at most (none when the string's own buffer
  // holds it), instead of one per candidate and one more for the answer.
  std::string p;
  p.reserve(path.size() + std::string_view("/index.html").size());
  const auto find = [&](std::string_view stem, std::string_view suffix) {
    p.assign(stem);
    p.append(suffix);
    return Find(manifest, p);
  };
  if (path.back() == '/') {
    if (auto* e = find(path, "index.html")) return {StaticMatch::Kind::kFile, std::move(p), e};
    if (path.size() > 1) {
      const std::string_view bare = path.substr(0, path.size() - 1);
      if (find(bare, ".html") != nullptr) {
        p.resize(bare.size());
        return {StaticMatch::Kind::kRedirect, std::move(p), nullptr};
      }
    }
    return {};
  }
  if (auto* e = find(path, "")) return {StaticMatch::Kind::kFile, std::move(p), e};
  if (auto* e = find(path, ".html")) return {StaticMatch::Kind::kFile, std::move(p), e};
  if (find(path, "/index.html") != nullptr) {
    p.resize(path.size() + 1);  // path + "/"
    return {StaticMatch::Kind::kRedirect, std::move(p), nullptr};
  }
  return {};
}

}  // namespace replideploy::edge
