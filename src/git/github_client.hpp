// GitHub OAuth and REST client: the calls RepliDeploy makes on a user's behalf (sign-in, the
// repository picker, webhooks, commit statuses, reading a file from a repository).
//
// Blocking (libcurl through http::Fetch): call it from a blocking thread pool, never from an I/O
// thread. Thread-safe: a GithubClient is immutable after construction and every call uses its
// own connection. Tokens are the caller's; they are sent only in the Authorization header of
// requests to `api_url` and never appear in an error message or a log line.
//
// Errors, the same for every call:
//   kBadRequest      a malformed argument (full_name, sha, path, state), before any request
//   kForbidden       "github_reconnect": GitHub refused the token (401: revoked or expired)
//   kUnprocessable   "github_repo_access": GitHub answered 403/404 for the repository
//                    "github_hook_failed": GitHub refused the webhook (422), with its reason
//                    "github_request_failed": another 422 (e.g. an unknown commit)
//                    "github_oauth_failed": the OAuth code exchange failed, with GitHub's reason
//   kRateLimited     "github_rate_limited": GitHub's rate limit; retry_after_seconds when known
//   kUnavailable     GitHub unreachable, a timeout, a 5xx, or an answer we cannot read
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace replideploy::git {

struct GithubOptions {
  std::string web_url = "https://github.com";      // OAuth pages (GitHub Enterprise: https://host)
  std::string api_url = "https://api.github.com";  // REST API (GHE: https://host/api/v3)
  std::string client_id;
  std::string client_secret;
  std::chrono::milliseconds timeout{15'000};  // per request
};

struct GithubUser {
  std::int64_t id = 0;
  std::string login, name, avatar_url, html_url;  // name may be empty
};

struct GithubRepo {
  std::int64_t id = 0;
  std::string full_name;  // "owner/name"
  std::string name, owner, description, default_branch, html_url, clone_url;
  std::string pushed_at;  // ISO 8601 ("2024-01-02T03:04:05Z"); empty for a repository never pushed
  bool is_private = false;
};

// Larger GitHub answers fail the call (kUnavailable).
inline constexpr std::size_t kMaxGithubResponseBytes = std::size_t{16} << 20;
// GetFile refuses files over this size (GitHub's contents API does not inline them).
inline constexpr std::size_t kMaxGithubFileBytes = std::size_t{1} << 20;
// ListRepos stops after this many pages of 100.
inline constexpr int kMaxGithubRepoPages = 50;

class GithubClient {
 public:
  explicit GithubClient(GithubOptions options);

  // True when the OAuth app's client id and secret are set.
  bool configured() const;

  // The page to send the user's browser to:
  // {web_url}/login/oauth/authorize?client_id=..&redirect_uri=..&scope=repo%20admin:repo_hook&state=..
  std::string AuthorizeUrl(std::string_view state, std::string_view redirect_uri) const;

  // Trades the `code` GitHub handed to the redirect URI for an access token. A bad, expired or
  // reused code (GitHub answers 200 with an "error") is kUnprocessable "github_oauth_failed" with
  // GitHub's description; kUnavailable "github_not_configured" when !configured().
  Result<std::string> ExchangeCode(std::string_view code, std::string_view redirect_uri) const;

  // GET /user.
  Result<GithubUser> CurrentUser(std::string_view token) const;

  // Repositories the user owns, collaborates on or reaches through an organisation, most recently
  // pushed first. Follows the Link header's rel="next" (only to URLs under api_url), up to
  // kMaxGithubRepoPages pages.
  Result<std::vector<GithubRepo>> ListRepos(std::string_view token) const;

  // Creates a "web" hook for push and pull_request events delivering JSON to `url`, signed with
  // `secret`. Returns GitHub's hook id.
  Result<std::int64_t> CreateHook(std::string_view token, std::string_view full_name,
                                  std::string_view url, std::string_view secret) const;

  // Deletes a hook; one already gone (404) is success.
  Status DeleteHook(std::string_view token, std::string_view full_name, std::int64_t hook_id) const;

  // Sets a commit status. `state` is "pending", "success", "failure" or "error"; `sha` is a
  // full commit sha (40 or 64 hex digits); `description` is cut to GitHub's 140 characters.
  Status CreateStatus(std::string_view token, std::string_view full_name, std::string_view sha,
                      std::string_view state, std::string_view target_url,
                      std::string_view description,
                      std::string_view context = "replideploy/deploy") const;

  // The content of the file at `path` (relative, '/'-separated, no "..") at `ref` (a branch, tag
  // or sha; empty: the default branch). nullopt when GitHub answers 404. A directory or a
  // submodule is kUnprocessable "github_not_a_file"; a file over kMaxGithubFileBytes is
  // kUnprocessable "github_file_too_large".
  Result<std::optional<std::string>> GetFile(std::string_view token, std::string_view full_name,
                                             std::string_view path, std::string_view ref) const;

 private:
  GithubOptions options_;
};

// True for "owner/name" made of [A-Za-z0-9._-] with no "..", neither part "." nor empty.
bool IsValidRepoFullName(std::string_view full_name);

}  // namespace replideploy::git
