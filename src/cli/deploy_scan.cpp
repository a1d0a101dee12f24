#include "cli/deploy_scan.hpp"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>

#include "core/crypto.hpp"
#include "store/blob_store.hpp"

namespace replideploy::cli {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

bool Skipped(const fs::path& relative) {
  for (const auto& part : relative) {
    const std::string s = part.string();
    if (s == "node_modules" || s == "__MACOSX") return true;
    if (!s.empty() && s.front() == '.' && s != ".well-known") return true;
  }
  return false;
}

Result<std::vector<LocalFile>> ListFiles(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return MakeError(ErrorCode::kBadRequest, dir + " is not a directory");
  std::vector<LocalFile> files;
  for (auto it =
           fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const fs::path relative = it->path().lexically_relative(dir);
    if (Skipped(relative)) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (it->is_symlink() && it->is_directory()) {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file()) continue;
    files.push_back({"/" + relative.generic_string(), it->path().string(), "", 0});
  }
  if (ec) return MakeError(ErrorCode::kBadRequest, "cannot read " + dir + ": " + ec.message());
  return files;
}

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

std::optional<FileStamp> Stamp(const std::string& disk_path) {
  struct stat st {};
  if (::stat(disk_path.c_str(), &st) != 0) return std::nullopt;
  return FileStamp{static_cast<std::uint64_t>(st.st_size),
                   std::int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec,
                   static_cast<std::uint64_t>(st.st_ino)};
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
  RD_TRY(std::vector<LocalFile> files, ListFiles(dir));
  std::vector<std::optional<CachedDigest>> fresh(files.size());
  std::atomic<std::size_t> next{0}, hashed{0};
  std::mutex error_mu;
  std::string error;
  // The deploy API names files by SHA-1 only; hashed on every core.
  auto hash = [&] {
    for (std::size_t i = next++; i < files.size(); i = next++) {
      LocalFile& f = files[i];
      // Stamped before reading: a write during the read changes the mtime, so the next scan
      // reads the file again.
      const std::optional<FileStamp> stamp = Stamp(f.disk_path);
      if (stamp) {
        const auto cached = cache.digests.find(f.path);
        if (cached != cache.digests.end() && cached->second.stamp == *stamp) {
          f.sha1 = cached->second.sha1;
          f.size = stamp->size;
          fresh[i] = cached->second;
          continue;
        }
      }
      if (Status st = HashFile(f); !st.ok()) {
        std::lock_guard lock(error_mu);
        if (error.empty()) error = st.error().message;
        return;
      }
      ++hashed;
      if (stamp && stamp->size == f.size && Cacheable(*stamp, scan_start)) {
        fresh[i] = CachedDigest{*stamp, f.sha1};
      }
    }
  };
  std::vector<std::thread> threads;
  const unsigned cores = std::clamp(std::thread::hardware_concurrency(), 1u, 8u);
  for (unsigned t = 1; t < cores && t < files.size(); ++t) threads.emplace_back(hash);
  hash();
  for (auto& t : threads) t.join();
  if (!error.empty()) return MakeError(ErrorCode::kBadRequest, error);
  cache.digests.clear();  // files gone since the last scan are forgotten
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (fresh[i]) cache.digests.emplace(files[i].path, std::move(*fresh[i]));
  }
  return ScannedFolder{std::move(files), hashed.load()};
}

Result<json::value> SendFileList(const ApiClient& client, const std::string& site_path,
                                 const std::string& deploy_id, const std::vector<LocalFile>& files,
                                 const BaseDeploy* base, const json::object& functions,
                                 bool& relative) {
  relative = false;
  if (base != nullptr) {
    std::vector<const LocalFile*> changed;
    json::array deleted;
    std::map<std::string_view, bool> present;  // base path -> still in the folder
    for (const auto& [path, sha1] : base->files) present.emplace(path, false);
    for (const LocalFile& f : files) {
      const auto in_base = base->files.find(f.path);
      if (in_base != base->files.end()) present[in_base->first] = true;
      if (in_base == base->files.end() || in_base->second != f.sha1) changed.push_back(&f);
    }
    for (const auto& [path, kept] : present) {
      if (!kept) deleted.emplace_back(path.substr(1));
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
