// The platform's side of GitHub: users' connections (the OAuth token, encrypted at rest and
// never returned to clients; table github_accounts, owned here), the signed OAuth `state`, and
// the key that seals other GitHub secrets at rest (webhook secrets). Thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "db/database.hpp"
#include "git/github_client.hpp"

namespace replideploy::git {

struct GithubAccount {
  std::int64_t github_id = 0;
  std::string login;
  std::string avatar_url;
  std::string html_url;
};

class GithubConnections {
 public:
  // `key` (32 bytes) encrypts tokens and secrets and signs OAuth states.
  GithubConnections(db::Database& db, const core::Clock& clock, GithubOptions options,
                    std::string key);

  const GithubClient& client() const { return client_; }

  // OAuth state: binds the callback to `user_id` for 10 minutes, carrying where to go after.
  std::string SignState(std::string_view user_id, std::string_view return_to) const;
  // The user id and return path; kBadRequest "invalid_state" for a forged or expired state.
  Result<std::pair<std::string, std::string>> VerifyState(std::string_view state) const;

  // Exchanges the code, reads the GitHub user and stores the connection.
  Result<GithubAccount> Connect(std::string_view user_id, std::string_view code,
                                std::string_view redirect_uri);
  Result<std::optional<GithubAccount>> Account(std::string_view user_id);
  Status Disconnect(std::string_view user_id);
  // The user's token; kConflict "github_not_connected" when there is none.
  Result<std::string> Token(std::string_view user_id);

  // Seals a secret with the connection key (core::Encrypt: libsodium secretbox), and opens it
  // again.
  std::string Seal(std::string_view secret) const;
  Result<std::string> Unseal(std::string_view sealed) const;

 private:
  db::Database& db_;
  const core::Clock& clock_;
  GithubClient client_;
  std::string key_;
};

}  // namespace replideploy::git
