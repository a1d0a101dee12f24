#include "deploys/deploys.hpp"

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
#include "deploys/file_list.hpp"
#include "deploys/function_config.hpp"
#include "store/content_type.hpp"
#include "store/precompress.hpp"

namespace replideploy::deploys {

namespace {

constexpr std::string_view kSelectDeploy =
    "SELECT d.id, d.site_id, s.name, d.user_id, d.state, d.context, d.branch, d.title, "
    "d.commit_ref, d.review_id, d.draft, d.deploy_source, d.error_message, d.file_count, "
    "d.created_at, d.updated_at, d.ready_at, d.published_at, s.published_deploy_id, s.locked "
    "FROM deploys d JOIN sites s ON s.id = d.site_id ";
constexpr std::string_view kOwnedBy =
    "JOIN accounts a ON a.id = s.account_id WHERE a.owner_user_id = ? ";
constexpr std::size_t kInsertBatch = 200;

Deploy DeployFromRow(const db::Row& r) {
  Deploy d;
  d.id = r.Text(0);
  d.site_id = r.Text(1);
  d.site_name = r.Text(2);
  d.user_id = r.Text(3);
  d.state = r.Text(4);
  d.context = r.Text(5);
  d.branch = r.Text(6);
  d.title = r.Text(7);
  d.commit_ref = r.Text(8);
  if (!r.IsNull(9)) d.review_id = r.Int(9);
  d.draft = r.Bool(10);
  d.deploy_source = r.Text(11);
  d.error_message = r.Text(12);
  d.file_count = r.Int(13);
  d.created_at = r.Int(14);
  d.updated_at = r.Int(15);
  if (!r.IsNull(16)) d.ready_at = r.Int(16);
  if (!r.IsNull(17)) d.published_at = r.Int(17);
  d.published = r.Text(18) == d.id;
  d.site_locked = r.Bool(19);
  return d;
}

std::string Sha1Hex(std::string_view data) { return core::HexEncode(core::Sha1(data)); }

// SHA-1 -> (SHA-256, size) of the stored blobs among the SHA-1s of `files` (path -> SHA-1),
// looked up kInsertBatch at a time.
using StoredBySha1 = std::map<std::string, std::pair<std::string, std::int64_t>>;
Result<StoredBySha1> StoredContent(db::Session& s,
                                   const std::map<std::string, std::string>& files) {
  const std::set<std::string> sha1s = [&] {
    std::set<std::string> all;
    for (const auto& [path, sha1] : files) all.insert(sha1);
    return all;
  }();
  StoredBySha1 stored;
  auto it = sha1s.begin();
  while (it != sha1s.end()) {
    std::string sql = "SELECT sha1, sha256, size FROM blobs WHERE sha1 IN (";
    db::Params params;
    for (std::size_t n = 0; n < kInsertBatch && it != sha1s.end(); ++n, ++it) {
      sql += n == 0 ? "?" : ", ?";
      params.emplace_back(*it);
    }
    RD_TRY(db::Rows rows, s.Exec(sql + ")", params));
    for (const auto& r : rows.rows) stored.emplace(r.Text(0), std::pair{r.Text(1), r.Int(2)});
  }
  return stored;
}

// Whether some file of `manifest` should get brotli/gzip variants it lacks (as VariantJobs
// picks them).
bool NeedsVariants(const DeployManifest& manifest) {
  return std::ranges::any_of(manifest.files, [](const auto& file) {
    const ManifestEntry& e = file.second;
    const auto size = static_cast<std::uint64_t>(e.size);
    return !e.has_br && !e.has_gzip && store::IsCompressible(e.content_type) &&
           size >= store::kMinPrecompressBytes && size <= store::kMaxPrecompressBytes;
  });
}

}  // namespace

// Brackets a publish: in flight while it runs, a new version once it is over (committed or
// not; a spurious version change only costs caches a reload).
// The owner of the site's account, whose audit log its events go to.
Result<std::string> SiteOwner(db::Session& s, const std::string& site_id) {
  RD_TRY(db::Rows rows, s.Exec("SELECT a.owner_user_id FROM sites s "
                               "JOIN accounts a ON a.id = s.account_id WHERE s.id = ?",
                               {site_id}));
  if (rows.empty()) return MakeError(ErrorCode::kNotFound, "site not found");
  return rows.rows.front().Text(0);
}

Status RecordDeployEvent(db::Session& s, std::int64_t now, const std::string& site_id,
                         std::string action, const std::string& deploy_id,
                         const audit::Actor& actor, const boost::json::object& details) {
  RD_TRY(std::string owner, SiteOwner(s, site_id));
  return audit::RecordAuditEvent(
      s, now,
      audit::Event{owner, std::move(action), deploy_id, boost::json::serialize(details), actor});
}

namespace {

// replideploy_deploys_published_total{kind}: "publish" (a newer deploy goes live, by hand or
// automatically) or "rollback" (an older one).
void CountPublished(std::string_view kind) {
  static core::metrics::Counter& publishes = core::metrics::Default().GetCounter(
      "replideploy_deploys_published_total",
      "Deploys that went live: kind publish (newer than the one before) or rollback.",
      {{"kind", "publish"}});
  static core::metrics::Counter& rollbacks = core::metrics::Default().GetCounter(
      "replideploy_deploys_published_total",
      "Deploys that went live: kind publish (newer than the one before) or rollback.",
      {{"kind", "rollback"}});
  (kind == "rollback" ? rollbacks : publishes).Add();
}

}  // namespace

class PublishScope {
 public:
  explicit PublishScope(DeployService& s) : s_(s) { ++s_.publishes_in_flight_; }
  ~PublishScope() {
    ++s_.publish_version_;
    --s_.publishes_in_flight_;
  }
  PublishScope(const PublishScope&) = delete;
  PublishScope& operator=(const PublishScope&) = delete;

 private:
  DeployService& s_;
};

Result<std::string> NormalizeDeployPath(std::string_view path) {
  const auto bad = [&](std::string_view why) {
    return Unprocessable("invalid_path", "invalid file path '" + std::string(path.substr(0, 200)) +
                                             "': " + std::string(why));
  };
  std::string_view rest = path;
  if (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
  if (rest.empty()) return bad("empty");
  std::string out;
  out.reserve(rest.size() + 1);
  std::size_t start = 0;
  while (start <= rest.size()) {
    std::size_t end = rest.find('/', start);
    if (end == std::string_view::npos) end = rest.size();
    std::string_view segment = rest.substr(start, end - start);
    if (segment.empty()) return bad("empty path segment");
    if (segment == "." || segment == "..") return bad("'.' and '..' are not allowed");
    out.push_back('/');
    out.append(segment);
    start = end + 1;
  }
  for (unsigned char c : out) {
    if (c < 0x20 || c == 0x7f) return bad("control characters are not allowed");
    if (c == '\\') return bad("backslashes are not allowed");
  }
  return out;
}

DeployService::DeployService(db::Database& db, store::BlobStore& blobs, const core::Clock& clock,
                             SiteService& sites, DeployServiceOptions options)
    : db_(db),
      blobs_(blobs),
      clock_(clock),
      sites_(sites),
      options_(options),
      started_at_(clock.NowMillis()) {}

void DeployService::AddPublishListener(PublishListener listener) {
  std::lock_guard lock(listeners_mu_);
  listeners_.push_back(std::move(listener));
}

void DeployService::NotifyPublished(const std::string& site_id) {
  std::vector<PublishListener> listeners;
  {
    std::lock_guard lock(listeners_mu_);
    listeners = listeners_;
  }
  for (const auto& l : listeners) l(site_id);
}

Result<Deploy> DeployService::Load(std::string_view deploy_id, bool with_required) {
  RD_TRY(db::Rows rows,
         db_.Exec(std::string(kSelectDeploy) + "WHERE d.id = ?", {std::string(deploy_id)}));
  if (rows.empty()) return MakeError(ErrorCode::kNotFound, "deploy not found");
  Deploy d = DeployFromRow(rows.rows.front());
  if (with_required) {
    RD_TRY_STATUS(FillRequired(d));
    RD_TRY_STATUS(FillMessages({&d}));
  }
  return d;
}

Result<Deploy> DeployService::GetForBuild(std::string_view deploy_id) {
  RD_TRY(Deploy d, Load(deploy_id, false));
  RD_TRY_STATUS(FillMessages({&d}));
  return d;
}

Status DeployService::FillRequired(Deploy& d) {
  if (d.state != kStateUploading && d.state != kStateNew) return {};
  RD_TRY(db::Rows req, db_.Exec("SELECT DISTINCT sha1 FROM deploy_files "
                                "WHERE deploy_id = ? AND sha256 IS NULL ORDER BY sha1",
                                {d.id}));
  for (const auto& r : req.rows) d.required.push_back(r.Text(0));
  RD_TRY(db::Rows fns, db_.Exec("SELECT DISTINCT sha256 FROM deploy_functions "
                                "WHERE deploy_id = ? AND uploaded = 0 ORDER BY sha256",
                                {d.id}));
  for (const auto& r : fns.rows) d.required_functions.push_back(r.Text(0));
  return {};
}

Result<Deploy> DeployService::LoadOwned(std::string_view user_id, std::string_view deploy_id,
                                        bool with_required) {
  RD_TRY(db::Rows rows,
         db_.Exec(std::string(kSelectDeploy) + std::string(kOwnedBy) + "AND d.id = ?",
                  {std::string(user_id), std::string(deploy_id)}));
  if (rows.empty()) return MakeError(ErrorCode::kNotFound, "deploy not found");
  Deploy d = DeployFromRow(rows.rows.front());
  if (with_required) {
    RD_TRY_STATUS(FillRequired(d));
    RD_TRY_STATUS(FillMessages({&d}));
  }
  return d;
}

Result<Deploy> DeployService::Create(std::string_view user_id, std::string_view site_ref,
                                     const NewDeploy& spec) {
  RD_TRY(Site site, sites_.Get(user_id, site_ref));
  if (spec.branch.size() > 255 || spec.title.size() > 1000 || spec.commit_ref.size() > 255) {
    return Unprocessable("invalid_deploy", "branch, title or commit_ref is too long");
  }
  std::string context = spec.context;
  if (context.empty()) {
    // netlify-cli sends `--alias X` as {draft: false, branch: "X"}: a deploy of another branch
    // than the production one is a branch deploy, never published by itself.
    const bool production_branch =
        spec.branch.empty() || (!site.build_settings.repo_branch.empty() &&
                                spec.branch == site.build_settings.repo_branch);
    if (spec.draft) {
      context = spec.branch.empty() ? "draft" : "branch-deploy";
    } else {
      context = production_branch ? "production" : "branch-deploy";
    }
  }
  const std::int64_t now = clock_.NowMillis();
  const std::string id = core::NewHexId();
  db::Value review = spec.review_id ? db::Value(*spec.review_id) : db::Value(nullptr);
  RD_TRY_STATUS(db_.Exec(
      "INSERT INTO deploys (id, site_id, user_id, state, context, branch, title, commit_ref, "
      "review_id, draft, deploy_source, created_at, updated_at) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      {id, site.id, std::string(user_id), std::string(kStateNew), context, spec.branch, spec.title,
       spec.commit_ref, review, static_cast<std::int64_t>(spec.draft ? 1 : 0), spec.deploy_source,
       now, now}));
  return Load(id);
}

Result<Deploy> DeployService::SetFiles(std::string_view user_id, std::string_view deploy_id,
                                       const std::map<std::string, std::string>& files,
                                       const std::map<std::string, std::string>& functions,
                                       const std::map<std::string, std::string>& function_configs) {
  RD_TRY(Deploy deploy, LoadOwned(user_id, deploy_id));
  if (deploy.state != kStateNew && deploy.state != kStateUploading) {
    return Unprocessable("invalid_state",
                         "deploy is " + deploy.state + "; its files can no longer change");
  }
  // Normalise and validate everything before touching the database.
  RD_TRY(const CheckedFileList checked,
         CheckFileList(files, functions, {options_.max_files, options_.max_path_bytes}));
  const auto& normalized = checked.files;
  std::map<std::string, std::string> configs;
  for (const auto& [name, raw] : function_configs) {
    if (!checked.functions.contains(name)) continue;
    RD_TRY(configs[name], NormalizeFunctionConfig(name, raw));
  }
  const std::string id = deploy.id;
  const std::int64_t now = clock_.NowMillis();
  RD_TRY_STATUS(db_.Transaction([&](db::Session& s) -> Status {
    RD_TRY_STATUS(s.Exec("DELETE FROM deploy_files WHERE deploy_id = ?", {id}));
    RD_TRY_STATUS(s.Exec("DELETE FROM deploy_functions WHERE deploy_id = ?", {id}));
    // Files whose content the store already holds need no upload: their rows are written with
    // the blob's SHA-256 and size at once, instead of inserting bare rows and filling them in
    // with an UPDATE that rewrote every row and three of its index entries a second time.
    RD_TRY(const StoredBySha1 stored, StoredContent(s, normalized));
    auto it = normalized.begin();
    while (it != normalized.end()) {
      std::string sql =
          "INSERT INTO deploy_files (deploy_id, path, sha1, content_type, sha256, size) VALUES ";
      db::Params params;
      for (std::size_t n = 0; n < kInsertBatch && it != normalized.end(); ++n, ++it) {
        sql += n == 0 ? "(?, ?, ?, ?, ?, ?)" : ", (?, ?, ?, ?, ?, ?)";
        const auto found = stored.find(it->second);
        params.insert(params.end(),
                      {id, it->first, it->second, std::string(store::ContentTypeForPath(it->first)),
                       found == stored.end() ? db::Value(nullptr) : db::Value(found->second.first),
                       found == stored.end() ? std::int64_t{0} : found->second.second});
      }
      RD_TRY_STATUS(s.Exec(sql, params));
    }
    for (const auto& [name, sha256] : checked.functions) {
      RD_TRY_STATUS(s.Exec(
          "INSERT INTO deploy_functions (deploy_id, name, sha256, config, uploaded) VALUES (?, ?, "
          "?, ?, CASE WHEN EXISTS (SELECT 1 FROM blobs WHERE sha256 = ?) THEN 1 ELSE 0 END)",
          {id, name, sha256, configs.contains(name) ? configs[name] : std::string(), sha256}));
    }
    RD_TRY_STATUS(s.Exec(
        "UPDATE deploys SET state = ?, file_count = ?, updated_at = ? WHERE id = ?",
        {std::string(kStateUploading), static_cast<std::int64_t>(normalized.size()), now, id}));
    return {};
  }));
  // Claim the stored content this deploy reuses, so a concurrent garbage collection keeps it;
  // content collected in the meantime is asked for again.
  RD_TRY(db::Rows reused, db_.Exec("SELECT DISTINCT sha256 FROM deploy_files "
                                   "WHERE deploy_id = ? AND sha256 IS NOT NULL",
                                   {id}));
  std::vector<std::string> reused_sha256;
  reused_sha256.reserve(reused.rows.size());
  for (const auto& r : reused.rows) reused_sha256.push_back(r.Text(0));
  // One batch: with an S3 store the claims go out concurrently.
  RD_TRY(std::vector<bool> present, blobs_.TouchMany(reused_sha256));
  for (std::size_t i = 0; i < reused_sha256.size(); ++i) {
    const std::string& sha256 = reused_sha256[i];
    if (!present[i]) {
      RD_TRY_STATUS(
          db_.Exec("UPDATE deploy_files SET sha256 = NULL WHERE deploy_id = ? AND sha256 = ?",
                   {id, sha256}));
      RD_TRY_STATUS(db_.Exec("DELETE FROM blobs WHERE sha256 = ?", {sha256}));
    }
  }
  RD_TRY(Deploy updated, Load(id));
  return AdvanceIfComplete(updated);
}

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

Result<Deploy> DeployService::CreateForBuild(std::string_view site_id, const NewDeploy& spec) {
  const std::int64_t now = clock_.NowMillis();
  const std::string id = core::NewHexId();
  db::Value review = spec.review_id ? db::Value(*spec.review_id) : db::Value(nullptr);
  RD_TRY_STATUS(db_.Exec(
      "INSERT INTO deploys (id, site_id, state, context, branch, title, commit_ref, review_id, "
      "draft, deploy_source, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
      {id, std::string(site_id), std::string(kStateQueued),
       spec.context.empty() ? std::string("production") : spec.context, spec.branch, spec.title,
       spec.commit_ref, review, spec.deploy_source, now, now}));
  return Load(id, false);
}

Result<bool> DeployService::MarkBuilding(std::string_view deploy_id) {
  RD_TRY(db::Rows rows,
         db_.Exec("UPDATE deploys SET state = ?, updated_at = ? WHERE id = ? AND "
                  "state IN ('queued', 'building')",
                  {std::string(kStateBuilding), clock_.NowMillis(), std::string(deploy_id)}));
  return rows.affected > 0;
}

Status DeployService::AttachBuildOutput(
    std::string_view deploy_id, const std::vector<std::pair<std::string, store::BlobInfo>>& files,
    const std::vector<std::pair<std::string, std::pair<store::BlobInfo, std::string>>>& functions,
    const std::map<std::string, std::string>& function_configs) {
  if (files.size() > options_.max_files) {
    return Unprocessable("too_many_files", "the build produced more than " +
                                               std::to_string(options_.max_files) + " files");
  }
  const std::string id(deploy_id);
  const std::int64_t now = clock_.NowMillis();
  std::vector<std::pair<std::string, const store::BlobInfo*>> normalized;
  for (const auto& [raw, blob] : files) {
    RD_TRY(std::string path, NormalizeDeployPath(raw));
    normalized.emplace_back(std::move(path), &blob);
  }
  std::map<std::string, std::string> configs;
  for (const auto& [name, raw] : function_configs) {
    RD_TRY(configs[name], NormalizeFunctionConfig(name, raw));
  }
  RD_TRY_STATUS(db_.Transaction([&](db::Session& s) -> Status {
    RD_TRY_STATUS(s.Exec("DELETE FROM deploy_files WHERE deploy_id = ?", {id}));
    // Multi-row inserts: a 10,000-file build is a hundred statements, not 20,000.
    for (std::size_t begin = 0; begin < normalized.size(); begin += kInsertBatch) {
      const std::size_t end = std::min(normalized.size(), begin + kInsertBatch);
      std::string blobs_sql = "INSERT INTO blobs (sha256, sha1, size, created_at) VALUES ";
      std::string files_sql =
          "INSERT INTO deploy_files (deploy_id, path, sha1, sha256, size, content_type) VALUES ";
      db::Params blob_params, file_params;
      for (std::size_t i = begin; i < end; ++i) {
        const auto& [path, blob] = normalized[i];
        blobs_sql += i == begin ? "(?, ?, ?, ?)" : ", (?, ?, ?, ?)";
        files_sql += i == begin ? "(?, ?, ?, ?, ?, ?)" : ", (?, ?, ?, ?, ?, ?)";
        blob_params.insert(blob_params.end(),
                           {blob->sha256, blob->sha1, static_cast<std::int64_t>(blob->size), now});
        file_params.insert(file_params.end(), {id, path, blob->sha1, blob->sha256,
                                               static_cast<std::int64_t>(blob->size),
                                               std::string(store::ContentTypeForPath(path))});
      }
      RD_TRY_STATUS(s.Exec(blobs_sql + " ON CONFLICT (sha256) DO NOTHING", blob_params));
      RD_TRY_STATUS(s.Exec(files_sql, file_params));
    }
    RD_TRY_STATUS(s.Exec("DELETE FROM deploy_functions WHERE deploy_id = ?", {id}));
    for (const auto& [name, fn] : functions) {
      const auto& [blob, runtime] = fn;
      RD_TRY_STATUS(
          s.Exec("INSERT INTO blobs (sha256, sha1, size, created_at) VALUES (?, ?, ?, ?) "
                 "ON CONFLICT (sha256) DO NOTHING",
                 {blob.sha256, blob.sha1, static_cast<std::int64_t>(blob.size), now}));
      RD_TRY_STATUS(
          s.Exec("INSERT INTO deploy_functions (deploy_id, name, sha256, runtime, config, "
                 "uploaded) VALUES (?, ?, ?, ?, ?, 1)",
                 {id, name, blob.sha256, runtime,
                  configs.contains(name) ? configs[name] : std::string()}));
    }
    RD_TRY(db::Rows moved,
           s.Exec("UPDATE deploys SET state = ?, file_count = ?, updated_at = ? "
                  "WHERE id = ? AND state = ?",
                  {std::string(kStateProcessing), static_cast<std::int64_t>(normalized.size()), now,
                   id, std::string(kStateBuilding)}));
    if (moved.affected == 0) {
      return Unprocessable("invalid_state", "the deploy is no longer building");
    }
    return {};
  }));
  if (on_processing_) on_processing_();
  return {};
}

Status DeployService::FailDeploy(std::string_view deploy_id, std::string_view message) {
  return Fail(std::string(deploy_id), std::string(message));
}

Result<Deploy> DeployService::Get(std::string_view user_id, std::string_view deploy_id) {
  return LoadOwned(user_id, deploy_id);
}

Result<std::vector<Deploy>> DeployService::List(std::string_view user_id, std::string_view site_ref,
                                                int limit) {
  RD_TRY(Site site, sites_.Get(user_id, site_ref));
  RD_TRY(db::Rows rows,
         db_.Exec(std::string(kSelectDeploy) +
                      "WHERE d.site_id = ? ORDER BY d.created_at DESC, d.id DESC LIMIT ?",
                  {site.id, static_cast<std::int64_t>(std::clamp(limit, 1, 1000))}));
  std::vector<Deploy> out;
  for (const auto& r : rows.rows) out.push_back(DeployFromRow(r));
  std::vector<Deploy*> all;
  for (Deploy& d : out) all.push_back(&d);
  RD_TRY_STATUS(FillMessages(std::move(all)));
  return out;
}

Result<Deploy> DeployService::Cancel(std::string_view user_id, std::string_view deploy_id) {
  RD_TRY(Deploy deploy, LoadOwned(user_id, deploy_id));
  RD_TRY(
      db::Rows rows,
      db_.Exec("UPDATE deploys SET state = ?, updated_at = ? "
               "WHERE id = ? AND state IN ('new', 'uploading', 'queued', 'building', 'processing')",
               {std::string(kStateCanceled), clock_.NowMillis(), deploy.id}));
  if (rows.affected == 0 && deploy.state != kStateCanceled) {
    return Unprocessable("invalid_state",
                         "deploy is " + deploy.state + " and can no longer be canceled");
  }
  return Load(deploy.id);
}

Status DeployService::Publish(const std::string& site_id, const std::string& deploy_id,
                              std::string action, const audit::Actor& actor, bool lock) {
  const std::int64_t now = clock_.NowMillis();
  bool swapped = false;  // the live deploy changed
  bool rollback = false;
  {
    PublishScope scope(*this);
    RD_TRY_STATUS(db_.Transaction([&](db::Session& s) -> Status {
      // The deploy live before, to tell a rollback from a publish.
      RD_TRY(
          db::Rows before,
          s.Exec("SELECT s.published_deploy_id, p.created_at, d.created_at FROM sites s "
                 "JOIN deploys d ON d.id = ? LEFT JOIN deploys p ON p.id = s.published_deploy_id "
                 "WHERE s.id = ?",
                 {deploy_id, site_id}));
      boost::json::object details{{"site_id", site_id}};
      bool older = false;
      bool already_live = false;
      if (!before.empty() && !before.rows.front().IsNull(0)) {
        const db::Row& r = before.rows.front();
        details["previous_deploy_id"] = r.Text(0);
        already_live = r.Text(0) == deploy_id;
        older = !already_live && r.Int(2) < r.Int(1);
      }
      if (action.empty()) action = older ? "deploy.rolled_back" : "deploy.published";
      if (lock) RD_TRY_STATUS(s.Exec("UPDATE sites SET locked = 1 WHERE id = ?", {site_id}));
      // Locking (or restoring) the live deploy publishes nothing: its published_at stays.
      if (!already_live) {
        RD_TRY_STATUS(
            s.Exec("UPDATE sites SET published_deploy_id = ?, updated_at = ? WHERE id = ?",
                   {deploy_id, now, site_id}));
        RD_TRY_STATUS(s.Exec("UPDATE deploys SET published_at = ? WHERE id = ?", {now, deploy_id}));
      }
      swapped = !already_live;
      rollback = older;
      RD_TRY_STATUS(db::NotifyChange(
          s, {already_live ? db::ChangeKind::kLock : db::ChangeKind::kPublish, site_id}));
      return RecordDeployEvent(s, now, site_id, action, deploy_id, actor, details);
    }));
  }
  if (swapped) CountPublished(rollback ? "rollback" : "publish");
  NotifyPublished(site_id);
  return {};
}

Result<Deploy> DeployService::Restore(std::string_view user_id, std::string_view site_ref,
                                      std::string_view deploy_id, const audit::Actor& actor) {
  RD_TRY(Site site, sites_.Get(user_id, site_ref));
  RD_TRY(Deploy deploy, LoadOwned(user_id, deploy_id));
  if (deploy.site_id != site.id) return MakeError(ErrorCode::kNotFound, "deploy not found");
  if (deploy.state != kStateReady) {
    return Unprocessable("invalid_state",
                         "only a ready deploy can be published; this one is " + deploy.state);
  }
  RD_TRY_STATUS(Publish(site.id, deploy.id, "", actor));
  return Load(deploy.id);
}

Result<Deploy> DeployService::Lock(std::string_view user_id, std::string_view deploy_id,
                                   const audit::Actor& actor) {
  RD_TRY(Deploy deploy, LoadOwned(user_id, deploy_id));
  if (deploy.state != kStateReady) {
    return Unprocessable("invalid_state",
                         "only a ready deploy can be locked; this one is " + deploy.state);
  }
  // Locked in the publishing transaction, so no auto-publish lands between the two.
  RD_TRY_STATUS(Publish(deploy.site_id, deploy.id, "deploy.locked", actor, /*lock=*/true));
  return Load(deploy.id);
}

Result<Deploy> DeployService::Unlock(std::string_view user_id, std::string_view deploy_id,
                                     const audit::Actor& actor) {
  RD_TRY(Deploy deploy, LoadOwned(user_id, deploy_id));
  RD_TRY_STATUS(db_.Transaction([&](db::Session& s) -> Status {
    RD_TRY_STATUS(s.Exec("UPDATE sites SET locked = 0 WHERE id = ?", {deploy.site_id}));
    RD_TRY_STATUS(db::NotifyChange(s, {db::ChangeKind::kLock, deploy.site_id}));
    return RecordDeployEvent(s, clock_.NowMillis(), deploy.site_id, "deploy.unlocked", deploy.id,
                             actor, boost::json::object{{"site_id", deploy.site_id}});
  }));
  return Load(deploy.id);
}

Status DeployService::Fail(const std::string& deploy_id, const std::string& message) {
  spdlog::warn("deploy {} failed: {}", deploy_id, message);
  RD_TRY_STATUS(
      db_.Exec("UPDATE deploys SET state = ?, error_message = ?, updated_at = ? "
               "WHERE id = ? AND state NOT IN ('ready', 'canceled')",
               {std::string(kStateError), message, clock_.NowMillis(), deploy_id}));
  return {};
}

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
  manifest->files.reserve(rows.rows.size());
  for (const auto& r : rows.rows) {
    if (r.IsNull(1))
      return MakeError(ErrorCode::kInternal, "deploy " + deploy_id + " has a file without content");
    manifest->files.emplace(r.Text(0),
                            ManifestEntry{r.Text(1), r.Int(2), r.Text(3), r.Bool(4), r.Bool(5)});
  }
  RD_TRY(db::Rows fns, db_.Exec("SELECT name, sha256, runtime, config FROM deploy_functions "
                                "WHERE deploy_id = ? AND uploaded = 1 ORDER BY name",
                                {deploy_id}));
  for (const auto& r : fns.rows) {
    FunctionEntry entry{r.Text(1), r.Text(2)};
    RD_TRY_STATUS(LoadFunctionConfig(r.Text(3), entry));
    if (!entry.routes.empty()) manifest->routed_functions.push_back(r.Text(0));
    manifest->functions.emplace(r.Text(0), std::move(entry));
  }
  return manifest;
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
                  "f.sha256 IS NOT NULL AND (b.sha256 IS NULL OR b.synced = 0) "
                  "UNION SELECT fn.sha256, b.sha1, b.created_at FROM deploy_functions fn "
                  "LEFT JOIN blobs b ON b.sha256 = fn.sha256 WHERE fn.deploy_id = ? AND "
                  "(b.sha256 IS NULL OR b.synced = 0)",
                  {deploy.id, deploy.id}));
  if (rows.empty()) return {};
  std::vector<std::string> digests;
  digests.reserve(rows.rows.size());
  for (const auto& r : rows.rows) digests.push_back(r.Text(0));
  RD_TRY_STATUS(blobs_.SyncBlobs(digests));
  // Only a crash of the machine loses unsynced writes, and it restarts every process: a blob
  // written after this process started is intact if it is there; one from before (or of
  // unknown age) is read and checked against its digests.
  for (const auto& r : rows.rows) {
    const std::string sha256 = r.Text(0);
    bool intact = false;
    if (!r.IsNull(2) && r.Int(2) >= started_at_) {
      RD_TRY(intact, blobs_.Has(sha256, store::Variant::kIdentity));
    } else {
      auto content = blobs_.Read(sha256, store::Variant::kIdentity);
      if (content.ok()) {
        store::BlobDigester digester;
        digester.Update(*content);
        auto info = digester.Finish();
        intact = info.ok() && info->sha256 == sha256 && (r.IsNull(1) || info->sha1 == r.Text(1));
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
  // (PrecompressPending), so a deploy goes live with identity bodies at once.
  RD_TRY_STATUS(SyncDeployBlobs(deploy));
  RD_TRY(std::shared_ptr<DeployManifest> manifest, LoadManifest(deploy.id, deploy.site_id));
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
    manifests_[deploy.id] = CachedManifestEntry{manifest, std::chrono::steady_clock::now()};
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
    manifests_[deploy_id] = CachedManifestEntry{manifest, std::chrono::steady_clock::now()};
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

std::shared_ptr<const DeployManifest> DeployService::CachedManifest(const std::string& deploy_id) {
  std::lock_guard lock(manifests_mu_);
  auto it = manifests_.find(deploy_id);
  if (it == manifests_.end()) return nullptr;
  CachedManifestEntry& entry = it->second;
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
  // Bounded: ready deploys are immutable, so dropping everything is always correct.
  if (manifests_.size() >= 4096) manifests_.clear();
  CachedManifestEntry& entry = manifests_[deploy_id];
  entry = CachedManifestEntry{std::move(loaded).value(), std::chrono::steady_clock::now()};
  return entry.manifest;
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
