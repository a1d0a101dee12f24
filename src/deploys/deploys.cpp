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
#include "deploys/deploys_internal.hpp"
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

}  // namespace

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

std::string Sha1Hex(std::string_view data) { return core::HexEncode(core::Sha1(data)); }

bool NeedsVariants(const DeployManifest& manifest) {
  return std::ranges::any_of(manifest.files, [](const ManifestEntry& e) {
    const auto size = static_cast<std::uint64_t>(e.size);
    return !e.has_br && !e.has_gzip && store::IsCompressible(e.content_type) &&
           size >= store::kMinPrecompressBytes && size <= store::kMaxPrecompressBytes;
  });
}

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

void CountManifestBuilt(bool patched) {
  static core::metrics::Counter& patched_count = core::metrics::Default().GetCounter(
      "replideploy_deploy_manifests_built_total",
      "Manifests of processed deploys: how patched (a relative file list's, from its base's "
      "manifest and the changed rows) or read (every row).",
      {{"how", "patched"}});
  static core::metrics::Counter& read_count = core::metrics::Default().GetCounter(
      "replideploy_deploy_manifests_built_total",
      "Manifests of processed deploys: how patched (a relative file list's, from its base's "
      "manifest and the changed rows) or read (every row).",
      {{"how", "read"}});
  (patched ? patched_count : read_count).Add();
}

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

Result<Deploy> DeployService::LoadForFileList(std::string_view user_id,
                                              std::string_view deploy_id) {
  RD_TRY(Deploy deploy, LoadOwned(user_id, deploy_id));
  if (deploy.state != kStateNew && deploy.state != kStateUploading) {
    return Unprocessable("invalid_state",
                         "deploy is " + deploy.state + "; its files can no longer change");
  }
  return deploy;
}

Result<std::map<std::string, std::string>> CheckFunctionConfigs(
    const std::map<std::string, std::string>& function_configs,
    const std::map<std::string, std::string>& functions) {
  std::map<std::string, std::string> configs;
  for (const auto& [name, raw] : function_configs) {
    if (!functions.contains(name)) continue;
    RD_TRY(configs[name], NormalizeFunctionConfig(name, raw));
  }
  return configs;
}

Status InsertDeployFiles(db::Session& s, const std::string& id,
                         const std::map<std::string, std::string>& files,
                         std::vector<std::string>& reused) {
  // Files whose content the store already holds need no upload: their rows are written with
  // the blob's SHA-256 and size at once, instead of inserting bare rows and filling them in
  // with an UPDATE that rewrote every row and three of its index entries a second time.
  RD_TRY(const StoredBySha1 stored, StoredContent(s, files));
  std::set<std::string> reused_set;
  auto it = files.begin();
  while (it != files.end()) {
    std::string sql =
        "INSERT INTO deploy_files (deploy_id, path, sha1, content_type, sha256, size) VALUES ";
    db::Params params;
    for (std::size_t n = 0; n < kInsertBatch && it != files.end(); ++n, ++it) {
      sql += n == 0 ? "(?, ?, ?, ?, ?, ?)" : ", (?, ?, ?, ?, ?, ?)";
      const auto found = stored.find(it->second);
      if (found != stored.end()) reused_set.insert(found->second.first);
      params.insert(params.end(),
                    {id, it->first, it->second, std::string(store::ContentTypeForPath(it->first)),
                     found == stored.end() ? db::Value(nullptr) : db::Value(found->second.first),
                     found == stored.end() ? std::int64_t{0} : found->second.second});
    }
    RD_TRY_STATUS(s.Exec(sql, params));
  }
  reused.assign(reused_set.begin(), reused_set.end());
  return {};
}

Status InsertDeployFunctions(db::Session& s, const std::string& id,
                             const std::map<std::string, std::string>& functions,
                             const std::map<std::string, std::string>& configs) {
  RD_TRY_STATUS(s.Exec("DELETE FROM deploy_functions WHERE deploy_id = ?", {id}));
  for (const auto& [name, sha256] : functions) {
    const auto config = configs.find(name);
    RD_TRY_STATUS(s.Exec(
        "INSERT INTO deploy_functions (deploy_id, name, sha256, config, uploaded) VALUES (?, ?, "
        "?, ?, CASE WHEN EXISTS (SELECT 1 FROM blobs WHERE sha256 = ?) THEN 1 ELSE 0 END)",
        {id, name, sha256, config == configs.end() ? std::string() : config->second, sha256}));
  }
  return {};
}

Result<Deploy> DeployService::SetFiles(std::string_view user_id, std::string_view deploy_id,
                                       const std::map<std::string, std::string>& files,
                                       const std::map<std::string, std::string>& functions,
                                       const std::map<std::string, std::string>& function_configs) {
  RD_TRY(Deploy deploy, LoadForFileList(user_id, deploy_id));
  // Normalise and validate everything before touching the database.
  RD_TRY(const CheckedFileList checked,
         CheckFileList(files, functions, {options_.max_files, options_.max_path_bytes}));
  RD_TRY(const auto configs, CheckFunctionConfigs(function_configs, checked.functions));
  const std::string id = deploy.id;
  const std::int64_t now = clock_.NowMillis();
  std::vector<std::string> reused;
  RD_TRY_STATUS(db_.Transaction([&](db::Session& s) -> Status {
    RD_TRY_STATUS(s.Exec("DELETE FROM deploy_files WHERE deploy_id = ?", {id}));
    RD_TRY_STATUS(InsertDeployFiles(s, id, checked.files, reused));
    RD_TRY_STATUS(InsertDeployFunctions(s, id, checked.functions, configs));
    // A new file_list_id: a relative list remembered for this deploy no longer applies.
    RD_TRY_STATUS(
        s.Exec("UPDATE deploys SET state = ?, file_count = ?, updated_at = ?, file_list_id = ? "
               "WHERE id = ?",
               {std::string(kStateUploading), static_cast<std::int64_t>(checked.files.size()), now,
                core::HexEncode(core::RandomBytes(12)), id}));
    return {};
  }));
  return ClaimReusedAndAdvance(id, reused);
}

Result<Deploy> DeployService::ClaimReusedAndAdvance(const std::string& deploy_id,
                                                    const std::vector<std::string>& reused) {
  // One batch: with an S3 store the claims go out concurrently.
  RD_TRY(std::vector<bool> present, blobs_.TouchMany(reused));
  for (std::size_t i = 0; i < reused.size(); ++i) {
    const std::string& sha256 = reused[i];
    if (!present[i]) {
      RD_TRY_STATUS(
          db_.Exec("UPDATE deploy_files SET sha256 = NULL WHERE deploy_id = ? AND sha256 = ?",
                   {deploy_id, sha256}));
      RD_TRY_STATUS(db_.Exec("DELETE FROM blobs WHERE sha256 = ?", {sha256}));
    }
  }
  RD_TRY(Deploy updated, Load(deploy_id));
  return AdvanceIfComplete(updated);
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

}  // namespace replideploy::deploys
