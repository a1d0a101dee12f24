// DeployService: processing (durable blobs, publishing), variants, manifests, expiry and
// garbage collection.
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

Result<std::shared_ptr<DeployManifest>> DeployService::LoadManifest(const std::string& deploy_id,
                                                                    const std::string& site_id) {
  RD_TRY(db::Rows pending,
         db_.Exec("SELECT variants_pending FROM deploys WHERE id = ?", {deploy_id}));
  RD_TRY(db::Rows rows,
         db_.Exec("SELECT f.path, f.sha256, f.size, f.content_type, b.has_br, b.has_gzip "
                  "FROM deploy_files f LEFT JOIN blobs b ON b.sha256 = f.sha256 "
                  "WHERE f.deploy_id = ?",
                  {deploy_id}));
  auto manifest = std::make_shared<DeployManifest>();
  manifest->deploy_id = deploy_id;
  manifest->site_id = site_id;
  manifest->variants_pending = !pending.empty() && pending.rows.front().Bool(0);
  std::size_t path_bytes = 0;
  for (const auto& r : rows.rows) path_bytes += r.Text(0).size();
  manifest->files.Reserve(rows.rows.size(), path_bytes);
  for (const auto& r : rows.rows) {
    if (r.IsNull(1) ||
        !manifest->files.Insert(r.Text(0), r.Text(1), r.Int(2), r.Text(3), r.Bool(4), r.Bool(5))) {
      return MakeError(ErrorCode::kInternal,
                       "deploy " + deploy_id + " has a file without valid content: " + r.Text(0));
    }
  }
  manifest->files.ShrinkToFit();
  RD_TRY_STATUS(LoadManifestFunctions(*manifest));
  return manifest;
}

Status DeployService::LoadManifestFunctions(DeployManifest& manifest) {
  RD_TRY(db::Rows fns, db_.Exec("SELECT name, sha256, runtime, config FROM deploy_functions "
                                "WHERE deploy_id = ? AND uploaded = 1 ORDER BY name",
                                {manifest.deploy_id}));
  for (const auto& r : fns.rows) {
    FunctionEntry entry{r.Text(1), r.Text(2)};
    RD_TRY_STATUS(LoadFunctionConfig(r.Text(3), entry));
    if (!entry.routes.empty()) manifest.routed_functions.push_back(r.Text(0));
    manifest.functions.emplace(r.Text(0), std::move(entry));
  }
  return {};
}

Result<std::vector<DeployService::VariantJob>> DeployService::VariantJobs(
    const std::string& deploy_id) {
  RD_TRY(db::Rows blobs,
         db_.Exec("SELECT DISTINCT f.sha256, f.content_type, f.size FROM deploy_files f "
                  "JOIN blobs b ON b.sha256 = f.sha256 "
                  "WHERE f.deploy_id = ? AND b.has_br = 0 AND b.has_gzip = 0",
                  {deploy_id}));
  std::vector<VariantJob> jobs;
  std::set<std::string> seen;
  for (const auto& r : blobs.rows) {
    VariantJob job{r.Text(0), r.Text(1)};
    const auto size = static_cast<std::uint64_t>(r.Int(2));
    if (!store::IsCompressible(job.content_type) || size < store::kMinPrecompressBytes ||
        size > store::kMaxPrecompressBytes || !seen.insert(job.sha256).second) {
      continue;
    }
    jobs.push_back(std::move(job));
  }
  return jobs;
}

Status DeployService::SyncDeployBlobs(const Deploy& deploy) {
  // The deploy's files and functions whose blob is not known to be durable: marked unsynced,
  // or without a row at all (a garbage collection's leftover, see UploadFile), then checked.
  RD_TRY(db::Rows rows,
         db_.Exec("SELECT f.sha256, b.sha1, b.created_at FROM deploy_files f "
                  "LEFT JOIN blobs b ON b.sha256 = f.sha256 WHERE f.deploy_id = ? AND "
                  "f.sha256 IS NOT NULL AND (b.sha256 IS NULL OR b.synced = 0)",
                  {deploy.id}));
  std::vector<BlobToSync> blobs;
  for (const auto& r : rows.rows) {
    blobs.push_back({r.Text(0), r.IsNull(1) ? "" : r.Text(1),
                     r.IsNull(2) ? std::nullopt : std::optional(r.Int(2))});
  }
  RD_TRY_STATUS(AddUnsyncedFunctions(deploy.id, blobs));
  return SyncBlobs(blobs);
}

Status DeployService::AddUnsyncedFunctions(const std::string& deploy_id,
                                           std::vector<BlobToSync>& out) {
  RD_TRY(db::Rows rows, db_.Exec("SELECT fn.sha256, b.sha1, b.created_at FROM deploy_functions fn "
                                 "LEFT JOIN blobs b ON b.sha256 = fn.sha256 WHERE fn.deploy_id = ? "
                                 "AND (b.sha256 IS NULL OR b.synced = 0)",
                                 {deploy_id}));
  for (const auto& r : rows.rows) {
    out.push_back({r.Text(0), r.IsNull(1) ? "" : r.Text(1),
                   r.IsNull(2) ? std::nullopt : std::optional(r.Int(2))});
  }
  return {};
}

Status DeployService::SyncBlobs(const std::vector<BlobToSync>& blobs) {
  if (blobs.empty()) return {};
  std::vector<std::string> digests;  // each blob once (files may share content)
  std::vector<const BlobToSync*> unique;
  digests.reserve(blobs.size());
  unique.reserve(blobs.size());
  std::unordered_set<std::string_view> seen;
  for (const BlobToSync& b : blobs) {
    if (!seen.insert(b.sha256).second) continue;
    digests.push_back(b.sha256);
    unique.push_back(&b);
  }
  RD_TRY_STATUS(blobs_.SyncBlobs(digests));
  // Only a crash of the machine loses unsynced writes, and it restarts every process: a blob
  // written after this process started is intact if it is there; one from before (or of
  // unknown age) is read and checked against its digests.
  for (const BlobToSync* blob : unique) {
    const BlobToSync& b = *blob;
    const std::string& sha256 = b.sha256;
    bool intact = false;
    if (b.created_at && *b.created_at >= started_at_) {
      RD_TRY(intact, blobs_.Has(sha256, store::Variant::kIdentity));
    } else {
      auto content = blobs_.Read(sha256, store::Variant::kIdentity);
      if (content.ok()) {
        store::BlobDigester digester;
        digester.Update(*content);
        auto info = digester.Finish();
        intact = info.ok() && info->sha256 == sha256 && (b.sha1.empty() || info->sha1 == b.sha1);
      } else if (content.error().code != ErrorCode::kNotFound) {
        return std::move(content).error();
      }
    }
    if (!intact) {
      // Dropped, so that the next deploy's file list asks for it again (SetFiles).
      RD_TRY_STATUS(blobs_.Delete(sha256));
      return Unprocessable("content_lost",
                           "a file of this deploy was lost in a crash before it was stored "
                           "durably; deploy again");
    }
  }
  RD_TRY_STATUS(db_.Transaction([&](db::Session& s) -> Status {
    for (std::size_t i = 0; i < digests.size(); i += kInsertBatch) {
      std::string sql = "UPDATE blobs SET synced = 1 WHERE sha256 IN (";
      db::Params params;
      for (std::size_t j = i; j < std::min(digests.size(), i + kInsertBatch); ++j) {
        sql += j == i ? "?" : ", ?";
        params.emplace_back(digests[j]);
      }
      RD_TRY_STATUS(s.Exec(sql + ")", params));
    }
    return {};
  }));
  return {};
}

Status DeployService::FinishOne(const Deploy& deploy) {
  // Every file durable before the deploy can go live; brotli/gzip variants come afterwards
  // (PrecompressPending), so a deploy goes live with identity bodies at once. A relative file
  // list's deploy is made from its base's manifest and its changed rows (deploy_relative.cpp).
  RD_TRY(std::shared_ptr<DeployManifest> manifest, PatchedManifest(deploy));
  CountManifestBuilt(manifest != nullptr);
  if (!manifest) {
    RD_TRY_STATUS(SyncDeployBlobs(deploy));
    RD_TRY(manifest, LoadManifest(deploy.id, deploy.site_id));
  }
  // Read off the manifest, not asked of the database again (VariantJobs: a second pass over
  // every file of the deploy).
  const bool variants_pending = NeedsVariants(*manifest);
  manifest->variants_pending = variants_pending;
  std::vector<DeployMessage> messages;
  if (validator_) {
    auto valid = validator_(*manifest, blobs_);
    if (!valid.ok()) return Fail(deploy.id, valid.error().message);
    messages = CapDeployMessages(std::move(valid).value());
  }
  const std::int64_t now = clock_.NowMillis();
  // Auto-publish production deploys, unless the site is locked or a newer deploy is already live
  // (deploys can finish out of order). Ready and live in one transaction: a client that sees
  // `ready` sees the site serve it.
  const bool auto_publish = deploy.context == "production" && !deploy.draft;
  bool became_ready = false;
  bool published = false;
  {
    std::optional<PublishScope> scope;
    if (auto_publish) scope.emplace(*this);
    RD_TRY_STATUS(db_.Transaction([&](db::Session& s) -> Status {
      RD_TRY(db::Rows ready, s.Exec("UPDATE deploys SET state = ?, ready_at = ?, updated_at = ?, "
                                    "variants_pending = ? WHERE id = ? AND state = ?",
                                    {std::string(kStateReady), now, now,
                                     static_cast<std::int64_t>(variants_pending ? 1 : 0), deploy.id,
                                     std::string(kStateProcessing)}));
      became_ready = ready.affected > 0;  // not when canceled meanwhile
      if (!became_ready) return {};
      RD_TRY_STATUS(StoreDeployMessages(s, deploy.id, messages));
      if (!auto_publish) return {};
      RD_TRY(
          db::Rows live,
          s.Exec(
              "UPDATE sites SET published_deploy_id = ?, updated_at = ? "
              "WHERE id = ? AND locked = 0 AND (published_deploy_id IS NULL OR "
              "(SELECT p.created_at FROM deploys p WHERE p.id = sites.published_deploy_id) <= ?)",
              {deploy.id, now, deploy.site_id, deploy.created_at}));
      published = live.affected > 0;
      if (!published) return {};
      RD_TRY_STATUS(s.Exec("UPDATE deploys SET published_at = ? WHERE id = ?", {now, deploy.id}));
      RD_TRY_STATUS(db::NotifyChange(s, {db::ChangeKind::kPublish, deploy.site_id}));
      return RecordDeployEvent(
          s, now, deploy.site_id, "deploy.published", deploy.id, audit::Actor{},
          boost::json::object{{"site_id", deploy.site_id}, {"auto_published", true}});
    }));
  }
  if (became_ready) {
    std::lock_guard lock(manifests_mu_);
    CacheManifestLocked(deploy.id, std::move(manifest));
  }
  if (published) {
    CountPublished("publish");
    NotifyPublished(deploy.site_id);
  }
  return {};
}

Result<std::optional<DeployService::ClaimedVariants>> DeployService::ClaimVariants() {
  const std::int64_t now = clock_.NowMillis();
  // Oldest first; a candidate another process claims between the SELECT and the UPDATE is
  // passed over for the next.
  RD_TRY(db::Rows rows, db_.Exec("SELECT id, site_id FROM deploys WHERE variants_pending = 1 "
                                 "AND variants_claim_until < ? ORDER BY updated_at LIMIT 4",
                                 {now}));
  for (const auto& r : rows.rows) {
    RD_TRY(db::Rows claimed,
           db_.Exec("UPDATE deploys SET variants_claim_until = ? WHERE id = ? AND "
                    "variants_pending = 1 AND variants_claim_until < ?",
                    {now + options_.variants_claim_millis, r.Text(0), now}));
    if (claimed.affected > 0) {
      return std::optional<ClaimedVariants>(ClaimedVariants{r.Text(0), r.Text(1)});
    }
  }
  return std::optional<ClaimedVariants>{};
}

Result<int> DeployService::PrecompressPending(const std::function<bool()>& between_chunks) {
  RD_TRY(std::optional<ClaimedVariants> claimed, ClaimVariants());
  if (!claimed) return 0;
  const std::string& deploy_id = claimed->deploy_id;
  const std::string& site_id = claimed->site_id;
  // Whatever ends the work early (a failure, a stop) lets the deploy go at once, for the next
  // call here or for another process; the normal end clears variants_pending with it.
  struct Release {
    db::Database& db;
    const std::string& id;
    bool armed = true;
    ~Release() {
      if (!armed) return;
      auto released = db.Exec("UPDATE deploys SET variants_claim_until = 0 WHERE id = ?", {id});
      if (!released.ok()) spdlog::warn("deploy {}: {}", id, released.error().message);
    }
  } release{db_, deploy_id};
  RD_TRY(std::vector<VariantJob> jobs, VariantJobs(deploy_id));
  // In chunks, so that stopping the processor does not wait for a whole deploy, and on every
  // core at a low priority, so that uploads, processing and requests come first. A failure costs a
  // variant, never the deploy: it is served with identity bodies.
  constexpr std::size_t kChunk = 128;
  const unsigned workers = std::clamp(std::thread::hardware_concurrency(), 1u, 8u);
  for (std::size_t begin = 0; begin < jobs.size(); begin += kChunk) {
    const std::size_t end = std::min(jobs.size(), begin + kChunk);
    std::atomic<std::size_t> next{begin};
    auto work = [&] {
      for (std::size_t i = next++; i < end; i = next++) {
        jobs[i].made = store::Precompress(blobs_, jobs[i].sha256, jobs[i].content_type);
      }
    };
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < workers && t < end - begin; ++t) {
      threads.emplace_back([&work] {
        ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10);
        work();
      });
    }
    for (auto& t : threads) t.join();
    RD_TRY_STATUS(db_.Transaction([&](db::Session& s) -> Status {
      for (std::size_t i = begin; i < end; ++i) {
        const VariantJob& job = jobs[i];
        if (!job.made.ok()) {
          spdlog::warn("deploy {}: no compressed variants of {}: {}", deploy_id, job.sha256,
                       job.made.error().message);
          continue;
        }
        if (!job.made->brotli && !job.made->gzip) continue;
        RD_TRY_STATUS(s.Exec("UPDATE blobs SET has_br = ?, has_gzip = ? WHERE sha256 = ?",
                             {static_cast<std::int64_t>(job.made->brotli),
                              static_cast<std::int64_t>(job.made->gzip), job.sha256}));
      }
      RD_TRY_STATUS(s.Exec("UPDATE deploys SET variants_claim_until = ? WHERE id = ?",
                           {clock_.NowMillis() + options_.variants_claim_millis, deploy_id}));
      return {};
    }));
    if (between_chunks && !between_chunks()) return 0;
  }
  RD_TRY_STATUS(
      db_.Exec("UPDATE deploys SET variants_pending = 0, variants_claim_until = 0 WHERE id = ?",
               {deploy_id}));
  release.armed = false;
  // The edge picks the variants up with the new manifest (and drops what it prepared for the
  // site without them).
  bool cached = false;
  {
    std::lock_guard lock(manifests_mu_);
    cached = manifests_.contains(deploy_id);
  }
  if (cached) {
    RD_TRY(std::shared_ptr<DeployManifest> manifest, LoadManifest(deploy_id, site_id));
    std::lock_guard lock(manifests_mu_);
    CacheManifestLocked(deploy_id, std::move(manifest));
  }
  NotifyPublished(site_id);
  return 1;
}

Result<int> DeployService::ProcessPending() {
  std::lock_guard lock(process_mu_);
  RD_TRY(db::Rows rows,
         db_.Exec("SELECT id FROM deploys WHERE state = ? ORDER BY updated_at LIMIT 20",
                  {std::string(kStateProcessing)}));
  int finished = 0;
  for (const auto& r : rows.rows) {
    RD_TRY(Deploy deploy, Load(r.Text(0)));
    if (Status st = FinishOne(deploy); !st.ok()) {
      // A storage or database failure: leave it in processing to be retried, unless the
      // deploy itself is at fault.
      spdlog::error("deploy {}: processing failed: {}", deploy.id, st.error().message);
      if (st.error().code == ErrorCode::kUnprocessable ||
          st.error().code == ErrorCode::kBadRequest) {
        RD_TRY_STATUS(Fail(deploy.id, st.error().message));
      }
      continue;
    }
    ++finished;
  }
  return finished;
}

Result<int> DeployService::ExpireStale() {
  const std::int64_t cutoff = clock_.NowMillis() - options_.upload_timeout_millis;
  RD_TRY(db::Rows rows,
         db_.Exec("UPDATE deploys SET state = ?, error_message = ?, updated_at = ? "
                  "WHERE state IN ('new', 'uploading') AND updated_at < ?",
                  {std::string(kStateError),
                   "the deploy's files were not uploaded within " +
                       std::to_string(options_.upload_timeout_millis / 60000) + " minutes",
                   clock_.NowMillis(), cutoff}));
  return static_cast<int>(rows.affected);
}

Result<store::GcStats> DeployService::CollectGarbage(std::chrono::seconds grace) {
  const auto now = std::chrono::system_clock::now();  // before the live set: see store/gc.hpp
  RD_TRY(
      db::Rows rows,
      db_.Exec("SELECT DISTINCT f.sha256 FROM deploy_files f JOIN deploys d ON d.id = f.deploy_id "
               "WHERE f.sha256 IS NOT NULL AND d.state NOT IN ('error', 'canceled') "
               "UNION SELECT DISTINCT fn.sha256 FROM deploy_functions fn "
               "JOIN deploys d ON d.id = fn.deploy_id WHERE d.state NOT IN ('error', 'canceled')"));
  std::unordered_set<std::string> live;
  for (const auto& r : rows.rows) live.insert(r.Text(0));
  RD_TRY(store::GcStats stats, store::CollectGarbage(blobs_, live, grace, now));
  for (const auto& sha256 : stats.deleted_sha256) {
    RD_TRY_STATUS(db_.Exec("DELETE FROM blobs WHERE sha256 = ?", {sha256}));
  }
  if (stats.deleted > 0) {
    spdlog::info("garbage collection: deleted {} blobs ({} bytes), kept {}", stats.deleted,
                 stats.bytes_freed, stats.live + stats.young);
  }
  return stats;
}

namespace {
// How often a manifest whose variants are still being made (maybe by another process) is
// read again from the database.
constexpr auto kVariantsRecheck = std::chrono::seconds(2);
}  // namespace

DeployService::CachedManifestEntry& DeployService::CacheManifestLocked(
    const std::string& deploy_id, std::shared_ptr<const DeployManifest> manifest) {
  auto [it, added] = manifests_.try_emplace(deploy_id);
  CachedManifestEntry& entry = it->second;
  if (added) {
    manifest_lru_.push_front(deploy_id);
  } else {
    manifest_bytes_ -= entry.bytes;
    manifest_lru_.splice(manifest_lru_.begin(), manifest_lru_, entry.lru);
  }
  entry.lru = manifest_lru_.begin();
  entry.bytes = manifest->MemoryBytes() + deploy_id.size() + sizeof(CachedManifestEntry);
  entry.manifest = std::move(manifest);
  entry.loaded = std::chrono::steady_clock::now();
  entry.refreshing = false;
  manifest_bytes_ += entry.bytes;
  // Ready deploys are immutable: dropping any is always correct. The newest one stays.
  while (manifests_.size() > 1 && (manifest_bytes_ > options_.manifest_cache_bytes ||
                                   manifests_.size() > options_.manifest_cache_entries)) {
    auto oldest = manifests_.find(manifest_lru_.back());
    manifest_bytes_ -= oldest->second.bytes;
    manifests_.erase(oldest);
    manifest_lru_.pop_back();
  }
  return manifests_.at(deploy_id);
}

std::shared_ptr<const DeployManifest> DeployService::CachedManifest(const std::string& deploy_id) {
  std::lock_guard lock(manifests_mu_);
  auto it = manifests_.find(deploy_id);
  if (it == manifests_.end()) return nullptr;
  CachedManifestEntry& entry = it->second;
  manifest_lru_.splice(manifest_lru_.begin(), manifest_lru_, entry.lru);
  if (entry.manifest->variants_pending && !entry.refreshing &&
      std::chrono::steady_clock::now() - entry.loaded >= kVariantsRecheck) {
    // This caller goes the slow way (Manifest) and reads it again; the others meanwhile keep
    // the current one, which is correct, only without variants.
    entry.refreshing = true;
    return nullptr;
  }
  return entry.manifest;
}

Result<std::shared_ptr<const DeployManifest>> DeployService::Manifest(
    const std::string& deploy_id) {
  {
    std::lock_guard lock(manifests_mu_);
    auto it = manifests_.find(deploy_id);
    if (it != manifests_.end() &&
        !(it->second.manifest->variants_pending &&
          std::chrono::steady_clock::now() - it->second.loaded >= kVariantsRecheck)) {
      manifest_lru_.splice(manifest_lru_.begin(), manifest_lru_, it->second.lru);
      return it->second.manifest;
    }
  }
  auto loaded = [&]() -> Result<std::shared_ptr<DeployManifest>> {
    RD_TRY(Deploy deploy, Load(deploy_id));
    if (deploy.state != kStateReady) return MakeError(ErrorCode::kNotFound, "deploy not ready");
    return LoadManifest(deploy.id, deploy.site_id);
  }();
  std::lock_guard lock(manifests_mu_);
  if (!loaded.ok()) {
    if (auto it = manifests_.find(deploy_id); it != manifests_.end()) {
      it->second.refreshing = false;
      it->second.loaded = std::chrono::steady_clock::now();
      return it->second.manifest;
    }
    return std::move(loaded).error();
  }
  return CacheManifestLocked(deploy_id, std::move(loaded).value()).manifest;
}

Result<std::string> DeployService::ReadyDeployOfSite(std::string_view site_id,
                                                     std::string_view deploy_id) {
  RD_TRY(db::Rows rows,
         db_.Exec("SELECT id FROM deploys WHERE id = ? AND site_id = ? AND state = 'ready'",
                  {std::string(deploy_id), std::string(site_id)}));
  if (rows.empty()) return MakeError(ErrorCode::kNotFound, "no such deploy");
  return rows.rows.front().Text(0);
}

Result<DeployService::RecentDeploys> DeployService::RecentlyPublished(std::string_view site_id,
                                                                      std::string_view live_id,
                                                                      std::int64_t window_ms,
                                                                      int limit) {
  RecentDeploys recent;
  recent.read_at = clock_.NowMillis();
  // A deploy's published_at is its latest publish (a rollback publishes again), so in that
  // order each deploy was replaced when the one before it in the list was published.
  RD_TRY(db::Rows rows,
         db_.Exec("SELECT id, published_at FROM deploys WHERE site_id = ? AND state = 'ready' "
                  "AND published_at IS NOT NULL ORDER BY published_at DESC, id DESC LIMIT ?",
                  {std::string(site_id), std::int64_t{limit}}));
  // Deploys published in the same millisecond cannot be ordered: each of them counts as
  // replaced at the next later publish, or at that millisecond when none is later (the
  // generous reading).
  std::int64_t group_at = 0;     // the published_at of the rows in hand
  std::int64_t replaced_at = 0;  // when the deploys published at group_at stopped being live
  for (std::size_t i = 0; i < rows.rows.size(); ++i) {
    const db::Row& r = rows.rows[i];
    const std::int64_t published_at = r.Int(1);
    if (i == 0) {
      group_at = replaced_at = published_at;
    } else if (published_at != group_at) {
      replaced_at = group_at;
      group_at = published_at;
    }
    if (r.Text(0) == live_id) {
      recent.deploys.push_back({r.Text(0), 0});
      continue;
    }
    if (replaced_at + window_ms <= recent.read_at) break;
    recent.deploys.push_back({r.Text(0), replaced_at});
  }
  return recent;
}

Result<std::string> DeployService::LatestReadyPreview(std::string_view site_id,
                                                      std::int64_t review_id) {
  RD_TRY(db::Rows rows, db_.Exec("SELECT id FROM deploys WHERE site_id = ? AND state = 'ready' "
                                 "AND review_id = ? ORDER BY created_at DESC, id DESC LIMIT 1",
                                 {std::string(site_id), review_id}));
  if (rows.empty()) return MakeError(ErrorCode::kNotFound, "no such deploy");
  return rows.rows.front().Text(0);
}

Result<std::string> DeployService::LatestReadyBranch(std::string_view site_id,
                                                     std::string_view branch) {
  RD_TRY(db::Rows rows,
         db_.Exec("SELECT id FROM deploys WHERE site_id = ? AND state = 'ready' AND branch = ? "
                  "AND context <> 'deploy-preview' ORDER BY created_at DESC, id DESC LIMIT 1",
                  {std::string(site_id), std::string(branch)}));
  if (rows.empty()) return MakeError(ErrorCode::kNotFound, "no such deploy");
  return rows.rows.front().Text(0);
}

}  // namespace replideploy::deploys
