#include "api/github_link.hpp"

#include <spdlog/spdlog.h>

#include "core/crypto.hpp"

namespace replideploy::api {

namespace {

constexpr std::int64_t kStateLifetimeMillis = std::int64_t{10} * 60 * 1000;

std::string S(std::string_view v) { return std::string(v); }

}  // namespace

GithubLink::GithubLink(db::Database& db, const core::Clock& clock, git::GithubOptions options,
                       std::string key)
    : db_(db), clock_(clock), client_(std::move(options)), key_(std::move(key)) {}

std::string GithubLink::SignState(std::string_view user_id, std::string_view return_to) const {
  const std::string payload = core::Base64UrlEncode(
      S(user_id) + "\n" + std::to_string(clock_.NowMillis() + kStateLifetimeMillis) + "\n" +
      core::HexEncode(core::RandomBytes(8)) + "\n" + S(return_to));
  return payload + "." + core::Base64UrlEncode(core::HmacSha256(key_, "oauth-state\n" + payload));
}

Result<std::pair<std::string, std::string>> GithubLink::VerifyState(std::string_view state) const {
  const auto invalid = [] {
    return MakeError(ErrorCode::kBadRequest, "invalid_state",
                     "the GitHub sign-in link is invalid or expired; start again from the "
                     "dashboard");
  };
  const auto dot = state.find('.');
  if (dot == std::string_view::npos || state.size() > 4096) return invalid();
  const std::string payload(state.substr(0, dot));
  const std::string expected =
      core::Base64UrlEncode(core::HmacSha256(key_, "oauth-state\n" + payload));
  if (!core::ConstantTimeEquals(expected, state.substr(dot + 1))) return invalid();
  auto decoded = core::Base64UrlDecode(payload);
  if (!decoded.ok()) return invalid();
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (int i = 0; i < 3; ++i) {
    const auto nl = decoded->find('\n', start);
    if (nl == std::string::npos) return invalid();
    parts.push_back(decoded->substr(start, nl - start));
    start = nl + 1;
  }
  parts.push_back(decoded->substr(start));
  if (std::atoll(parts[1].c_str()) < clock_.NowMillis()) return invalid();
  return std::pair{parts[0], parts[3]};
}

Result<GithubAccount> GithubLink::Connect(std::string_view user_id, std::string_view code,
                                          std::string_view redirect_uri) {
  RD_TRY(std::string token, client_.ExchangeCode(code, redirect_uri));
  RD_TRY(git::GithubUser user, client_.CurrentUser(token));
  const std::int64_t now = clock_.NowMillis();
  const std::string sealed = core::Encrypt(key_, token);
  RD_TRY_STATUS(db_.Transaction([&](db::Session& s) -> Status {
    RD_TRY_STATUS(s.Exec("DELETE FROM github_accounts WHERE user_id = ?", {S(user_id)}));
    RD_TRY_STATUS(s.Exec(
        "INSERT INTO github_accounts (user_id, github_id, login, avatar_url, html_url, token_enc, "
        "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        {S(user_id), user.id, user.login, user.avatar_url, user.html_url, sealed, now, now}));
    return {};
  }));
  return GithubAccount{user.id, user.login, user.avatar_url, user.html_url};
}

Result<std::optional<GithubAccount>> GithubLink::Account(std::string_view user_id) {
  RD_TRY(db::Rows rows, db_.Exec("SELECT github_id, login, avatar_url, html_url FROM "
                                 "github_accounts WHERE user_id = ?",
                                 {S(user_id)}));
  if (rows.empty()) return std::optional<GithubAccount>();
  const auto& r = rows.rows.front();
  return std::optional<GithubAccount>(GithubAccount{r.Int(0), r.Text(1), r.Text(2), r.Text(3)});
}

Status GithubLink::Disconnect(std::string_view user_id) {
  RD_TRY_STATUS(db_.Exec("DELETE FROM github_accounts WHERE user_id = ?", {S(user_id)}));
  return {};
}

Result<std::string> GithubLink::Token(std::string_view user_id) {
  RD_TRY(db::Rows rows,
         db_.Exec("SELECT token_enc FROM github_accounts WHERE user_id = ?", {S(user_id)}));
  if (rows.empty()) {
    return MakeError(ErrorCode::kConflict, "github_not_connected",
                     "connect your GitHub account first");
  }
  auto token = core::Decrypt(key_, rows.rows.front().Text(0));
  if (!token.ok()) {
    return MakeError(ErrorCode::kInternal, "the stored GitHub token cannot be decrypted");
  }
  return token;
}

Result<std::string> GithubLink::NewWebhookSecret(std::string_view site_id) {
  const std::string secret = core::HexEncode(core::RandomBytes(32));
  RD_TRY(db::Rows updated, db_.Exec("UPDATE sites SET webhook_secret_enc = ? WHERE id = ?",
                                    {core::Encrypt(key_, secret), S(site_id)}));
  if (updated.affected == 0) return MakeError(ErrorCode::kNotFound, "site not found");
  return secret;
}

Result<std::string> GithubLink::WebhookSecret(std::string_view site_id) {
  RD_TRY(db::Rows rows,
         db_.Exec("SELECT webhook_secret_enc FROM sites WHERE id = ?", {S(site_id)}));
  if (rows.empty() || rows.rows.front().Text(0).empty()) {
    return MakeError(ErrorCode::kNotFound, "site not found or not built from GitHub");
  }
  auto secret = core::Decrypt(key_, rows.rows.front().Text(0));
  if (!secret.ok()) return MakeError(ErrorCode::kInternal, "cannot decrypt the webhook secret");
  return secret;
}

Status GithubLink::SetHookId(std::string_view site_id, std::optional<std::int64_t> hook_id) {
  RD_TRY_STATUS(db_.Exec("UPDATE sites SET github_hook_id = ? WHERE id = ?",
                         {hook_id ? db::Value(*hook_id) : db::Value(nullptr), S(site_id)}));
  return {};
}

Result<std::optional<std::int64_t>> GithubLink::HookId(std::string_view site_id) {
  RD_TRY(db::Rows rows, db_.Exec("SELECT github_hook_id FROM sites WHERE id = ?", {S(site_id)}));
  if (rows.empty() || rows.rows.front().IsNull(0)) return std::optional<std::int64_t>();
  return std::optional<std::int64_t>(rows.rows.front().Int(0));
}

void GithubLink::ReportBuild(const deploys::Site& site, const builder::BuildJob& job,
                             builder::BuildPhase phase, const std::string& detail,
                             const std::string& deploy_url, const std::string& log_url) {
  if (site.build_settings.provider != "github" || site.build_settings.repo_path.empty()) return;
  auto token = Token(site.owner_user_id);
  if (!token.ok()) {
    spdlog::warn("site {}: no GitHub token for commit statuses: {}", site.name,
                 token.error().message);
    return;
  }
  std::string state, description, target;
  switch (phase) {
    case builder::BuildPhase::kStarted:
      state = "pending";
      description = "Building";
      target = log_url;
      break;
    case builder::BuildPhase::kSucceeded:
      state = "success";
      description = "Deploy ready";
      target = deploy_url;
      break;
    case builder::BuildPhase::kFailed:
      state = "failure";
      description = "Deploy failed: " + detail;
      target = log_url;
      break;
  }
  const std::string context = "replideploy/" + site.name + "/" + job.context;
  Status st = client_.CreateStatus(*token, site.build_settings.repo_path, job.commit_sha, state,
                                   target, description, context);
  if (!st.ok()) {
    spdlog::warn("site {}: commit status for {} not set: {}", site.name, job.commit_sha,
                 st.error().message);
  }
}

}  // namespace replideploy::api
