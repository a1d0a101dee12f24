// DeployService::SetFilesRelative: a file list as the changes to an earlier deploy of the site,
// and PatchedManifest: such a deploy's manifest made, when it is processed, from the base's
// cached manifest and the changed rows only (no read of every row, no sync check of blobs
// that a ready deploy holds already). The process that wrote the list remembers its changed
// and deleted paths under the deploys.file_list_id written with the rows; another process, a
// restart, a list set again or a base not in the cache all mean the whole read, and a file
// count that does not come out as the deploy's means it too.
//
// Why the copied rows need no claim (BlobStore::Touch) for the garbage collector
// (store/gc.hpp; DeployService::CollectGarbage marks with one SELECT of the SHA-256s of every
// deploy that is not error or canceled, taken after its `now`):
//   - The base deploy is ready when the copying transaction reads its rows (checked in that
//     transaction), and a ready deploy stays ready and keeps its rows until its site is deleted
//     (which deletes the new deploy too). Every blob of a ready deploy is stored: the uploads
//     and claims that made it ready ended before it became ready, and the collector's protocol
//     keeps what a deploy recorded and claimed.
//   - Take a collection G and a copied blob X. G's mark is one statement, so it reads one
//     committed state of the database: either before the copy committed, when the base's row
//     for X is there (X is live, kept) unless the base's rows were not yet recorded, or after,
//     when the new deploy's row for X is there (uploading: live, kept). If the base's row was
//     recorded after G's mark, the base claimed X after G's `now` (claims follow recording), so
//     X's mtime is too young for G to delete it, whatever G does later.
// So the base's blobs outlive G exactly as they did before the copy, and the copy keeps them
// after. Only the changed files' reused content is claimed, as SetFiles does for all of them.
#include <spdlog/spdlog.h>

#include <set>

#include "core/crypto.hpp"
#include "deploys/deploys.hpp"
#include "deploys/deploys_internal.hpp"
#include "deploys/file_list.hpp"

namespace replideploy::deploys {

namespace {

constexpr std::size_t kRememberedRelativeLists = 256;

// `paths`' rows of the deploy, deleted kInsertBatch at a time; returns how many were there.
Result<std::int64_t> DeleteDeployPaths(db::Session& s, const std::string& id,
                                       const std::set<std::string>& paths) {
  std::int64_t removed = 0;
  auto it = paths.begin();
  while (it != paths.end()) {
    std::string sql = "DELETE FROM deploy_files WHERE deploy_id = ? AND path IN (";
    db::Params params{id};
    for (std::size_t n = 0; n < kInsertBatch && it != paths.end(); ++n, ++it) {
      sql += n == 0 ? "?" : ", ?";
      params.emplace_back(*it);
    }
    RD_TRY(db::Rows rows, s.Exec(sql + ")", params));
    removed += static_cast<std::int64_t>(rows.affected);
  }
  return removed;
}

Result<std::set<std::string>> CheckDeletedPaths(const std::vector<std::string>& deleted,
                                                const CheckedFileList& changed,
                                                const FileListLimits& limits) {
  if (deleted.size() > limits.max_files) {
    return Unprocessable("too_many_files",
                         "a deploy holds at most " + std::to_string(limits.max_files) + " files");
  }
  std::set<std::string> out;
  for (const std::string& raw : deleted) {
    if (raw.size() > limits.max_path_bytes) {
      return Unprocessable("invalid_path", "file path longer than " +
                                               std::to_string(limits.max_path_bytes) + " bytes");
    }
    RD_TRY(std::string path, NormalizeDeployPath(raw));
    if (changed.files.contains(path)) {
      return Unprocessable("invalid_path",
                           "file path '" + path + "' is listed both as changed and as deleted");
    }
    if (!out.insert(path).second) {
      return Unprocessable("invalid_path", "deleted path '" + path + "' is listed twice");
    }
  }
  return out;
}

}  // namespace

Result<Deploy> DeployService::SetFilesRelative(
    std::string_view user_id, std::string_view deploy_id, std::string_view base_deploy_id,
    const std::map<std::string, std::string>& changed, const std::vector<std::string>& deleted,
    const std::map<std::string, std::string>& functions,
    const std::map<std::string, std::string>& function_configs) {
  RD_TRY(Deploy deploy, LoadForFileList(user_id, deploy_id));
  const FileListLimits limits{options_.max_files, options_.max_path_bytes};
  RD_TRY(const CheckedFileList checked, CheckFileList(changed, functions, limits));
  RD_TRY(const std::set<std::string> removed, CheckDeletedPaths(deleted, checked, limits));
  RD_TRY(const auto configs, CheckFunctionConfigs(function_configs, checked.functions));
  // Another user's deploy looks missing (LoadOwned), another site's is refused alike.
  auto base = LoadOwned(user_id, base_deploy_id, /*with_required=*/false);
  if (!base.ok() && base.error().code != ErrorCode::kNotFound) return std::move(base).error();
  if (!base.ok() || base->site_id != deploy.site_id) {
    return Unprocessable("invalid_base_deploy", "base_deploy_id is not a deploy of this site");
  }
  const std::string base_id = base->id;
  const std::string id = deploy.id;
  std::set<std::string> replaced;  // changed paths: the base's row, if any, goes
  for (const auto& [path, sha1] : checked.files) replaced.insert(path);
  const std::int64_t now = clock_.NowMillis();
  const std::string file_list_id = core::HexEncode(core::RandomBytes(12));
  std::vector<std::string> reused;
  RD_TRY_STATUS(db_.Transaction([&](db::Session& s) -> Status {
    // In the transaction: the GC argument above needs the base ready when its rows are read.
    RD_TRY(db::Rows state, s.Exec("SELECT state FROM deploys WHERE id = ?", {base_id}));
    if (state.empty() || state.rows.front().Text(0) != kStateReady) {
      return Unprocessable("base_deploy_not_ready",
                           "the base deploy is not ready; send the whole file list");
    }
    RD_TRY_STATUS(s.Exec("DELETE FROM deploy_files WHERE deploy_id = ?", {id}));
    // One statement over the base's primary-key range (deploy_id, path), then the few rows
    // that change are deleted by key: no IN list as long as the site.
    RD_TRY(db::Rows copied,
           s.Exec("INSERT INTO deploy_files (deploy_id, path, sha1, content_type, sha256, size) "
                  "SELECT ?, path, sha1, content_type, sha256, size FROM deploy_files "
                  "WHERE deploy_id = ?",
                  {id, base_id}));
    RD_TRY(const std::int64_t gone, DeleteDeployPaths(s, id, removed));
    if (gone != static_cast<std::int64_t>(removed.size())) {
      return Unprocessable("unknown_file", "a deleted path is not among the base deploy's files");
    }
    RD_TRY(const std::int64_t overwritten, DeleteDeployPaths(s, id, replaced));
    if (relative_copy_hook_) relative_copy_hook_();
    const std::int64_t total = static_cast<std::int64_t>(copied.affected) - gone - overwritten +
                               static_cast<std::int64_t>(checked.files.size());
    if (static_cast<std::size_t>(total) + checked.functions.size() > limits.max_files) {
      return Unprocessable("too_many_files",
                           "a deploy holds at most " + std::to_string(limits.max_files) + " files");
    }
    RD_TRY_STATUS(InsertDeployFiles(s, id, checked.files, reused));
    RD_TRY_STATUS(InsertDeployFunctions(s, id, checked.functions, configs));
    RD_TRY_STATUS(
        s.Exec("UPDATE deploys SET state = ?, file_count = ?, updated_at = ?, file_list_id = ? "
               "WHERE id = ?",
               {std::string(kStateUploading), total, now, file_list_id, id}));
    return {};
  }));
  RememberRelativeFileList(id, RelativeFileList{file_list_id,
                                                base_id,
                                                {replaced.begin(), replaced.end()},
                                                {removed.begin(), removed.end()}});
  return ClaimReusedAndAdvance(id, reused);
}

void DeployService::RememberRelativeFileList(const std::string& deploy_id, RelativeFileList list) {
  std::lock_guard lock(relative_mu_);
  // Deploys that are canceled or never finish their uploads leave theirs: a bound, not an LRU,
  // is enough for what is only a shortcut.
  if (relative_lists_.size() >= kRememberedRelativeLists) relative_lists_.clear();
  relative_lists_.insert_or_assign(deploy_id, std::move(list));
}

Result<std::shared_ptr<DeployManifest>> DeployService::PatchedManifest(const Deploy& deploy) {
  RelativeFileList list;
  {
    std::lock_guard lock(relative_mu_);
    auto node = relative_lists_.extract(deploy.id);
    if (node.empty()) return std::shared_ptr<DeployManifest>{};
    list = std::move(node.mapped());
  }
  std::shared_ptr<const DeployManifest> base;
  {
    std::lock_guard lock(manifests_mu_);
    if (auto it = manifests_.find(list.base_id); it != manifests_.end()) {
      base = it->second.manifest;
    }
  }
  if (!base) return std::shared_ptr<DeployManifest>{};
  // The rows are still the ones this process wrote: no list was set since, here or elsewhere.
  RD_TRY(db::Rows current, db_.Exec("SELECT file_list_id FROM deploys WHERE id = ?", {deploy.id}));
  if (current.empty() || current.rows.front().Text(0) != list.file_list_id) {
    return std::shared_ptr<DeployManifest>{};
  }
  // The changed rows, with what SyncDeployBlobs and LoadManifest read of their blobs. The
  // copied rows' blobs belong to a ready deploy: durable, and in the base's manifest already.
  std::vector<db::Row> changed;
  for (auto it = list.changed.begin(); it != list.changed.end();) {
    std::string sql =
        "SELECT f.path, f.sha256, f.size, f.content_type, b.has_br, b.has_gzip, b.sha1, "
        "b.created_at, b.sha256 IS NULL OR b.synced = 0 FROM deploy_files f "
        "LEFT JOIN blobs b ON b.sha256 = f.sha256 WHERE f.deploy_id = ? AND f.path IN (";
    db::Params params{deploy.id};
    for (std::size_t n = 0; n < kInsertBatch && it != list.changed.end(); ++n, ++it) {
      sql += n == 0 ? "?" : ", ?";
      params.emplace_back(*it);
    }
    RD_TRY(db::Rows rows, db_.Exec(sql + ")", params));
    for (auto& r : rows.rows) changed.push_back(std::move(r));
  }
  std::vector<BlobToSync> unsynced;
  for (const auto& r : changed) {
    if (r.IsNull(1)) {
      return MakeError(ErrorCode::kInternal,
                       "deploy " + deploy.id + " has a file without content: " + r.Text(0));
    }
    if (r.IsNull(8) || r.Bool(8)) {
      unsynced.push_back({r.Text(1), r.IsNull(6) ? "" : r.Text(6),
                          r.IsNull(7) ? std::nullopt : std::optional(r.Int(7))});
    }
  }
  RD_TRY_STATUS(AddUnsyncedFunctions(deploy.id, unsynced));
  RD_TRY_STATUS(SyncBlobs(unsynced));

  auto manifest = std::make_shared<DeployManifest>();
  manifest->deploy_id = deploy.id;
  manifest->site_id = deploy.site_id;
  std::size_t path_bytes = 0;
  for (const ManifestEntry& e : base->files) path_bytes += e.path_size;
  for (const auto& r : changed) path_bytes += r.Text(0).size();
  manifest->files.Reserve(base->files.size() + changed.size(), path_bytes);
  for (const ManifestEntry& e : base->files) {
    const std::string_view path = base->files.Path(e);
    if (list.changed.contains(path) || list.deleted.contains(path)) continue;
    manifest->files.InsertCopy(path, e);
  }
  for (const auto& r : changed) {
    if (!manifest->files.Insert(r.Text(0), r.Text(1), r.Int(2), r.Text(3), r.Bool(4), r.Bool(5))) {
      return std::shared_ptr<DeployManifest>{};
    }
  }
  // Whatever went differently than the rows say (a base with rows its manifest lacks, a path
  // written two ways) shows here: then the whole read.
  if (static_cast<std::int64_t>(manifest->files.size()) != deploy.file_count) {
    spdlog::warn("deploy {}: patched manifest has {} files, the deploy {}; reading it whole",
                 deploy.id, manifest->files.size(), deploy.file_count);
    return std::shared_ptr<DeployManifest>{};
  }
  manifest->files.ShrinkToFit();
  RD_TRY_STATUS(LoadManifestFunctions(*manifest));
  return manifest;
}

}  // namespace replideploy::deploys
