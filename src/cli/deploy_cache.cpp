// The file, one record a line, fields separated by tabs:
//   replideploy-deploy-cache 1
//   dir <real path of the folder>
//   h <path> <size> <mtime ns> <inode> <sha1>      a cached digest
//   b <api url> <site> <deploy id>                 a base deploy; its files follow:
//   f <path> <sha1>
//   end
// Paths or keys holding a tab or a line break are never written (such a file is hashed every
// time; a base with such a path is not kept).
#include "cli/deploy_cache.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <concepts>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string_view>

#include "core/crypto.hpp"
#include "core/text.hpp"

namespace replideploy::cli {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kMagic = "replideploy-deploy-cache 1";

bool Plain(std::string_view s) { return s.find_first_of("\t\n\r") == std::string_view::npos; }

// Up to kMaxFields tab-separated fields; a line with more has kMaxFields + 1 (never valid).
constexpr std::size_t kMaxFields = 6;
struct Fields {
  std::array<std::string_view, kMaxFields + 1> at;
  std::size_t size = 0;
  std::string_view operator[](std::size_t i) const { return at[i]; }
};
Fields Split(std::string_view line) {
  Fields out;
  while (out.size <= kMaxFields) {
    const std::size_t tab = line.find('\t');
    out.at[out.size++] = line.substr(0, tab);
    if (tab == std::string_view::npos) break;
    line.remove_prefix(tab + 1);
  }
  return out;
}

template <typename T>
bool ParseNumber(std::string_view s, T& out) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size() && !s.empty();
}

bool IsSha1(std::string_view s) { return s.size() == 40 && core::IsLowerHex(s); }
bool IsPath(std::string_view s) { return !s.empty() && s.front() == '/'; }

// The records after the header; false on anything out of place.
bool ParseRecords(std::string_view text, DeployCache& cache) {
  BaseDeploy* base = nullptr;
  bool ended = false;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    if (nl == std::string_view::npos || ended) return false;  // a cut or trailing line
    const Fields f = Split(text.substr(0, nl));
    text.remove_prefix(nl + 1);
    if (f[0] == "end" && f.size == 1) {
      ended = true;
    } else if (f[0] == "h" && f.size == 6) {
      CachedDigest d;
      if (!IsPath(f[1]) || !ParseNumber(f[2], d.stamp.size) ||
          !ParseNumber(f[3], d.stamp.mtime_ns) || !ParseNumber(f[4], d.stamp.inode) ||
          !IsSha1(f[5])) {
        return false;
      }
      d.sha1 = std::string(f[5]);
      cache.digests.insert_or_assign(std::string(f[1]), std::move(d));
    } else if (f[0] == "b" && f.size == 4 && !f[3].empty()) {
      base = &cache.bases[std::string(f[1]) + " " + std::string(f[2])];
      base->deploy_id = std::string(f[3]);
    } else if (f[0] == "f" && f.size == 3 && base != nullptr && IsPath(f[1]) && IsSha1(f[2])) {
      base->files.insert_or_assign(std::string(f[1]), std::string(f[2]));
    } else {
      return false;
    }
  }
  return ended;
}

void AppendField(std::string& out, std::string_view s) { out.append(s); }
void AppendField(std::string& out, std::integral auto n) {
  char digits[24];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
  out.append(digits, end);
}
// One record: `kind` and `fields`, tab-separated, and a line break.
template <typename... F>
void AppendFields(std::string& out, std::string_view kind, const F&... fields) {
  out.append(kind);
  ((out.push_back('\t'), AppendField(out, fields)), ...);
  out.push_back('\n');
}

// The file's bytes in one read (the cache is a few MB at most); false when it cannot be read.
bool ReadWholeFile(const std::string& file, std::string& text) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  if (ok) {
    text.resize(static_cast<std::size_t>(st.st_size));
    std::size_t got = 0;
    while (ok && got < text.size()) {
      const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
      if (n < 0 && errno == EINTR) continue;
      ok = n > 0;
      if (ok) got += static_cast<std::size_t>(n);
    }
  }
  ::close(fd);
  return ok;
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

}  // namespace

bool Cacheable(const FileStamp& stamp, std::int64_t hashed_at_ns) {
  const bool fine = stamp.mtime_ns % 1'000'000'000 != 0;
  return stamp.mtime_ns < hashed_at_ns - (fine ? kFineRacyWindowNs : kRacyWindowNs);
}

std::string BaseKey(const std::string& api_url, const std::string& site) {
  return api_url + " " + site;
}

std::string DefaultCacheRoot() {
  if (std::string xdg = Env("XDG_CACHE_HOME"); !xdg.empty()) return xdg + "/replideploy";
  if (std::string home = Env("HOME"); !home.empty()) return home + "/.cache/replideploy";
  return "";
}

std::string CacheFileFor(const std::string& root, const std::string& real_dir) {
  return root + "/deploy-" + core::HexEncode(core::Sha256(real_dir)).substr(0, 32) + ".cache";
}

DeployCache LoadDeployCache(const std::string& file, const std::string& real_dir) {
  std::string text;
  if (!ReadWholeFile(file, text)) return {};
  const std::string header = std::string(kMagic) + "\ndir\t" + real_dir + "\n";
  DeployCache cache;
  cache.digests.reserve(static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')));
  if (!text.starts_with(header) ||
      !ParseRecords(std::string_view(text).substr(header.size()), cache)) {
    return {};
  }
  return cache;
}

std::string FormatDeployCache(const std::string& real_dir, const DeployCache& cache,
                              const std::string& keep_base) {
  if (!Plain(real_dir)) return "";  // such a folder is not cached
  std::string text = std::string(kMagic) + "\ndir\t" + real_dir + "\n";
  text.reserve(cache.digests.size() * 128);
  for (const auto& [path, d] : cache.digests) {
    if (!Plain(path)) continue;
    AppendFields(text, "h", path, d.stamp.size, d.stamp.mtime_ns, d.stamp.inode, d.sha1);
  }
  std::size_t bases = 0;
  for (const auto& [key, base] : cache.bases) {
    const std::size_t space = key.find(' ');
    // A base missing a path would make the next deploy keep that file when it is deleted.
    const bool plain = std::all_of(base.files.begin(), base.files.end(),
                                   [](const auto& entry) { return Plain(entry.first); });
    if (space == std::string::npos || !Plain(key) || !Plain(base.deploy_id) || !plain) continue;
    if (key != keep_base && bases + 1 >= kMaxBases) continue;  // room for keep_base
    if (key != keep_base) ++bases;
    const std::string_view k = key;
    AppendFields(text, "b", k.substr(0, space), k.substr(space + 1), base.deploy_id);
    text.reserve(text.size() + base.files.size() * 80);
    for (const auto& [path, sha1] : base.files) AppendFields(text, "f", path, sha1);
  }
  text += "end\n";
  return text;
}

Status WriteDeployCache(const std::string& file, const std::string& text) {
  if (text.empty()) return {};
  std::error_code ec;
  fs::create_directories(fs::path(file).parent_path(), ec);
  const std::string temp = file + ".tmp." + std::to_string(getpid());
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      fs::remove(temp, ec);
      return MakeError(ErrorCode::kInternal, "cannot write " + temp);
    }
  }
  fs::rename(temp, file, ec);
  if (ec) {
    fs::remove(temp, ec);
    return MakeError(ErrorCode::kInternal, "cannot write " + file);
  }
  return {};
}

Status SaveDeployCache(const std::string& file, const std::string& real_dir,
                       const DeployCache& cache, const std::string& keep_base) {
  return WriteDeployCache(file, FormatDeployCache(real_dir, cache, keep_base));
}

}  // namespace replideploy::cli
