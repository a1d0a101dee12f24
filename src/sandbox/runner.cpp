// What every SandboxRunner shares: limit messages and the build user.
#include "sandbox/runner.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <system_error>

#include "core/subprocess.hpp"

namespace replideploy::sandbox {

namespace {

namespace fs = std::filesystem;

std::string FormatBytes(std::int64_t bytes) {
  constexpr std::int64_t kKiB = 1024;
  if (bytes >= kKiB * kKiB * kKiB && bytes % (kKiB * kKiB * kKiB) == 0) {
    return std::to_string(bytes / (kKiB * kKiB * kKiB)) + " GiB";
  }
  if (bytes >= kKiB * kKiB && bytes % (kKiB * kKiB) == 0) {
    return std::to_string(bytes / (kKiB * kKiB)) + " MiB";
  }
  if (bytes >= kKiB && bytes % kKiB == 0) return std::to_string(bytes / kKiB) + " KiB";
  return std::to_string(bytes) + " bytes";
}

std::string FormatDuration(std::chrono::milliseconds duration) {
  const auto ms = duration.count();
  if (ms >= 60'000 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + " min";
  if (ms >= 1000 && ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
  return std::to_string(ms) + " ms";
}

}  // namespace

std::string_view OutputStreamName(OutputStream stream) {
  return stream == OutputStream::kStdout ? "stdout" : "stderr";
}

std::string LimitMessage(LimitHit limit, const SandboxLimits& limits) {
  switch (limit) {
    case LimitHit::kNone:
      return "";
    case LimitHit::kWallTime:
      return "build exceeded its time limit (" + FormatDuration(limits.wall_time) + ")";
    case LimitHit::kMemory:
      return "build exceeded its memory limit (" + FormatBytes(limits.memory_bytes) + ")";
    case LimitHit::kProcesses:
      return "build exceeded its process limit (" + std::to_string(limits.max_processes) + ")";
    case LimitHit::kOutput:
      return "build output exceeded " + FormatBytes(limits.max_output_bytes);
    case LimitHit::kCancelled:
      return "build was cancelled";
  }
  return "";
}

Result<BuildUser> EnsureBuildUser(const std::string& name) {
  auto lookup = [&]() -> std::optional<BuildUser> {
    passwd entry{};
    passwd* found = nullptr;
    std::vector<char> buffer(16384);
    if (getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 || !found) {
      return std::nullopt;
    }
    return BuildUser{name, found->pw_uid, found->pw_gid};
  };
  if (auto user = lookup()) {
    if (user->uid == 0) return MakeError(ErrorCode::kInternal, "build user " + name + " is root");
    return *user;
  }
  if (geteuid() != 0) {
    return MakeError(ErrorCode::kInternal, "build user " + name + " does not exist");
  }
  auto useradd = core::RunProcess({.argv = {"/usr/sbin/useradd", "--system", "--no-create-home",
                                            "--shell", "/usr/sbin/nologin", "--user-group", name},
                                   .close_other_fds = true});
  if (!useradd.ok()) return useradd.error();
  // A concurrent creator may have won the race; the lookup decides.
  if (auto user = lookup()) return *user;
  return MakeError(ErrorCode::kInternal,
                   "could not create build user " + name + " (useradd exit status " +
                       std::to_string(useradd->exit_code) + "): " + useradd->err);
}

Status GiveTreeToUser(const std::string& path, const BuildUser& user) {
  auto chown_one = [&](const fs::path& p) -> Status {
    if (lchown(p.c_str(), user.uid, user.gid) != 0) {
      return MakeError(ErrorCode::kInternal, "chown " + p.string() + ": " + std::strerror(errno));
    }
    return {};
  };
  RD_TRY_STATUS(chown_one(path));
  std::error_code ec;
  fs::recursive_directory_iterator it(path, fs::directory_options::none, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    RD_TRY_STATUS(chown_one(it->path()));
  }
  if (ec) return MakeError(ErrorCode::kInternal, "walking " + path + ": " + ec.message());
  return {};
}

}  // namespace replideploy::sandbox
