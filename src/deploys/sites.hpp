// Sites: the unit a user deploys. Names are DNS labels, unique across the platform, because a
// site is served at <name>.<base-domain>.
//
// Access: every call takes the acting user's id; a site in an account the user does not own
// is reported as kNotFound, exactly like a missing one. Thread-safe; every call blocks on the
// database.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "db/database.hpp"

namespace replideploy::deploys {

struct BuildSettings {
  std::string cmd;   // build command
  std::string dir;   // publish directory
  std::string base;  // base directory
  std::string repo_url;
  std::string repo_branch;  // production branch
  std::string functions_dir;
  std::string provider;         // "github", "git" (a public git URL), "" (uploads, own remote)
  std::string repo_path;        // "owner/name" for GitHub
  bool branch_deploys = false;  // build pushes to branches other than the production branch
  bool deploy_previews = true;  // build pull requests (GitHub)

  // The production branch: "main" when none is set.
  std::string ProductionBranch() const { return repo_branch.empty() ? "main" : repo_branch; }
};

enum class PasswordScope { kNone, kAll, kNonProduction };
// "none", "all", "non_production".
std::string_view PasswordScopeName(PasswordScope scope);
// "all" or "non_production"; kUnprocessable "invalid_password_scope" otherwise.
Result<PasswordScope> ParsePasswordScope(std::string_view name);

// What the edge needs to know of a site to route a request to it.
struct EdgeSite {
  std::string id;
  std::string published_deploy_id;  // empty: nothing published
  std::string password_hash;        // Argon2id; empty: no site-wide password
  PasswordScope password_scope = PasswordScope::kNone;
  bool https_redirect = true;  // see Site
  bool hsts = false;
  std::int64_t skew_protection_seconds = 0;   // see Site
  std::int64_t function_timeout_seconds = 0;  // see Site
};

struct Site {
  std::string id;
  std::string account_id;
  std::string account_slug;
  std::string owner_user_id;  // the account's owner
  std::string name;
  BuildSettings build_settings;
  std::optional<std::string> published_deploy_id;
  bool locked = false;  // auto-publishing off
  // Site-wide password protection: none, every deploy, or all but the production one.
  PasswordScope password_scope = PasswordScope::kNone;
  // Plain-HTTP requests are redirected (301) to HTTPS once the edge has a certificate for the
  // host (ACME challenges excepted).
  bool https_redirect = true;
  // HTTPS answers carry Strict-Transport-Security (max-age one year).
  bool hsts = false;
  // Skew protection (docs/edge.md): > 0 pins a visitor's non-HTML requests to the deploy whose
  // HTML they loaded, while that deploy was live within this many seconds; 0 is off.
  std::int64_t skew_protection_seconds = 0;
  // How long a synchronous function call may take (1..kMaxFunctionTimeoutSeconds); 0: the
  // server's default (10 s). Background and scheduled calls keep their own limits.
  std::int64_t function_timeout_seconds = 0;
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
};

struct SitePatch {
  std::optional<std::string> name;
  std::optional<std::string> cmd, dir, base, repo_url, repo_branch, functions_dir;
  std::optional<std::string> provider, repo_path;
  std::optional<bool> branch_deploys, deploy_previews;
  std::optional<bool> https_redirect, hsts;
  // Skew protection: `skew_protection` false turns it off, true turns it on (with
  // kDefaultSkewProtectionSeconds when it was off); `skew_protection_seconds` sets the window
  // (0: off, else kMinSkewProtectionSeconds..kMaxSkewProtectionSeconds). Both given must agree.
  std::optional<bool> skew_protection;
  std::optional<std::int64_t> skew_protection_seconds;
  // 0 (the default) or 1..kMaxFunctionTimeoutSeconds; else kUnprocessable
  // "invalid_functions_timeout".
  std::optional<std::int64_t> function_timeout_seconds;
};

inline constexpr std::int64_t kMaxFunctionTimeoutSeconds = 60;

inline constexpr std::int64_t kDefaultSkewProtectionSeconds = 12 * 3600;
inline constexpr std::int64_t kMinSkewProtectionSeconds = 60;
inline constexpr std::int64_t kMaxSkewProtectionSeconds = 7 * 24 * 3600;

// Lower-cases `name` and checks it is a DNS label without "--" (reserved as the separator of
// deploy and branch URLs). kUnprocessable with detail "invalid_name" otherwise.
Result<std::string> NormalizeSiteName(std::string_view name);

class SiteService {
 public:
  SiteService(db::Database& db, const core::Clock& clock) : db_(db), clock_(clock) {}

  // Called with the site id after a site was changed, renamed or deleted (set once, at
  // start-up). Each such change is also sent as a change event (db/change_events.hpp).
  void SetChangeListener(std::function<void(const std::string&)> listener) {
    on_change_ = std::move(listener);
  }

  // A random readable name when `name` is absent. kUnprocessable ("name_taken") when taken.
  Result<Site> Create(std::string_view user_id, std::string_view account_id,
                      std::optional<std::string> name, const BuildSettings& settings);
  // The user's sites, newest first; `name_filter` keeps names containing it.
  Result<std::vector<Site>> List(std::string_view user_id, std::string_view name_filter = {});
  // By id, by name, or by "<name>.<base-domain>" host (the caller strips the domain).
  Result<Site> Get(std::string_view user_id, std::string_view id_or_name);
  Result<Site> Update(std::string_view user_id, std::string_view id_or_name,
                      const SitePatch& patch);
  Status Delete(std::string_view user_id, std::string_view id_or_name);

  // By id, whoever owns it: for webhooks, pollers and builds, which act for the site's owner.
  Result<Site> GetById(std::string_view site_id);
  // Sites following a repository: by provider and "owner/name" (GitHub, case-insensitive), or
  // every site of a provider when `repo_path` is empty.
  Result<std::vector<Site>> ListByRepo(std::string_view provider, std::string_view repo_path);

  // The edge's question: a site's id, published deploy and password by name; kNotFound when
  // none.
  Result<EdgeSite> EdgeSiteByName(std::string_view name);

  // Site-wide password protection: `password_hash` (Argon2id, made by the caller) guards the
  // deploys `scope` names (not kNone). Clearing it opens the site again. Both tell the change
  // listener, so that edges in this process stop (or start) asking at once.
  Status SetPassword(std::string_view site_id, std::string_view password_hash, PasswordScope scope);
  Status ClearPassword(std::string_view site_id);

  // The commit the git poller last saw on the production branch ("" before the first look).
  Result<std::string> PolledSha(std::string_view site_id);
  // Moves the polled commit from `from` to `to`; false when another poller moved it first.
  Result<bool> AdvancePolledSha(std::string_view site_id, std::string_view from,
                                std::string_view to);
  Status SetPolledSha(std::string_view site_id, std::string_view sha);

  // A GitHub site's webhook: its secret, sealed by the caller (kept as given), and GitHub's hook
  // id. WebhookSecretSealed is kNotFound when the site has none.
  Status SetWebhookSecretSealed(std::string_view site_id, std::string_view sealed);
  Result<std::string> WebhookSecretSealed(std::string_view site_id);
  Status SetGithubHookId(std::string_view site_id, std::optional<std::int64_t> hook_id);
  Result<std::optional<std::int64_t>> GithubHookId(std::string_view site_id);

 private:
  // Tells the edges: other processes' by a change event, this one's by the listener.
  void Changed(const std::string& site_id);

  db::Database& db_;
  const core::Clock& clock_;
  std::function<void(const std::string&)> on_change_;
};

}  // namespace replideploy::deploys
