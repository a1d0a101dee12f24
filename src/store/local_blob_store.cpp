// LocalBlobStore: blobs as files under a root directory (layout in blob_store.hpp).
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <utility>

#include "store/blob_store.hpp"
#include "store/posix_file.hpp"
#include "store/spooled_writer.hpp"

namespace replideploy::store {

namespace {

namespace fs = std::filesystem;
using TimePoint = std::chrono::system_clock::time_point;

TimePoint MtimeOf(const struct stat& st) {
  return TimePoint(std::chrono::duration_cast<std::chrono::system_clock::duration>(
      std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
}

bool IsHexPair(std::string_view name) {
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); };
  return name.size() == 2 && hex(name[0]) && hex(name[1]);
}

}  // namespace

class LocalBlobStore::Writer final : public SpooledWriter {
 public:
  Writer(LocalBlobStore& store, TempFile temp, bool durable = true)
      : SpooledWriter(std::move(temp)), store_(store), durable_(durable) {}

 private:
  Result<BlobInfo> Store(const BlobInfo& info) override {
    TempFile& file = temp();
    if (durable_) RD_TRY_STATUS(Fsync(file.fd.Get(), file.path));

    std::lock_guard lock(store_.LockFor(info.sha256));
    const std::string final_path = store_.PathFor(info.sha256, Variant::kIdentity);
    struct stat st {};
    // A size mismatch means the stored file was damaged outside our control: replace it.
    if (::stat(final_path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        static_cast<std::uint64_t>(st.st_size) == info.size) {
      if (::utimensat(AT_FDCWD, final_path.c_str(), nullptr, 0) != 0) {
        return IoError("utimensat", final_path, errno);
      }
      return info;
    }
    RD_TRY_STATUS(store_.EnsureDir(info.sha256, durable_));
    // The mtime says when the blob was committed, not when its upload began (see gc.hpp).
    if (::futimens(file.fd.Get(), nullptr) != 0) return IoError("futimens", file.path, errno);
    file.fd.Reset();
    RD_TRY_STATUS(store_.MoveIntoPlace(file.path, info.sha256, Variant::kIdentity));
    file.Installed();
    if (durable_) RD_TRY_STATUS(FsyncDir(store_.DirFor(info.sha256)));
    return info;
  }

  LocalBlobStore& store_;
  const bool durable_;
};

LocalBlobStore::LocalBlobStore(std::string root)
    : root_(std::move(root)), blobs_dir_(root_ + "/blobs"), tmp_dir_(root_ + "/tmp") {}

Result<std::unique_ptr<LocalBlobStore>> LocalBlobStore::Open(const std::string& root,
                                                             LocalBlobStoreOptions options) {
  if (root.empty()) return MakeError(ErrorCode::kInternal, "blob store root is empty");
  std::string trimmed = root;
  while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
  std::unique_ptr<LocalBlobStore> store(new LocalBlobStore(std::move(trimmed)));

  for (const std::string& dir : {store->blobs_dir_, store->tmp_dir_}) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
      spdlog::error("blob store: cannot create {}: {}", dir, ec.message());
      return MakeError(ErrorCode::kInternal, "cannot create the blob store directories");
    }
  }

  // Temporary files of writes a crash interrupted. Young ones may belong to another process
  // sharing the root and are left alone.
  const TimePoint stale_before = std::chrono::system_clock::now() - options.stale_temp_age;
  std::error_code ec;
  for (fs::directory_iterator it(store->tmp_dir_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string path = it->path().string();
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (MtimeOf(st) < stale_before && ::unlink(path.c_str()) != 0 && errno != ENOENT) {
      spdlog::warn("blob store: cannot remove stale temporary file {}", path);
    }
  }
  if (ec) {
    spdlog::error("blob store: cannot list {}: {}", store->tmp_dir_, ec.message());
    return MakeError(ErrorCode::kInternal, "cannot list the blob store's temporary files");
  }

  // Fail now rather than on the first upload when the root is not writable.
  RD_TRY(auto probe, store->CreateTemp());
  TempFile probe_file(UniqueFd(probe.first), std::move(probe.second));
  return store;
}

std::string LocalBlobStore::DirFor(std::string_view sha256) const {
  std::string dir;
  dir.reserve(blobs_dir_.size() + 6);
  dir.append(blobs_dir_)
      .append("/")
      .append(sha256.substr(0, 2))
      .append("/")
      .append(sha256.substr(2, 2));
  return dir;
}

std::string LocalBlobStore::PathFor(std::string_view sha256, Variant variant) const {
  std::string path = DirFor(sha256);
  path.append("/").append(sha256).append(VariantSuffix(variant));
  return path;
}

std::mutex& LocalBlobStore::LockFor(std::string_view sha256) {
  auto nibble = [](char c) -> std::size_t {
    return static_cast<std::size_t>(c <= '9' ? c - '0' : c - 'a' + 10);
  };
  return locks_[nibble(sha256[0]) * 16 + nibble(sha256[1])];
}

Result<std::pair<int, std::string>> LocalBlobStore::CreateTemp() {
  std::string path = tmp_dir_ + "/blob-XXXXXX";
  const int fd = ::mkostemp(path.data(), O_CLOEXEC);
  if (fd < 0) return IoError("mkostemp", path, errno);
  if (::fchmod(fd, 0644) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return IoError("fchmod", path, err);
  }
  return std::pair<int, std::string>(fd, std::move(path));
}

Status LocalBlobStore::EnsureDir(std::string_view sha256, bool durable) {
  std::string parent = blobs_dir_;
  std::string dir = blobs_dir_ + "/" + std::string(sha256.substr(0, 2));
  for (int level = 0; level < 2; ++level) {
    if (::mkdir(dir.c_str(), 0755) == 0) {
      // The new directory's entry must be durable before anything inside it is.
      if (durable) RD_TRY_STATUS(FsyncDir(parent));
    } else if (errno != EEXIST) {
      return IoError("mkdir", dir, errno);
    }
    parent = dir;
    dir = DirFor(sha256);
  }
  return {};
}

Status LocalBlobStore::MoveIntoPlace(const std::string& temp_path, std::string_view sha256,
                                     Variant variant) {
  const std::string final_path = PathFor(sha256, variant);
  if (::rename(temp_path.c_str(), final_path.c_str()) != 0) {
    return IoError("rename", final_path, errno);
  }
  return {};
}

Result<std::unique_ptr<BlobWriter>> LocalBlobStore::NewWriter() {
  RD_TRY(auto temp, CreateTemp());
  return std::unique_ptr<BlobWriter>(
      new Writer(*this, TempFile(UniqueFd(temp.first), std::move(temp.second))));
}

Result<BlobInfo> LocalBlobStore::PutUnsynced(std::string_view data) {
  BlobDigester digester;
  digester.Update(data);
  RD_TRY(BlobInfo info, digester.Finish());
  RD_TRY(bool stored, Touch(info.sha256));
  if (stored) return info;
  RD_TRY(auto temp, CreateTemp());
  Writer writer(*this, TempFile(UniqueFd(temp.first), std::move(temp.second)),
                /*durable=*/false);
  RD_TRY_STATUS(writer.Write(data));
  return writer.Commit(info.sha256);
}

Status LocalBlobStore::SyncBlobs(const std::vector<std::string>& sha256s) {
  for (const std::string& sha256 : sha256s) RD_TRY_STATUS(ValidateSha256(sha256));
  if (sha256s.empty()) return {};
  // Beyond a few blobs one syncfs of the store's file system is cheaper than an fsync of each
  // blob and of each directory on its path.
  if (sha256s.size() > 8) {
    UniqueFd root(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root.IsValid()) return IoError("open", root_, errno);
    if (::syncfs(root.Get()) != 0) return IoError("syncfs", root_, errno);
    return {};
  }
  for (const std::string& sha256 : sha256s) {
    const std::string path = PathFor(sha256, Variant::kIdentity);
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.IsValid()) {
      if (errno == ENOENT || errno == ENOTDIR) continue;
      return IoError("open", path, errno);
    }
    RD_TRY_STATUS(Fsync(fd.Get(), path));
    RD_TRY_STATUS(FsyncDir(DirFor(sha256)));
    RD_TRY_STATUS(FsyncDir(blobs_dir_ + "/" + sha256.substr(0, 2)));
  }
  return FsyncDir(blobs_dir_);
}

Result<bool> LocalBlobStore::Has(std::string_view sha256, Variant variant) {
  RD_TRY_STATUS(ValidateSha256(sha256));
  const std::string path = PathFor(sha256, variant);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return false;
    return IoError("stat", path, errno);
  }
  return S_ISREG(st.st_mode);
}

Result<bool> LocalBlobStore::Touch(std::string_view sha256) {
  RD_TRY_STATUS(ValidateSha256(sha256));
  const std::string path = PathFor(sha256, Variant::kIdentity);
  std::lock_guard lock(LockFor(sha256));
  if (::utimensat(AT_FDCWD, path.c_str(), nullptr, 0) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return false;
    return IoError("utimensat", path, errno);
  }
  return true;
}

Result<std::string> LocalBlobStore::Read(std::string_view sha256, Variant variant) {
  RD_TRY_STATUS(ValidateSha256(sha256));
  const std::string path = PathFor(sha256, variant);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.IsValid()) return IoError("open", path, errno);
  struct stat st {};
  if (::fstat(fd.Get(), &st) != 0) return IoError("fstat", path, errno);
  std::string content(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t filled = 0;
  for (;;) {
    // Read one byte past the expected end: sizes of stored files never change, but a short or
    // long read must not go unnoticed.
    if (filled == content.size()) content.resize(content.size() + 1);
    RD_TRY(std::size_t n,
           ReadSome(fd.Get(), content.data() + filled, content.size() - filled, path));
    if (n == 0) break;
    filled += n;
  }
  content.resize(filled);
  return content;
}

Result<std::uint64_t> LocalBlobStore::Size(std::string_view sha256, Variant variant) {
  RD_TRY_STATUS(ValidateSha256(sha256));
  const std::string path = PathFor(sha256, variant);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return IoError("stat", path, errno == ENOTDIR ? ENOENT : errno);
  }
  return static_cast<std::uint64_t>(st.st_size);
}

std::optional<std::string> LocalBlobStore::LocalPath(std::string_view sha256, Variant variant) {
  if (!IsValidSha256(sha256)) return std::nullopt;
  return PathFor(sha256, variant);
}

Status LocalBlobStore::PutVariant(std::string_view sha256, Variant variant, std::string_view data) {
  RD_TRY_STATUS(ValidateSha256(sha256));
  if (variant == Variant::kIdentity) {
    return MakeError(ErrorCode::kBadRequest, "PutVariant takes a compressed variant; use Put");
  }
  RD_TRY(auto created, CreateTemp());
  TempFile temp(UniqueFd(created.first), std::move(created.second));
  RD_TRY_STATUS(WriteAll(temp.fd.Get(), data, temp.path));
  RD_TRY_STATUS(Fsync(temp.fd.Get(), temp.path));
  temp.fd.Reset();

  // Under the lock, so that a concurrent Delete cannot leave this variant without its blob.
  std::lock_guard lock(LockFor(sha256));
  const std::string blob_path = PathFor(sha256, Variant::kIdentity);
  struct stat st {};
  if (::stat(blob_path.c_str(), &st) != 0) {
    return IoError("stat", blob_path, errno == ENOTDIR ? ENOENT : errno);
  }
  RD_TRY_STATUS(MoveIntoPlace(temp.path, sha256, variant));
  temp.Installed();
  return FsyncDir(DirFor(sha256));
}

Status LocalBlobStore::DeleteLocked(std::string_view sha256) {
  bool removed = false;
  // Variants first: a crash part-way leaves a blob short of a variant, never a variant
  // without its blob.
  for (Variant v : {Variant::kBrotli, Variant::kGzip, Variant::kIdentity}) {
    const std::string path = PathFor(sha256, v);
    if (::unlink(path.c_str()) == 0) {
      removed = true;
    } else if (errno != ENOENT && errno != ENOTDIR) {
      return IoError("unlink", path, errno);
    }
  }
  if (removed) RD_TRY_STATUS(FsyncDir(DirFor(sha256)));
  return {};
}

Status LocalBlobStore::Delete(std::string_view sha256) {
  RD_TRY_STATUS(ValidateSha256(sha256));
  std::lock_guard lock(LockFor(sha256));
  return DeleteLocked(sha256);
}

Result<bool> LocalBlobStore::DeleteIfOlderThan(std::string_view sha256, TimePoint cutoff) {
  RD_TRY_STATUS(ValidateSha256(sha256));
  std::lock_guard lock(LockFor(sha256));
  const std::string path = PathFor(sha256, Variant::kIdentity);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return false;
    return IoError("stat", path, errno);
  }
  if (MtimeOf(st) >= cutoff) return false;
  RD_TRY_STATUS(DeleteLocked(sha256));
  return true;
}

Result<std::vector<StoredBlob>> LocalBlobStore::List() {
  std::vector<StoredBlob> blobs;
  auto failed = [](const std::string& dir, const std::error_code& ec) {
    spdlog::error("blob store: cannot list {}: {}", dir, ec.message());
    return MakeError(ErrorCode::kInternal, "cannot list the blob store");
  };
  std::error_code ec;
  for (fs::directory_iterator top(blobs_dir_, ec), end; !ec && top != end; top.increment(ec)) {
    const std::string first = top->path().filename().string();
    if (!IsHexPair(first)) continue;
    std::error_code ec2;
    for (fs::directory_iterator mid(top->path(), ec2); !ec2 && mid != end; mid.increment(ec2)) {
      const std::string second = mid->path().filename().string();
      if (!IsHexPair(second)) continue;
      std::error_code ec3;
      for (fs::directory_iterator leaf(mid->path(), ec3); !ec3 && leaf != end;
           leaf.increment(ec3)) {
        std::string name = leaf->path().filename().string();
        if (!IsValidSha256(name) || name.compare(0, 2, first) != 0 ||
            name.compare(2, 2, second) != 0) {
          continue;  // variants, or nothing of ours
        }
        const std::string path = leaf->path().string();
        struct stat st {};
        if (::lstat(path.c_str(), &st) != 0) {
          if (errno == ENOENT) continue;  // deleted meanwhile
          return IoError("stat", path, errno);
        }
        if (!S_ISREG(st.st_mode)) continue;
        blobs.push_back(
            StoredBlob{std::move(name), static_cast<std::uint64_t>(st.st_size), MtimeOf(st)});
      }
      if (ec3 && ec3 != std::errc::no_such_file_or_directory) {
        return failed(mid->path().string(), ec3);
      }
    }
    if (ec2 && ec2 != std::errc::no_such_file_or_directory) {
      return failed(top->path().string(), ec2);
    }
  }
  if (ec) return failed(blobs_dir_, ec);
  return blobs;
}

}  // namespace replideploy::store
