#include "cli/deploy_scan.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <mutex>
#include <string_view>
#include <system_error>
#include <thread>
#include <unordered_set>

#include "core/crypto.hpp"
#include "store/blob_store.hpp"

namespace replideploy::cli {

namespace json = boost::json;

namespace {

// Skipped with all it holds: dot files and folders (but .well-known), node_modules, __MACOSX.
bool Skipped(std::string_view name) {
  if (name == "node_modules" || name == "__MACOSX") return true;
  return !name.empty() && name.front() == '.' && name != ".well-known";
}

std::string Errno(int error) { return std::error_code(error, std::generic_category()).message(); }

FileStamp StampOf(const struct stat& st) {
  return FileStamp{static_cast<std::uint64_t>(st.st_size),
                   std::int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec,
                   static_cast<std::uint64_t>(st.st_ino)};
}

struct ListedFiles {
  std::vector<LocalFile> files;
  std::vector<FileStamp> stamps;                // of files[i], taken before any is read
  std::vector<std::string> unreadable_folders;  // left out for lack of permission (disk paths)
};

// Lists a folder tree with one open folder per level: readdir's d_type, and fstatat relative
// to the folder (no lookup of the whole path per file); the deploy path grows in one buffer.
// What it keeps is what std::filesystem::recursive_directory_iterator with
// skip_permission_denied kept: regular files and links to regular files; folders that are
// links are not followed, folders that cannot be opened for lack of permission are left out
// (and named in unreadable_folders, for a warning), broken links are left out; any other error
// fails the scan.
class FolderLister {
 public:
  explicit FolderLister(const std::string& dir)
      : dir_(dir), disk_prefix_(dir.ends_with('/') ? dir : dir + "/") {}

  Result<ListedFiles> List() && {
    struct stat st {};
    if (::stat(dir_.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return MakeError(ErrorCode::kBadRequest, dir_ + " is not a directory");
    }
    const int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 && errno == EACCES) {
      listed_.unreadable_folders.push_back(dir_);
      return std::move(listed_);
    }
    if (fd < 0) return ReadError(errno);
    RD_TRY_STATUS(Walk(fd));
    return std::move(listed_);
  }

 private:
  Error ReadError(int error) const {
    return MakeError(ErrorCode::kBadRequest, "cannot read " + dir_ + ": " + Errno(error));
  }
  std::string DiskPath(std::string_view name) const {
    std::string out = disk_prefix_;
    out.append(path_, 1).append(name);
    return out;
  }

  // Takes `fd`, a folder whose deploy path is `path_` (ending in '/').
  Status Walk(int fd) {
    const std::unique_ptr<DIR, int (*)(DIR*)> dir(::fdopendir(fd), &::closedir);
    if (!dir) {
      const int error = errno;
      ::close(fd);
      return ReadError(error);
    }
    errno = 0;
    while (const dirent* entry = ::readdir(dir.get())) {
      const std::string_view name = entry->d_name;
      if (!Skipped(name)) RD_TRY_STATUS(Visit(fd, name, entry->d_type));
      errno = 0;
    }
    if (errno != 0) return ReadError(errno);
    return {};
  }

  Status Visit(int fd, std::string_view name, unsigned char type) {
    struct stat st {};
    const char* c_name = name.data();  // d_name: NUL-terminated
    if (type == DT_UNKNOWN) {
      if (::fstatat(fd, c_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) return {};  // gone since listed
        return ReadError(errno);
      }
      type = IFTODT(st.st_mode);
    }
    if (type == DT_DIR) return Descend(fd, name);
    if (type != DT_REG && type != DT_LNK) return {};
    // The stamp of the cache: of the file a link points to, as stat(2) on its path gave.
    if (::fstatat(fd, c_name, &st, 0) != 0) {
      if (type == DT_REG) return MakeError(ErrorCode::kBadRequest, "cannot read " + DiskPath(name));
      if (errno == ENOENT || errno == ENOTDIR) return {};  // a broken link
      return MakeError(ErrorCode::kBadRequest,
                       "cannot read " + DiskPath(name) + ": " + Errno(errno));
    }
    if (!S_ISREG(st.st_mode)) return {};  // a link to a folder (not followed) or to a device
    std::string path = path_;
    path.append(name);
    listed_.files.push_back({std::move(path), DiskPath(name), "", 0});
    listed_.stamps.push_back(StampOf(st));
    return {};
  }

  Status Descend(int fd, std::string_view name) {
    const int sub = ::openat(fd, name.data(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0 && errno == EACCES) {
      listed_.unreadable_folders.push_back(DiskPath(name));
      return {};
    }
    if (sub < 0) return ReadError(errno);
    const std::size_t mark = path_.size();
    path_.append(name).push_back('/');
    RD_TRY_STATUS(Walk(sub));
    path_.resize(mark);
    return {};
  }

  const std::string& dir_;
  const std::string disk_prefix_;
  std::string path_ = "/";
  ListedFiles listed_;
};

// Reads `f` and sets its size and SHA-1.
Status HashFile(LocalFile& f) {
  std::ifstream in(f.disk_path, std::ios::binary);
  store::BlobDigester digester;  // big files: streamed
  std::string small;
  char buffer[1 << 16];
  bool streamed = false;
  f.size = 0;
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    const std::string_view chunk(buffer, static_cast<std::size_t>(in.gcount()));
    f.size += chunk.size();
    if (!streamed && small.size() + chunk.size() <= (std::size_t{1} << 20)) {
      small.append(chunk);
      continue;
    }
    if (!streamed) {
      digester.Update(small);
      streamed = true;
    }
    digester.Update(chunk);
  }
  if (!in.eof()) return MakeError(ErrorCode::kBadRequest, "cannot read " + f.disk_path);
  if (!streamed) {
    f.sha1 = core::HexEncode(core::Sha1(small));
    return {};
  }
  RD_TRY(store::BlobInfo info, digester.Finish());
  f.sha1 = info.sha1;
  return {};
}

json::object Digests(const std::vector<const LocalFile*>& files) {
  json::object out;
  for (const LocalFile* f : files) out[f->path.substr(1)] = f->sha1;
  return out;
}

}  // namespace

Result<ScannedFolder> ScanDirectory(const std::string& dir, DeployCache& cache) {
  // Before any file is looked at: a file modified after this is never cached (kRacyWindowNs).
  const std::int64_t scan_start = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count();
  RD_TRY(ListedFiles listed, FolderLister(dir).List());
  std::vector<LocalFile>& files = listed.files;
  ScannedFolder scanned;
  scanned.unreadable_folders = std::move(listed.unreadable_folders);
  // The cache's entries still true move to this scan's; the rest are read.
  PathMap<CachedDigest> kept;
  kept.reserve(files.size());
  std::vector<std::size_t> unknown;
  for (std::size_t i = 0; i < files.size(); ++i) {
    LocalFile& f = files[i];
    const auto cached = cache.digests.find(f.path);
    if (cached == cache.digests.end() || cached->second.stamp != listed.stamps[i]) {
      unknown.push_back(i);
      continue;
    }
    f.sha1 = cached->second.sha1;
    f.size = listed.stamps[i].size;
    kept.insert(cache.digests.extract(cached));
  }
  std::vector<char> cacheable(unknown.size(), 0);  // not vector<bool>: one byte per thread's write
  std::atomic<std::size_t> next{0};
  std::mutex error_mu;
  std::string error;
  // The deploy API names files by SHA-1 only; hashed on every core.
  auto hash = [&] {
    for (std::size_t u = next++; u < unknown.size(); u = next++) {
      LocalFile& f = files[unknown[u]];
      if (Status st = HashFile(f); !st.ok()) {
        std::lock_guard lock(error_mu);
        if (error.empty()) error = st.error().message;
        return;
      }
      // Stamped before the read: a write during the read changed the mtime, so the next scan
      // reads the file again.
      const FileStamp& stamp = listed.stamps[unknown[u]];
      cacheable[u] = stamp.size == f.size && Cacheable(stamp, scan_start) ? 1 : 0;
    }
  };
  std::vector<std::thread> threads;
  const unsigned cores = std::clamp(std::thread::hardware_concurrency(), 1u, 8u);
  for (unsigned t = 1; t < cores && t < unknown.size(); ++t) threads.emplace_back(hash);
  hash();
  for (auto& t : threads) t.join();
  if (!error.empty()) return MakeError(ErrorCode::kBadRequest, error);
  for (std::size_t u = 0; u < unknown.size(); ++u) {
    const std::size_t i = unknown[u];
    if (cacheable[u]) kept.emplace(files[i].path, CachedDigest{listed.stamps[i], files[i].sha1});
  }
  cache.digests = std::move(kept);  // files gone since the last scan are forgotten
  scanned.files = std::move(files);
  scanned.hashed = unknown.size();
  return scanned;
}

Result<json::value> SendFileList(const ApiClient& client, const std::string& site_path,
                                 const std::string& deploy_id, const std::vector<LocalFile>& files,
                                 const BaseDeploy* base, const json::object& functions,
                                 bool& relative) {
  relative = false;
  if (base != nullptr) {
    std::vector<const LocalFile*> changed;
    std::size_t kept = 0;  // base paths still in the folder
    for (const LocalFile& f : files) {
      const auto in_base = base->files.find(f.path);
      if (in_base != base->files.end()) ++kept;
      if (in_base == base->files.end() || in_base->second != f.sha1) changed.push_back(&f);
    }
    json::array deleted;
    if (kept < base->files.size()) {
      std::unordered_set<std::string_view> present;
      present.reserve(files.size());
      for (const LocalFile& f : files) present.insert(f.path);
      std::vector<std::string_view> gone;
      for (const auto& [path, sha1] : base->files) {
        if (!present.contains(path)) gone.push_back(path);
      }
      std::sort(gone.begin(), gone.end());
      for (const std::string_view path : gone) deleted.emplace_back(path.substr(1));
    }
    if (changed.size() + deleted.size() < files.size()) {
      json::value body = functions;
      body.as_object()["base_deploy_id"] = base->deploy_id;
      body.as_object()["files"] = Digests(changed);
      body.as_object()["deleted"] = std::move(deleted);
      auto sent = client.Call("PUT", "/api/v1/deploys/" + deploy_id + "/file_changes", &body);
      if (sent.ok()) {
        relative = true;
        return sent;
      }
      if (sent.error().code != ErrorCode::kBadRequest &&
          sent.error().code != ErrorCode::kNotFound) {
        return sent;
      }
      fmt::print(
          stderr,
          "The last deploy from this folder cannot be built on ({}); sending every file's digest\n",
          sent.error().message);
    }
  }
  std::vector<const LocalFile*> all;
  all.reserve(files.size());
  for (const LocalFile& f : files) all.push_back(&f);
  json::value body = functions;
  body.as_object()["files"] = Digests(all);
  return client.Call("PUT", site_path + "/deploys/" + deploy_id, &body);
}

}  // namespace replideploy::cli
