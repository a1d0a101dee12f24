#include "deploys/sites.hpp"

#include <spdlog/spdlog.h>

#include "core/ids.hpp"
#include "db/change_events.hpp"

namespace replideploy::deploys {

namespace {

constexpr std::string_view kSelectSite =
    "SELECT s.id, s.account_id, a.slug, s.name, s.build_cmd, s.build_dir, s.build_base, "
    "s.repo_url, s.repo_branch, s.functions_dir, s.published_deploy_id, s.locked, s.created_at, "
    "s.updated_at, a.owner_user_id, s.repo_provider, s.repo_path, s.branch_deploys, "
    "s.deploy_previews, s.password_hash <> '', s.password_scope, s.https_redirect, s.hsts, "
    "s.skew_protection_seconds, s.function_timeout_seconds FROM sites s JOIN accounts a ON "
    "a.id = s.account_id ";

constexpr std::size_t kMaxSettingLength = 2048;
constexpr int kRandomNameAttempts = 5;

Site SiteFromRow(const db::Row& r) {
  Site s;
  s.id = r.Text(0);
  s.account_id = r.Text(1);
  s.account_slug = r.Text(2);
  s.name = r.Text(3);
  s.build_settings = {r.Text(4), r.Text(5), r.Text(6), r.Text(7), r.Text(8), r.Text(9)};
  s.published_deploy_id = r.OptionalText(10);
  s.locked = r.Bool(11);
  s.created_at = r.Int(12);
  s.updated_at = r.Int(13);
  s.owner_user_id = r.Text(14);
  s.build_settings.provider = r.Text(15);
  s.build_settings.repo_path = r.Text(16);
  s.build_settings.branch_deploys = r.Bool(17);
  s.build_settings.deploy_previews = r.Bool(18);
  if (r.Bool(19)) {
    s.password_scope =
        r.Text(20) == "non_production" ? PasswordScope::kNonProduction : PasswordScope::kAll;
  }
  s.https_redirect = r.Bool(21);
  s.hsts = r.Bool(22);
  s.skew_protection_seconds = r.Int(23);
  s.function_timeout_seconds = r.Int(24);
  return s;
}

}  // namespace

std::string_view PasswordScopeName(PasswordScope scope) {
  switch (scope) {
    case PasswordScope::kNone:
      return "none";
    case PasswordScope::kAll:
      return "all";
    case PasswordScope::kNonProduction:
      return "non_production";
  }
  return "none";
}

Result<PasswordScope> ParsePasswordScope(std::string_view name) {
  if (name == "all") return PasswordScope::kAll;
  if (name == "non_production") return PasswordScope::kNonProduction;
  return Unprocessable("invalid_password_scope", "scope must be \"all\" or \"non_production\"");
}

namespace {

Error NameTaken(std::string_view name) {
  return Unprocessable("name_taken", "a site named '" + std::string(name) + "' already exists");
}

Status CheckSetting(std::string_view field, const std::string& value) {
  if (value.size() > kMaxSettingLength) {
    return Unprocessable("invalid_build_settings", "build_settings." + std::string(field) +
                                                       " is longer than 2048 characters");
  }
  if (value.find('\0') != std::string::npos) {
    return Unprocessable("invalid_build_settings",
                         "build_settings." + std::string(field) + " contains a NUL byte");
  }
  return {};
}

Status CheckSettings(const BuildSettings& b) {
  RD_TRY_STATUS(CheckSetting("cmd", b.cmd));
  RD_TRY_STATUS(CheckSetting("dir", b.dir));
  RD_TRY_STATUS(CheckSetting("base", b.base));
  RD_TRY_STATUS(CheckSetting("repo_url", b.repo_url));
  RD_TRY_STATUS(CheckSetting("repo_branch", b.repo_branch));
  RD_TRY_STATUS(CheckSetting("functions_dir", b.functions_dir));
  RD_TRY_STATUS(CheckSetting("repo_path", b.repo_path));
  if (b.provider != "" && b.provider != "github" && b.provider != "git") {
    return Unprocessable("invalid_build_settings",
                         "build_settings.provider must be \"github\", \"git\" or empty");
  }
  return {};
}

// The skew protection window after `patch` (see SitePatch), from `current`.
Result<std::int64_t> SkewProtectionSeconds(std::int64_t current, const SitePatch& patch) {
  std::int64_t seconds = current;
  if (patch.skew_protection) {
    if (!*patch.skew_protection) {
      seconds = 0;
    } else if (seconds == 0) {
      seconds = kDefaultSkewProtectionSeconds;
    }
  }
  if (patch.skew_protection_seconds) {
    seconds = *patch.skew_protection_seconds;
    if (patch.skew_protection && *patch.skew_protection != (seconds != 0)) {
      return Unprocessable("invalid_skew_protection",
                           "skew_protection and skew_protection_max_age disagree");
    }
  }
  if (seconds != 0 &&
      (seconds < kMinSkewProtectionSeconds || seconds > kMaxSkewProtectionSeconds)) {
    return Unprocessable("invalid_skew_protection",
                         "skew_protection_max_age must be 0 (off) or from " +
                             std::to_string(kMinSkewProtectionSeconds) + " to " +
                             std::to_string(kMaxSkewProtectionSeconds) + " seconds");
  }
  return seconds;
}

}  // namespace

Result<std::string> NormalizeSiteName(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (char c : name) out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (!core::IsDnsLabel(out)) {
    return Unprocessable(
        "invalid_name",
        "name must be 1-63 letters, digits or hyphens, not starting or ending with a "
        "hyphen");
  }
  if (out.find("--") != std::string::npos) {
    return Unprocessable("invalid_name", "name must not contain '--' (it separates deploy URLs)");
  }
  return out;
}

Result<Site> SiteService::Create(std::string_view user_id, std::string_view account_id,
                                 std::optional<std::string> name, const BuildSettings& settings) {
  RD_TRY_STATUS(CheckSettings(settings));
  RD_TRY(db::Rows owned, db_.Exec("SELECT 1 FROM accounts WHERE id = ? AND owner_user_id = ?",
                                  {std::string(account_id), std::string(user_id)}));
  if (owned.empty()) return MakeError(ErrorCode::kNotFound, "account not found");

  std::string chosen;
  if (name) {
    RD_TRY(chosen, NormalizeSiteName(*name));
  }
  const std::int64_t now = clock_.NowMillis();
  const std::string id = core::NewUuid();
  for (int attempt = 0;; ++attempt) {
    const std::string site_name = name ? chosen : core::NewReadableName();
    auto inserted = db_.Exec(
        "INSERT INTO sites (id, account_id, name, build_cmd, build_dir, build_base, repo_url, "
        "repo_branch, functions_dir, repo_provider, repo_path, branch_deploys, deploy_previews, "
        "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        {id, std::string(account_id), site_name, settings.cmd, settings.dir, settings.base,
         settings.repo_url, settings.repo_branch, settings.functions_dir, settings.provider,
         settings.repo_path, std::int64_t{settings.branch_deploys},
         std::int64_t{settings.deploy_previews}, now, now});
    if (inserted.ok()) break;
    if (inserted.error().code != ErrorCode::kConflict) return std::move(inserted).error();
    if (name) return NameTaken(site_name);
    if (attempt + 1 == kRandomNameAttempts) {
      return MakeError(ErrorCode::kInternal, "could not pick a free random site name");
    }
  }
  return Get(user_id, id);
}

Result<std::vector<Site>> SiteService::List(std::string_view user_id,
                                            std::string_view name_filter) {
  // instr() exists in SQLite, strpos() in PostgreSQL; a LIKE pattern would need escaping.
  const std::string contains =
      db_.engine() == db::Engine::kSqlite ? "instr(s.name, ?) > 0" : "strpos(s.name, ?) > 0";
  RD_TRY(db::Rows rows, db_.Exec(std::string(kSelectSite) + "WHERE a.owner_user_id = ? AND " +
                                     contains + " ORDER BY s.created_at DESC, s.id",
                                 {std::string(user_id), std::string(name_filter)}));
  std::vector<Site> out;
  out.reserve(rows.rows.size());
  for (const auto& r : rows.rows) out.push_back(SiteFromRow(r));
  return out;
}

Result<Site> SiteService::Get(std::string_view user_id, std::string_view id_or_name) {
  RD_TRY(
      db::Rows rows,
      db_.Exec(std::string(kSelectSite) + "WHERE a.owner_user_id = ? AND (s.id = ? OR s.name = ?)",
               {std::string(user_id), std::string(id_or_name), std::string(id_or_name)}));
  if (rows.empty()) return MakeError(ErrorCode::kNotFound, "site not found");
  return SiteFromRow(rows.rows.front());
}

Result<Site> SiteService::Update(std::string_view user_id, std::string_view id_or_name,
                                 const SitePatch& patch) {
  RD_TRY(Site site, Get(user_id, id_or_name));
  if (patch.name) {
    RD_TRY(site.name, NormalizeSiteName(*patch.name));
  }
  BuildSettings& b = site.build_settings;
  for (auto [field, value] : {std::pair{&b.cmd, &patch.cmd},
                              {&b.dir, &patch.dir},
                              {&b.base, &patch.base},
                              {&b.repo_url, &patch.repo_url},
                              {&b.repo_branch, &patch.repo_branch},
                              {&b.functions_dir, &patch.functions_dir}}) {
    if (*value) *field = **value;
  }
  if (patch.provider) b.provider = *patch.provider;
  if (patch.repo_path) b.repo_path = *patch.repo_path;
  if (patch.branch_deploys) b.branch_deploys = *patch.branch_deploys;
  if (patch.deploy_previews) b.deploy_previews = *patch.deploy_previews;
  if (patch.https_redirect) site.https_redirect = *patch.https_redirect;
  if (patch.hsts) site.hsts = *patch.hsts;
  RD_TRY(site.skew_protection_seconds, SkewProtectionSeconds(site.skew_protection_seconds, patch));
  if (patch.function_timeout_seconds) {
    if (*patch.function_timeout_seconds < 0 ||
        *patch.function_timeout_seconds > kMaxFunctionTimeoutSeconds) {
      return Unprocessable("invalid_functions_timeout",
                           "functions_timeout must be 0 (the server's default) or from 1 to " +
                               std::to_string(kMaxFunctionTimeoutSeconds) + " seconds");
    }
    site.function_timeout_seconds = *patch.function_timeout_seconds;
  }
  RD_TRY_STATUS(CheckSettings(b));
  site.updated_at = clock_.NowMillis();
  auto updated = db_.Exec(
      "UPDATE sites SET name = ?, build_cmd = ?, build_dir = ?, build_base = ?, repo_url = ?, "
      "repo_branch = ?, functions_dir = ?, repo_provider = ?, repo_path = ?, branch_deploys = ?, "
      "deploy_previews = ?, https_redirect = ?, hsts = ?, skew_protection_seconds = ?, "
      "function_timeout_seconds = ?, updated_at = ? WHERE id = ?",
      {site.name, b.cmd, b.dir, b.base, b.repo_url, b.repo_branch, b.functions_dir, b.provider,
       b.repo_path, std::int64_t{b.branch_deploys}, std::int64_t{b.deploy_previews},
       std::int64_t{site.https_redirect}, std::int64_t{site.hsts}, site.skew_protection_seconds,
       site.function_timeout_seconds, site.updated_at, site.id});
  if (!updated.ok()) {
    if (updated.error().code == ErrorCode::kConflict) return NameTaken(site.name);
    return std::move(updated).error();
  }
  if (updated->affected == 0) return MakeError(ErrorCode::kNotFound, "site not found");
  Changed(site.id);
  return site;
}

void SiteService::Changed(const std::string& site_id) {
  // Other processes' edges hear it through the database (PostgreSQL), this one's directly.
  const Status sent = db::NotifyChange(db_, {db::ChangeKind::kSite, site_id});
  if (!sent.ok()) spdlog::warn("site {}: change event not sent: {}", site_id, sent.error().message);
  if (on_change_) on_change_(site_id);
}

Result<Site> SiteService::GetById(std::string_view site_id) {
  RD_TRY(db::Rows rows,
         db_.Exec(std::string(kSelectSite) + "WHERE s.id = ?", {std::string(site_id)}));
  if (rows.empty()) return MakeError(ErrorCode::kNotFound, "site not found");
  return SiteFromRow(rows.rows.front());
}

Result<std::vector<Site>> SiteService::ListByRepo(std::string_view provider,
                                                  std::string_view repo_path) {
  RD_TRY(db::Rows rows,
         repo_path.empty()
             ? db_.Exec(std::string(kSelectSite) + "WHERE s.repo_provider = ? ORDER BY s.id",
                        {std::string(provider)})
             : db_.Exec(std::string(kSelectSite) +
                            "WHERE s.repo_provider = ? AND lower(s.repo_path) = lower(?) "
                            "ORDER BY s.id",
                        {std::string(provider), std::string(repo_path)}));
  std::vector<Site> out;
  for (const auto& r : rows.rows) out.push_back(SiteFromRow(r));
  return out;
}

Status SiteService::Delete(std::string_view user_id, std::string_view id_or_name) {
  RD_TRY(Site site, Get(user_id, id_or_name));
  RD_TRY(db::Rows rows, db_.Exec("DELETE FROM sites WHERE id = ?", {site.id}));
  if (rows.affected == 0) return MakeError(ErrorCode::kNotFound, "site not found");
  Changed(site.id);
  return {};
}

Result<EdgeSite> SiteService::EdgeSiteByName(std::string_view name) {
  RD_TRY(db::Rows rows,
         db_.Exec("SELECT id, published_deploy_id, password_hash, password_scope, "
                  "https_redirect, hsts, skew_protection_seconds, function_timeout_seconds "
                  "FROM sites WHERE name = ?",
                  {std::string(name)}));
  if (rows.empty()) return MakeError(ErrorCode::kNotFound, "no such site");
  const db::Row& r = rows.rows.front();
  EdgeSite site{r.Text(0), r.Text(1), r.Text(2), PasswordScope::kNone,
                r.Bool(4), r.Bool(5), r.Int(6),  r.Int(7)};
  if (!site.password_hash.empty()) {
    site.password_scope =
        r.Text(3) == "non_production" ? PasswordScope::kNonProduction : PasswordScope::kAll;
  }
  return site;
}

Status SiteService::SetPassword(std::string_view site_id, std::string_view password_hash,
                                PasswordScope scope) {
  if (password_hash.empty() || scope == PasswordScope::kNone) {
    return MakeError(ErrorCode::kInternal, "SetPassword needs a hash and a scope");
  }
  RD_TRY(db::Rows updated,
         db_.Exec("UPDATE sites SET password_hash = ?, password_scope = ?, updated_at = ? "
                  "WHERE id = ?",
                  {std::string(password_hash), std::string(PasswordScopeName(scope)),
                   clock_.NowMillis(), std::string(site_id)}));
  if (updated.affected == 0) return MakeError(ErrorCode::kNotFound, "site not found");
  Changed(std::string(site_id));
  return {};
}

Status SiteService::ClearPassword(std::string_view site_id) {
  RD_TRY(db::Rows updated, db_.Exec("UPDATE sites SET password_hash = '', password_scope = 'all', "
                                    "updated_at = ? WHERE id = ?",
                                    {clock_.NowMillis(), std::string(site_id)}));
  if (updated.affected == 0) return MakeError(ErrorCode::kNotFound, "site not found");
  Changed(std::string(site_id));
  return {};
}

Result<std::string> SiteService::PolledSha(std::string_view site_id) {
  RD_TRY(db::Rows rows,
         db_.Exec("SELECT polled_sha FROM sites WHERE id = ?", {std::string(site_id)}));
  if (rows.empty()) return MakeError(ErrorCode::kNotFound, "site not found");
  return rows.rows.front().Text(0);
}

Result<bool> SiteService::AdvancePolledSha(std::string_view site_id, std::string_view from,
                                           std::string_view to) {
  RD_TRY(db::Rows moved, db_.Exec("UPDATE sites SET polled_sha = ? WHERE id = ? AND polled_sha = ?",
                                  {std::string(to), std::string(site_id), std::string(from)}));
  return moved.affected > 0;
}

Status SiteService::SetPolledSha(std::string_view site_id, std::string_view sha) {
  RD_TRY_STATUS(db_.Exec("UPDATE sites SET polled_sha = ? WHERE id = ?",
                         {std::string(sha), std::string(site_id)}));
  return {};
}

Status SiteService::SetWebhookSecretSealed(std::string_view site_id, std::string_view sealed) {
  RD_TRY(db::Rows updated, db_.Exec("UPDATE sites SET webhook_secret_enc = ? WHERE id = ?",
                                    {std::string(sealed), std::string(site_id)}));
  if (updated.affected == 0) return MakeError(ErrorCode::kNotFound, "site not found");
  return {};
}

Result<std::string> SiteService::WebhookSecretSealed(std::string_view site_id) {
  RD_TRY(db::Rows rows,
         db_.Exec("SELECT webhook_secret_enc FROM sites WHERE id = ?", {std::string(site_id)}));
  if (rows.empty() || rows.rows.front().Text(0).empty()) {
    return MakeError(ErrorCode::kNotFound, "site not found or not built from GitHub");
  }
  return rows.rows.front().Text(0);
}

Status SiteService::SetGithubHookId(std::string_view site_id, std::optional<std::int64_t> hook_id) {
  RD_TRY_STATUS(
      db_.Exec("UPDATE sites SET github_hook_id = ? WHERE id = ?",
               {hook_id ? db::Value(*hook_id) : db::Value(nullptr), std::string(site_id)}));
  return {};
}

Result<std::optional<std::int64_t>> SiteService::GithubHookId(std::string_view site_id) {
  RD_TRY(db::Rows rows,
         db_.Exec("SELECT github_hook_id FROM sites WHERE id = ?", {std::string(site_id)}));
  if (rows.empty() || rows.rows.front().IsNull(0)) return std::optional<std::int64_t>();
  return std::optional<std::int64_t>(rows.rows.front().Int(0));
}

}  // namespace replideploy::deploys
