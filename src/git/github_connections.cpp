#include "git/github_connections.hpp"

#include <spdlog/spdlog.h>

#include "core/crypto.hpp"

namespace replideploy::git {

namespace {

constexpr std::int64_t kStateLifetimeMillis = std::int64_t{10} * 60 * 1000;

std::string S(std::string_view v) { return std::string(v); }

}  // namespace

GithubConnections::GithubConnections(db::Database& db, const core::Clock& clock,
                                     GithubOptions options, std::string key)
    : db_(db), clock_(clock), client_(std::move(options)), key_(std::move(key)) {}

std::string GithubConnections::SignState(std::string_view user_id,
                                         std::string_view return_to) const {
  const std::string payload = core::Base64UrlEncode(
      S(user_id) + "\n" + std::to_string(clock_.NowMillis() + kStateLifetimeMillis) + "\n" +
      core::HexEncode(core::RandomBytes(8)) + "\n" + S(return_to));
  return payload + "." + core::Base64UrlEncode(core::HmacSha256(key_, "oauth-state\n" + payload));
}

Result<std::pair<std::string, std::string>> GithubConnections::VerifyState(
    std::string_view state) const {
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

Result<GithubAccount> GithubConnections::Connect(std::string_view user_id, std::string_view code,
                                                 std::string_view redirect_uri) {
  RD_TRY(std::string token, client_.ExchangeCode(code, redirect_uri));
  RD_TRY(GithubUser user, client_.CurrentUser(token));
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

Result<std::optional<GithubAccount>> GithubConnections::Account(std::string_view user_id) {
  RD_TRY(db::Rows rows, db_.Exec("SELECT github_id, login, avatar_url, html_url FROM "
                                 "github_accounts WHERE user_id = ?",
                                 {S(user_id)}));
  if (rows.empty()) return std::optional<GithubAccount>();
  const auto& r = rows.rows.front();
  return std::optional<GithubAccount>(GithubAccount{r.Int(0), r.Text(1), r.Text(2), r.Text(3)});
}

Status GithubConnections::Disconnect(std::string_view user_id) {
  RD_TRY_STATUS(db_.Exec("DELETE FROM github_accounts WHERE user_id = ?", {S(user_id)}));
  return {};
}

Result<std::string> GithubConnections::Token(std::string_view user_id) {
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

std::string GithubConnections::Seal(std::string_view secret) const {
  return core::Encrypt(key_, secret);
}

Result<std::string> GithubConnections::Unseal(std::string_view sealed) const {
  auto secret = core::Decrypt(key_, sealed);
  if (!secret.ok()) return MakeError(ErrorCode::kInternal, "cannot decrypt a GitHub secret");
  return secret;
}

}  // namespace replideploy::git
