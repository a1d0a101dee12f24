// The platform's side of GitHub: users' connections (the OAuth token, encrypted at rest and
// never returned to clients), each GitHub site's webhook (its secret, encrypted, and GitHub's
// hook id), the signed OAuth `state`, and commit statuses for builds. Thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "builder/queue.hpp"
#include "builder/worker.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"
#include "db/database.hpp"
#include "deploys/sites.hpp"
#include "git/github_client.hpp"

namespace replideploy::api {

struct GithubAccount {
  std::int64_t github_id = 0;
  std::string login;
  std::string avatar_url;
  std::string html_url;
};

class GithubLink {
 public:
  // `key` (32 bytes) encrypts tokens and secrets and signs OAuth states.
  GithubLink(db::Database& db, const core::Clock& clock, git::GithubOptions options,
             std::string key);

  const git::GithubClient& client() const { return client_; }

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

  // A new random webhook secret for the site, stored encrypted; returned for the hook.
  Result<std::string> NewWebhookSecret(std::string_view site_id);
  // kNotFound when the site has none.
  Result<std::string> WebhookSecret(std::string_view site_id);
  Status SetHookId(std::string_view site_id, std::optional<std::int64_t> hook_id);
  Result<std::optional<std::int64_t>> HookId(std::string_view site_id);

  // Sets the commit status of a GitHub site's build (others are ignored); failures are logged.
  void ReportBuild(const deploys::Site& site, const builder::BuildJob& job,
                   builder::BuildPhase phase, const std::string& detail,
                   const std::string& deploy_url, const std::string& log_url);

 private:
  db::Database& db_;
  const core::Clock& clock_;
  git::GithubClient client_;
  std::string key_;
};

}  // namespace replideploy::api
