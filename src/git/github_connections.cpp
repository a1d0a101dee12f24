#include "git/github_connections.hpp"

#include <spdlog/spdlog.h>

#include "core/crypto.hpp"

namespace replideploy::git {

namespace {

std::string S(std::string_view v) { return std::string(v); }

// State and nonce carry 256 random bits each: a fast digest is enough to keep them out of the
// database.
std::string Digest(std::string_view secret) { return core::HexEncode(core::Sha256(secret)); }

}  // namespace

GithubConnections::GithubConnections(db::Database& db, const core::Clock& clock,
                                     GithubOptions options, std::string key)
    : db_(db), clock_(clock), client_(std::move(options)), key_(std::move(key)) {}

Result<OAuthStart> GithubConnections::StartOAuth(std::string_view user_id,
                                                 std::string_view return_to) {
  const std::int64_t now = clock_.NowMillis();
  OAuthStart start{core::Base64UrlEncode(core::RandomBytes(32)),
                   core::Base64UrlEncode(core::RandomBytes(32)), now + kStateLifetimeMillis};
  RD_TRY_STATUS(db_.Exec("DELETE FROM github_oauth_states WHERE expires_at <= ?", {now}));
  RD_TRY_STATUS(db_.Exec(
      "INSERT INTO github_oauth_states (state_hash, nonce_hash, user_id, return_to, expires_at) "
      "VALUES (?, ?, ?, ?, ?)",
      {Digest(start.state), Digest(start.nonce), S(user_id), S(return_to), start.expires_at}));
  return start;
}

Result<std::pair<std::string, std::string>> GithubConnections::FinishOAuth(std::string_view state,
                                                                           std::string_view nonce) {
  const Error invalid = MakeError(ErrorCode::kBadRequest, "invalid_state",
                                  "the GitHub sign-in link is invalid, expired, already used or "
                                  "was started in another browser; start again from the "
                                  "dashboard");
  if (state.empty() || state.size() > 256 || nonce.size() > 256) return invalid;
  std::optional<db::Row> row;
  RD_TRY_STATUS(db_.Transaction([&](db::Session& s) -> Status {
    const std::string state_hash = Digest(state);
    RD_TRY(db::Rows rows, s.Exec("SELECT nonce_hash, user_id, return_to, expires_at FROM "
                                 "github_oauth_states WHERE state_hash = ?",
                                 {state_hash}));
    RD_TRY(db::Rows used,
           s.Exec("DELETE FROM github_oauth_states WHERE state_hash = ?", {state_hash}));
    // Only the transaction whose DELETE took the row may use it.
    if (!rows.empty() && used.affected == 1) row = rows.rows.front();
    return {};
  }));
  if (!row || row->Int(3) <= clock_.NowMillis() || nonce.empty() ||
      !core::ConstantTimeEquals(Digest(nonce), row->Text(0))) {
    return invalid;
  }
  return std::pair{row->Text(1), row->Text(2)};
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
