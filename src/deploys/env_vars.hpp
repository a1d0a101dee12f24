// A site's environment variables, per deploy context, for its builds. Values are encrypted at
// rest (core::Encrypt with a key derived from the server secret) and returned only to the
// site's owner. Access as in SiteService: another user's site is kNotFound. Thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "db/database.hpp"
#include "deploys/sites.hpp"

namespace replideploy::deploys {

struct EnvVar {
  std::string key;
  // "all", "production", "deploy-preview", "branch-deploy"; "dev" and "dev-server" are kept
  // for netlify-cli's local development and never reach a build.
  std::string context;
  std::string value;
};

class EnvVarService {
 public:
  EnvVarService(db::Database& db, const core::Clock& clock, SiteService& sites, std::string key)
      : db_(db), clock_(clock), sites_(sites), key_(std::move(key)) {}

  // Names: [A-Za-z_][A-Za-z0-9_]*, at most 128; values at most 64 KiB. kUnprocessable otherwise.
  Status Set(std::string_view user_id, std::string_view site_ref, std::string_view key,
             std::string_view value, std::string_view context = "all");
  // Ordered by key, then context.
  Result<std::vector<EnvVar>> List(std::string_view user_id, std::string_view site_ref);
  // Removes the variable in every context. kNotFound when it did not exist.
  Status Delete(std::string_view user_id, std::string_view site_ref, std::string_view key);
  // Removes one context's value of the variable. kNotFound when it had none there.
  Status DeleteValue(std::string_view user_id, std::string_view site_ref, std::string_view key,
                     std::string_view context);

  // Creates new variables, all or none: every entry is validated as in Set first, and a key the
  // site already has is kConflict ("env_var_exists"), leaving everything as it was.
  Status CreateAll(std::string_view user_id, std::string_view site_ref,
                   const std::vector<EnvVar>& vars);
  // Makes `values` (each with key == `key`) the variable's only values, in one transaction;
  // creates the variable when it did not exist. At least one value (kUnprocessable otherwise).
  Status Replace(std::string_view user_id, std::string_view site_ref, std::string_view key,
                 const std::vector<EnvVar>& values);

  // For a build of `site_id` in `context`: the "all" values, overridden by the context's own.
  Result<std::map<std::string, std::string>> ForBuild(std::string_view site_id,
                                                      std::string_view context);

 private:
  db::Database& db_;
  const core::Clock& clock_;
  SiteService& sites_;
  std::string key_;
};

// Replaces every occurrence of each secret value (4 characters or longer) in `line` by "****".
std::string MaskSecrets(std::string_view line, const std::vector<std::string>& secrets);

}  // namespace replideploy::deploys
