// A site's build cache: node_modules of the base folder and the workspace's .cache (package
// managers' downloads), carried from one build to the next.
//
// The cache is a tar file per site and trust scope, written and read only inside the sandbox
// (tar as the build user, seeing nothing but the workspace and, read-only, the cache file):
// trusted code never unpacks or walks what a build left. Builds that run code nobody with
// write access vouched for (pull requests from forks: no secrets) have a scope of their own, so
// they can never plant anything in the cache that production builds read. A metadata file next
// to each cache says which build made it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "builder/queue.hpp"
#include "core/result.hpp"
#include "sandbox/runner.hpp"

namespace replideploy::builder {

enum class CacheScope { kProduction, kPreview, kUntrusted };
// "production", "preview", "untrusted".
std::string_view CacheScopeName(CacheScope scope);
// Production builds with secrets -> kProduction; builds without secrets (forks) -> kUntrusted;
// every other context (branch deploys, deploy previews of the repository's own branches) ->
// kPreview.
CacheScope ScopeOf(const BuildJob& job);

// Thread-safety: one object per build; different sites' caches may be used concurrently. Two
// builds of one site and scope replace the cache whole (last one wins), never mix it.
class BuildCache {
 public:
  // `site_dir` is <cache_dir>/<site_id>, made when saving.
  BuildCache(std::string site_dir, CacheScope scope, std::int64_t max_bytes);

  // Unpacks the scope's cache into the workspace of `build` (its workspace, limits and stop
  // token are used; the command is tar's). Returns the log line to show, "" without a cache.
  // An unreadable cache is an error the caller logs; the build goes on without it.
  Result<std::string> Restore(sandbox::SandboxRunner& runner, const sandbox::SandboxSpec& build,
                              std::string_view base_dir);

  // Packs <base_dir>/node_modules and .cache of the workspace into the scope's cache, replacing
  // it atomically, and records `job` as its maker. Returns the log line. Error (nothing
  // replaced) when tar fails or the cache would be larger than max_bytes.
  Result<std::string> Save(sandbox::SandboxRunner& runner, const sandbox::SandboxSpec& build,
                           std::string_view base_dir, const BuildJob& job);

 private:
  std::string TarPath() const;
  std::string MetaPath() const;

  std::string site_dir_;
  CacheScope scope_;
  std::int64_t max_bytes_;
};

}  // namespace replideploy::builder
