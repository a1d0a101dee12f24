#include "builder/build_cache.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace replideploy::builder {

namespace {

namespace fs = std::filesystem;

constexpr auto kCacheWallTime = std::chrono::minutes(10);

std::string Join(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  return std::string(a) + "/" + std::string(b);
}

// A sandbox run of tar in the build's workspace, with the build's limits (shorter wall time)
// and no network.
sandbox::SandboxSpec TarSpec(const sandbox::SandboxSpec& build, std::vector<std::string> argv) {
  sandbox::SandboxSpec spec;
  spec.argv = std::move(argv);
  spec.workspace = build.workspace;
  spec.limits = build.limits;
  spec.limits.wall_time =
      std::min<std::chrono::milliseconds>(build.limits.wall_time, kCacheWallTime);
  spec.network = false;
  spec.stop = build.stop;
  return spec;
}

Result<sandbox::SandboxResult> RunTar(sandbox::SandboxRunner& runner,
                                      const sandbox::SandboxSpec& spec, std::string& last_line) {
  return runner.Run(spec, [&](sandbox::OutputStream, std::int64_t, std::string_view line) {
    last_line = std::string(line);
  });
}

}  // namespace

std::string_view CacheScopeName(CacheScope scope) {
  switch (scope) {
    case CacheScope::kProduction:
      return "production";
    case CacheScope::kPreview:
      return "preview";
    case CacheScope::kUntrusted:
      return "untrusted";
  }
  return "untrusted";
}

CacheScope ScopeOf(const BuildJob& job) {
  if (!job.allow_secrets) return CacheScope::kUntrusted;
  if (job.context.empty() || job.context == "production") return CacheScope::kProduction;
  return CacheScope::kPreview;
}

BuildCache::BuildCache(std::string site_dir, CacheScope scope, std::int64_t max_bytes)
    : site_dir_(std::move(site_dir)), scope_(scope), max_bytes_(max_bytes) {}

std::string BuildCache::TarPath() const {
  return site_dir_ + "/" + std::string(CacheScopeName(scope_)) + ".tar";
}

std::string BuildCache::MetaPath() const {
  return site_dir_ + "/" + std::string(CacheScopeName(scope_)) + ".json";
}

Result<std::string> BuildCache::Restore(sandbox::SandboxRunner& runner,
                                        const sandbox::SandboxSpec& build,
                                        std::string_view base_dir) {
  std::error_code ec;
  if (!fs::is_regular_file(TarPath(), ec)) return std::string();
  // The file is root's; tar reads it on stdin and never sees its path.
  const int fd = open(TarPath().c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return MakeError(ErrorCode::kInternal, "cannot open the build cache");
  sandbox::SandboxSpec spec =
      TarSpec(build, {"tar", "-x", "-f", "-", "--no-same-owner", "--no-same-permissions"});
  spec.stdin_fd = fd;
  std::string last_line;
  auto ran = RunTar(runner, spec, last_line);
  close(fd);
  RD_TRY(sandbox::SandboxResult result, std::move(ran));
  if (!result.Succeeded()) {
    return MakeError(
        ErrorCode::kUnprocessable,
        "could not unpack the build cache" +
            (result.limit_message.empty() ? ": " + last_line : " (" + result.limit_message + ")"));
  }
  std::ifstream meta(MetaPath());
  std::stringstream text;
  text << meta.rdbuf();
  std::string made_by;
  boost::system::error_code json_ec;
  const boost::json::value doc = boost::json::parse(text.str(), json_ec);
  if (!json_ec && doc.is_object()) {
    const auto& o = doc.as_object();
    if (const auto* d = o.if_contains("deploy_id"); d && d->is_string()) {
      made_by = std::string(" made by deploy ") + std::string(d->as_string());
    }
    if (const auto* c = o.if_contains("context"); c && c->is_string()) {
      made_by += std::string(" (") + std::string(c->as_string()) + ")";
    }
  }
  (void)base_dir;
  return "Restored the " + std::string(CacheScopeName(scope_)) + " build cache" + made_by;
}

Result<std::string> BuildCache::Save(sandbox::SandboxRunner& runner,
                                     const sandbox::SandboxSpec& build, std::string_view base_dir,
                                     const BuildJob& job) {
  std::error_code ec;
  fs::create_directories(site_dir_, ec);
  if (ec) return MakeError(ErrorCode::kInternal, "cannot make the cache folder: " + ec.message());
  const std::string partial = TarPath() + ".partial-" + job.id;
  const int fd = open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return MakeError(ErrorCode::kInternal, "cannot write the build cache");
  sandbox::SandboxSpec spec =
      TarSpec(build, {"tar", "-c", "-f", "-", "--ignore-failed-read", "--warning=no-failed-read",
                      Join(Join("repo", base_dir), "node_modules"), ".cache"});
  spec.stdout_fd = fd;
  spec.limits.max_file_bytes = max_bytes_;
  std::string last_line;
  auto result = RunTar(runner, spec, last_line);
  close(fd);
  if (!result.ok() || !result->Succeeded()) {
    fs::remove(partial, ec);
    if (!result.ok()) return std::move(result).error();
    constexpr int kFileSizeSignal = 128 + SIGXFSZ;
    if (result->exit_code == kFileSizeSignal) {
      return MakeError(
          ErrorCode::kUnprocessable,
          "the build cache is larger than " + std::to_string(max_bytes_ >> 20) + " MiB; not saved");
    }
    return MakeError(ErrorCode::kUnprocessable,
                     "could not pack the build cache" + (result->limit_message.empty()
                                                             ? ": " + last_line
                                                             : " (" + result->limit_message + ")"));
  }
  boost::json::object meta;
  meta["scope"] = std::string(CacheScopeName(scope_));
  meta["context"] = job.context.empty() ? "production" : job.context;
  meta["branch"] = job.branch;
  meta["deploy_id"] = job.deploy_id;
  meta["saved_at"] = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  {
    std::ofstream out(MetaPath() + ".partial-" + job.id);
    out << boost::json::serialize(meta);
  }
  fs::rename(MetaPath() + ".partial-" + job.id, MetaPath(), ec);
  fs::rename(partial, TarPath(), ec);
  if (ec) return MakeError(ErrorCode::kInternal, "cannot store the build cache: " + ec.message());
  const auto size = fs::file_size(TarPath(), ec);
  return "Saved the " + std::string(CacheScopeName(scope_)) + " build cache (" +
         std::to_string(ec ? 0 : size >> 20) + " MiB)";
}

}  // namespace replideploy::builder
