// The platform's side of GitHub: users' connections (the OAuth token, encrypted at rest and
// never returned to clients; table github_accounts, owned here), OAuth flows in progress (table
// github_oauth_states, owned here), and the key that seals other GitHub secrets at rest
// (webhook secrets). Thread-safe.
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

// A started OAuth flow: `state` goes to GitHub and comes back in the callback's query; `nonce`
// goes to the browser that started the flow, in an HttpOnly cookie, and must come back with it.
struct OAuthStart {
  std::string state;
  std::string nonce;
  std::int64_t expires_at = 0;  // unix millis
};

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

  static constexpr std::int64_t kStateLifetimeMillis = std::int64_t{10} * 60 * 1000;

  // Starts an OAuth flow for `user_id` that ends at `return_to` (the caller has checked it is
  // a path of ours): two random values, stored only as digests, for kStateLifetimeMillis.
  Result<OAuthStart> StartOAuth(std::string_view user_id, std::string_view return_to);
  // Ends the flow that `state` names and returns its user id and return path, when the state
  // is known and unexpired and `nonce` (the browser's cookie) is the one it was started with.
  // The state is used up by the first call that presents it, whatever the outcome: one
  // callback of two racing ones wins. kBadRequest "invalid_state" otherwise.
  Result<std::pair<std::string, std::string>> FinishOAuth(std::string_view state,
                                                          std::string_view nonce);

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
