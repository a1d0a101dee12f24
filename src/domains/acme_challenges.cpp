#include "domains/acme_challenges.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

namespace replideploy::domains {

bool IsAcmeToken(std::string_view token) {
  return !token.empty() && token.size() <= 128 &&
         std::all_of(token.begin(), token.end(),
                     [](unsigned char c) { return std::isalnum(c) != 0 || c == '-' || c == '_'; });
}

Http01Responder::Http01Responder(db::Database* db, const core::Clock& clock,
                                 std::int64_t ttl_millis)
    : db_(db), clock_(clock), ttl_millis_(ttl_millis) {}

Status Http01Responder::Present(const std::string& name, const std::string& token,
                                const std::string& key_authorization) {
  if (!IsAcmeToken(token)) {
    return MakeError(ErrorCode::kUnprocessable, "acme_bad_token", "the CA sent a malformed token");
  }
  {
    std::lock_guard lock(mu_);
    tokens_[token] = key_authorization;
  }
  if (db_ == nullptr) return {};
  const std::int64_t now = clock_.NowMillis();
  RD_TRY_STATUS(db_->Exec("DELETE FROM acme_challenges WHERE expires_at < ?", {now}));
  RD_TRY(auto rows,
         db_->Exec("INSERT INTO acme_challenges (token, key_authorization, name, expires_at) "
                   "VALUES (?, ?, ?, ?) ON CONFLICT (token) DO UPDATE SET "
                   "key_authorization = excluded.key_authorization, name = excluded.name, "
                   "expires_at = excluded.expires_at",
                   {token, key_authorization, name, now + ttl_millis_}));
  (void)rows;
  return {};
}

void Http01Responder::CleanUp(const std::string& /*name*/, const std::string& token,
                              const std::string& /*key_authorization*/) {
  {
    std::lock_guard lock(mu_);
    tokens_.erase(token);
  }
  if (db_ == nullptr) return;
  auto done = db_->Exec("DELETE FROM acme_challenges WHERE token = ?", {token});
  if (!done.ok()) spdlog::warn("acme: removing challenge {}: {}", token, done.error().message);
}

std::optional<std::string> Http01Responder::Lookup(std::string_view token) {
  if (!IsAcmeToken(token)) return std::nullopt;
  {
    std::lock_guard lock(mu_);
    if (auto it = tokens_.find(token); it != tokens_.end()) return it->second;
  }
  if (db_ == nullptr) return std::nullopt;
  auto rows =
      db_->Exec("SELECT key_authorization FROM acme_challenges WHERE token = ? AND expires_at >= ?",
                {std::string(token), clock_.NowMillis()});
  if (!rows.ok()) {
    spdlog::warn("acme: challenge lookup: {}", rows.error().message);
    return std::nullopt;
  }
  if (rows->empty()) return std::nullopt;
  return rows->rows.front().Text(0);
}

}  // namespace replideploy::domains
