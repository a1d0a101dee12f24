// DeployService: uploads of files and functions, and the step from uploading to processing.
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <set>
#include <thread>
#include <unordered_set>

#include "core/crypto.hpp"
#include "core/ids.hpp"
#include "core/metrics.hpp"
#include "db/change_events.hpp"
#include "deploys/deploy_messages.hpp"
#include "deploys/deploys.hpp"
#include "deploys/deploys_internal.hpp"
#include "deploys/file_list.hpp"
#include "deploys/function_config.hpp"
#include "store/content_type.hpp"
#include "store/precompress.hpp"

namespace replideploy::deploys {

Result<Deploy> DeployService::AdvanceIfComplete(const Deploy& deploy) {
  if (deploy.state != kStateUploading || !deploy.required.empty() ||
      !deploy.required_functions.empty()) {
    return deploy;
  }
  RD_TRY_STATUS(AdvanceIfUploadsComplete(deploy.id));
  return Load(deploy.id);
}

Result<bool> DeployService::AdvanceIfUploadsCompleteIn(db::Session& s, const std::string& deploy_id,
                                                       std::int64_t now) {
  // Conditional, so that of several uploads finishing at once exactly one moves the deploy on.
  // The deploy's row is locked first, in a statement of its own: on PostgreSQL (read committed)
  // the last two uploads then take turns, and the second one's check below, a new statement,
  // sees the first one's committed rows. Without it each could see the other's file still
  // missing, and neither moved the deploy on. (SQLite serialises writers anyway.)
  RD_TRY_STATUS(s.Exec("UPDATE deploys SET state = state WHERE id = ?", {deploy_id}));
  // "No file left" as the first missing SHA-1 in index order: one seek in deploy_files_missing
  // on both engines (PostgreSQL planned NOT EXISTS as a sequential scan of all deploys' files).
  RD_TRY(db::Rows moved,
         s.Exec("UPDATE deploys SET state = ?, updated_at = ? WHERE id = ? AND state = ? "
                "AND (SELECT sha1 FROM deploy_files WHERE deploy_id = ? AND sha256 IS NULL "
                "ORDER BY sha1 LIMIT 1) IS NULL "
                "AND NOT EXISTS (SELECT 1 FROM deploy_functions WHERE deploy_id = ? AND "
                "uploaded = 0)",
                {std::string(kStateProcessing), now, deploy_id, std::string(kStateUploading),
                 deploy_id, deploy_id}));
  return moved.affected > 0;
}

Status DeployService::AdvanceIfUploadsComplete(const std::string& deploy_id) {
  bool moved = false;
  RD_TRY_STATUS(db_.Transaction([&](db::Session& s) -> Status {
    RD_TRY(moved, AdvanceIfUploadsCompleteIn(s, deploy_id, clock_.NowMillis()));
    return {};
  }));
  if (moved && on_processing_) on_processing_();
  return {};
}

Result<UploadedFile> DeployService::UploadFile(std::string_view user_id, std::string_view deploy_id,
                                               std::string_view raw_path, std::string_view bytes) {
  RD_TRY(std::vector<UploadedFile> uploaded,
         UploadFiles(user_id, deploy_id, {BatchFile{raw_path, bytes}}));
  return std::move(uploaded.front());
}

Result<std::vector<UploadedFile>> DeployService::UploadFiles(std::string_view user_id,
                                                             std::string_view deploy_id,
                                                             const std::vector<BatchFile>& files) {
  RD_TRY(Deploy deploy, LoadOwned(user_id, deploy_id, /*with_required=*/false));
  std::vector<UploadedFile> uploaded;
  uploaded.reserve(files.size());
  for (const BatchFile& file : files) {
    RD_TRY(std::string path, NormalizeDeployPath(file.path));
    RD_TRY(db::Rows rows, db_.Exec("SELECT sha1, content_type FROM deploy_files "
                                   "WHERE deploy_id = ? AND path = ?",
                                   {deploy.id, path}));
    if (rows.empty()) {
      return Unprocessable("unknown_file", "'" + path + "' is not among the deploy's files");
    }
    uploaded.push_back(UploadedFile{path, rows.rows.front().Text(0), "",
                                    static_cast<std::int64_t>(file.bytes.size()),
                                    rows.rows.front().Text(1)});
  }
  if (deploy.state != kStateUploading) {
    // A retried upload of files that already arrived is fine; anything else is too late.
    if (deploy.state == kStateProcessing || deploy.state == kStateReady) {
      bool all_known = true;
      for (UploadedFile& u : uploaded) {
        RD_TRY(db::Rows known, db_.Exec("SELECT sha256 FROM blobs WHERE sha1 = ?", {u.sha1}));
        if (known.empty()) {
          all_known = false;
          break;
        }
        u.sha256 = known.rows.front().Text(0);
      }
      if (all_known) return uploaded;
    }
    return Unprocessable("invalid_state",
                         "deploy is " + deploy.state + "; it takes no more uploads");
  }
  // Every digest checked before anything is stored.
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (Sha1Hex(files[i].bytes) != uploaded[i].sha1) {
      return Unprocessable("digest_mismatch", "content of '" + uploaded[i].path +
                                                  "' does not match the SHA-1 declared for it");
    }
  }
  // Not durable yet (blobs.synced = 0): the deploy syncs all its blobs at once before it becomes
  // ready (SyncDeployBlobs), instead of two fsyncs per uploaded file.
  std::map<std::string, store::BlobInfo> blobs;  // by SHA-256: each content once
  for (std::size_t i = 0; i < files.size(); ++i) {
    RD_TRY(store::BlobInfo blob, blobs_.PutUnsynced(files[i].bytes));
    uploaded[i].sha256 = blob.sha256;
    blobs.emplace(blob.sha256, blob);
  }
  const std::int64_t now = clock_.NowMillis();
  bool moved = false;
  RD_TRY_STATUS(db_.Transaction([&](db::Session& s) -> Status {
    for (const auto& [sha256, blob] : blobs) {
      // An existing row is marked unsynced too: it may be a leftover whose blob a garbage
      // collection removed (the file is deleted before the row), now written again unsynced.
      RD_TRY_STATUS(s.Exec(
          blobs_.DefersSync()
              ? "INSERT INTO blobs (sha256, sha1, size, created_at, synced) VALUES (?, ?, ?, ?, 0) "
                "ON CONFLICT (sha256) DO UPDATE SET synced = 0"
              : "INSERT INTO blobs (sha256, sha1, size, created_at, synced) VALUES (?, ?, ?, ?, 1) "
                "ON CONFLICT (sha256) DO NOTHING",
          {blob.sha256, blob.sha1, static_cast<std::int64_t>(blob.size), now}));
      RD_TRY_STATUS(
          s.Exec("UPDATE deploy_files SET sha256 = ?, size = ? "
                 "WHERE deploy_id = ? AND sha1 = ? AND sha256 IS NULL",
                 {blob.sha256, static_cast<std::int64_t>(blob.size), deploy.id, blob.sha1}));
    }
    // updated_at feeds the upload timeout (minutes): once a second is plenty.
    RD_TRY_STATUS(s.Exec("UPDATE deploys SET updated_at = ? WHERE id = ? AND updated_at < ?",
                         {now, deploy.id, now - 1000}));
    RD_TRY(bool advanced, AdvanceIfUploadsCompleteIn(s, deploy.id, now));
    moved = advanced;
    return {};
  }));
  if (moved && on_processing_) on_processing_();
  return uploaded;
}

Result<Deploy> DeployService::UploadFunction(std::string_view user_id, std::string_view deploy_id,
                                             std::string_view name, std::string_view zip,
                                             std::string_view runtime) {
  RD_TRY(Deploy deploy, LoadOwned(user_id, deploy_id));
  RD_TRY(db::Rows rows,
         db_.Exec("SELECT sha256 FROM deploy_functions WHERE deploy_id = ? AND name = ?",
                  {deploy.id, std::string(name)}));
  if (rows.empty()) {
    return Unprocessable("unknown_function",
                         "'" + std::string(name) + "' is not among the deploy's functions");
  }
  if (deploy.state != kStateUploading) {
    return Unprocessable("invalid_state",
                         "deploy is " + deploy.state + "; it takes no more uploads");
  }
  const std::string declared = rows.rows.front().Text(0);
  auto blob = blobs_.Put(zip, declared);
  if (!blob.ok()) {
    if (blob.error().code == ErrorCode::kUnprocessable) {
      return Unprocessable("digest_mismatch", "function '" + std::string(name) +
                                                  "' does not match the SHA-256 declared for it");
    }
    return std::move(blob).error();
  }
  const std::int64_t now = clock_.NowMillis();
  RD_TRY_STATUS(
      db_.Exec("INSERT INTO blobs (sha256, sha1, size, created_at) VALUES (?, ?, ?, ?) "
               "ON CONFLICT (sha256) DO NOTHING",
               {blob->sha256, blob->sha1, static_cast<std::int64_t>(blob->size), now}));
  RD_TRY_STATUS(
      db_.Exec("UPDATE deploy_functions SET uploaded = 1, runtime = ? "
               "WHERE deploy_id = ? AND sha256 = ?",
               {std::string(runtime.substr(0, 64)), deploy.id, declared}));
  RD_TRY_STATUS(db_.Exec("UPDATE deploys SET updated_at = ? WHERE id = ?", {now, deploy.id}));
  RD_TRY(Deploy after, Load(deploy.id));
  return AdvanceIfComplete(after);
}

}  // namespace replideploy::deploys
