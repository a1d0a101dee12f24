#include "deploys/env_vars.hpp"

#include <algorithm>

#include "core/crypto.hpp"

namespace replideploy::deploys {

namespace {

bool ValidName(std::string_view k) {
  if (k.empty() || k.size() > 128 || (k[0] >= '0' && k[0] <= '9')) return false;
  return std::all_of(k.begin(), k.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

bool ValidContext(std::string_view c) {
  return c == "all" || c == "production" || c == "deploy-preview" || c == "branch-deploy" ||
         c == "dev" || c == "dev-server";
}

Status ValidateVar(std::string_view key, std::string_view context, std::string_view value) {
  if (!ValidName(key)) {
    return Unprocessable("invalid_key",
                         "key must be letters, digits and '_', not starting with a digit");
  }
  if (!ValidContext(context)) {
    return Unprocessable("invalid_context",
                         "context must be all, production, deploy-preview, branch-deploy, dev or "
                         "dev-server");
  }
  if (value.size() > 64 * 1024) return Unprocessable("invalid_value", "value is over 64 KiB");
  return {};
}

constexpr const char* kUpsert =
    "INSERT INTO env_vars (site_id, name, context, value_encrypted, created_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (site_id, name, context) DO UPDATE SET "
    "value_encrypted = excluded.value_encrypted, updated_at = excluded.updated_at";

}  // namespace

Status EnvVarService::Set(std::string_view user_id, std::string_view site_ref, std::string_view key,
                          std::string_view value, std::string_view context) {
  RD_TRY_STATUS(ValidateVar(key, context, value));
  RD_TRY(Site site, sites_.Get(user_id, site_ref));
  const std::int64_t now = clock_.NowMillis();
  RD_TRY_STATUS(db_.Exec(kUpsert, {site.id, std::string(key), std::string(context),
                                   core::Encrypt(key_, value), now, now}));
  return {};
}

Status EnvVarService::CreateAll(std::string_view user_id, std::string_view site_ref,
                                const std::vector<EnvVar>& vars) {
  for (const EnvVar& v : vars) RD_TRY_STATUS(ValidateVar(v.key, v.context, v.value));
  RD_TRY(Site site, sites_.Get(user_id, site_ref));
  const std::int64_t now = clock_.NowMillis();
  return db_.Transaction([&](db::Session& s) -> Status {
    for (const EnvVar& v : vars) {
      RD_TRY(db::Rows existing,
             s.Exec("SELECT 1 FROM env_vars WHERE site_id = ? AND name = ? LIMIT 1",
                    {site.id, v.key}));
      if (!existing.empty()) {
        return MakeError(
            ErrorCode::kConflict, "env_var_exists",
            "the site already has a variable " + v.key + "; update it with PUT or PATCH instead");
      }
    }
    for (const EnvVar& v : vars) {
      RD_TRY_STATUS(
          s.Exec(kUpsert, {site.id, v.key, v.context, core::Encrypt(key_, v.value), now, now}));
    }
    return {};
  });
}

Status EnvVarService::Replace(std::string_view user_id, std::string_view site_ref,
                              std::string_view key, const std::vector<EnvVar>& values) {
  if (values.empty()) return Unprocessable("invalid_value", "a variable needs at least one value");
  for (const EnvVar& v : values) RD_TRY_STATUS(ValidateVar(key, v.context, v.value));
  RD_TRY(Site site, sites_.Get(user_id, site_ref));
  const std::int64_t now = clock_.NowMillis();
  return db_.Transaction([&](db::Session& s) -> Status {
    RD_TRY_STATUS(
        s.Exec("DELETE FROM env_vars WHERE site_id = ? AND name = ?", {site.id, std::string(key)}));
    for (const EnvVar& v : values) {
      RD_TRY_STATUS(s.Exec(
          kUpsert, {site.id, std::string(key), v.context, core::Encrypt(key_, v.value), now, now}));
    }
    return {};
  });
}

Status EnvVarService::DeleteValue(std::string_view user_id, std::string_view site_ref,
                                  std::string_view key, std::string_view context) {
  RD_TRY(Site site, sites_.Get(user_id, site_ref));
  RD_TRY(db::Rows rows,
         db_.Exec("DELETE FROM env_vars WHERE site_id = ? AND name = ? AND context = ?",
                  {site.id, std::string(key), std::string(context)}));
  if (rows.affected == 0) return MakeError(ErrorCode::kNotFound, "no such value");
  return {};
}

Result<std::vector<EnvVar>> EnvVarService::List(std::string_view user_id,
                                                std::string_view site_ref) {
  RD_TRY(Site site, sites_.Get(user_id, site_ref));
  RD_TRY(db::Rows rows, db_.Exec("SELECT name, context, value_encrypted FROM env_vars "
                                 "WHERE site_id = ? ORDER BY name, context",
                                 {site.id}));
  std::vector<EnvVar> out;
  for (const auto& r : rows.rows) {
    RD_TRY(std::string value, core::Decrypt(key_, r.Text(2)));
    out.push_back({r.Text(0), r.Text(1), std::move(value)});
  }
  return out;
}

Status EnvVarService::Delete(std::string_view user_id, std::string_view site_ref,
                             std::string_view key) {
  RD_TRY(Site site, sites_.Get(user_id, site_ref));
  RD_TRY(db::Rows rows, db_.Exec("DELETE FROM env_vars WHERE site_id = ? AND name = ?",
                                 {site.id, std::string(key)}));
  if (rows.affected == 0) return MakeError(ErrorCode::kNotFound, "no such variable");
  return {};
}

Result<std::map<std::string, std::string>> EnvVarService::ForBuild(std::string_view site_id,
                                                                   std::string_view context) {
  RD_TRY(db::Rows rows, db_.Exec("SELECT name, context, value_encrypted FROM env_vars "
                                 "WHERE site_id = ? AND context IN ('all', ?)",
                                 {std::string(site_id), std::string(context)}));
  std::map<std::string, std::string> out;
  // "all" first, so a context's own value wins.
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& r : rows.rows) {
      if ((r.Text(1) == "all") != (pass == 0)) continue;
      RD_TRY(std::string value, core::Decrypt(key_, r.Text(2)));
      out[r.Text(0)] = std::move(value);
    }
  }
  return out;
}

std::string MaskSecrets(std::string_view line, const std::vector<std::string>& secrets) {
  std::string out(line);
  for (const std::string& secret : secrets) {
    if (secret.size() < 4) continue;
    for (auto pos = out.find(secret); pos != std::string::npos; pos = out.find(secret, pos + 4)) {
      out.replace(pos, secret.size(), "****");
    }
  }
  return out;
}

}  // namespace replideploy::deploys
