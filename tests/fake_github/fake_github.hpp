// A fake GitHub for tests: the OAuth web flow and the REST calls git::GithubClient makes, with
// GitHub's request and response shapes, on our own http::Server at 127.0.0.1. The same server
// plays github.com (web_url) and api.github.com (api_url): point both at base_url().
//
// Served:
//   GET    /login/oauth/authorize            no login page: 302 straight to redirect_uri with a
//                                            fresh one-time code for the OAuth user
//   POST   /login/oauth/access_token         form or JSON; GitHub's 200 + "error" answers
//   GET    /user
//   GET    /user/repos                       per_page, page, sort, direction; Link headers
//   GET    /repos/{owner}/{repo}/hooks
//   POST   /repos/{owner}/{repo}/hooks       201 + hook; 422 for a duplicate URL
//   DELETE /repos/{owner}/{repo}/hooks/{id}  204; 404 when gone
//   POST   /repos/{owner}/{repo}/statuses/{sha}
//   GET    /repos/{owner}/{repo}/contents/{path...}?ref=
//                                            ref: a branch, a commit sha (or a unique prefix of
//                                            7+ digits); a full sha the repository does not have
//                                            reads as the default branch's head
//   GET    /{owner}/{repo}.git/info/refs?service=git-upload-pack
//   POST   /{owner}/{repo}.git/git-upload-pack
//                                            git's smart HTTP protocol (v0 and v2, fetch by sha
//                                            allowed) from real bare repositories, by
//                                            git-http-backend; git-receive-pack is 403
// Like GitHub: a missing token is 401 "Requires authentication", an unknown or revoked one 401
// "Bad credentials"; a repository the token's user cannot see (or may not administer, for hooks
// and statuses) is 404; a request without User-Agent is 403.
// Git over HTTP takes Basic credentials whose password (or user name) is a token
// ("x-access-token:<token>"): a public repository needs none, a private one the owner's token;
// missing or bad credentials are 401 with `WWW-Authenticate: Basic realm="GitHub"` (so git
// fails at once under GIT_TERMINAL_PROMPT=0), an unknown repository or someone else's private
// one 404 "Repository not found.".
//
// Each repository is a real bare git repository under a temporary directory the FakeGithub
// owns and removes when destroyed. Every commit is authored and committed by
// "Fake GitHub <fake@example.com>" at a fixed, increasing date, with files of mode 100644. The
// fake computes commit shas itself and runs git only when a client fetches (git init and one
// git fast-import for the commits made since): forking from a sanitized test binary is slow,
// and most tests add repositories they never clone.
//
// Thread-safe: every method may be called from any thread while the server runs.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "http/message.hpp"

namespace replideploy::fake_github {

struct FakeGithubOptions {
  std::string client_id = "fake-client-id";
  std::string client_secret = "fake-client-secret";
  // 0 picks a free port (tests); the fake_github binary takes --port.
  std::uint16_t port = 0;
  // When set, hooks and statuses are written there as JSON after every change:
  // {"hooks":[{"repo","id","url","secret","events","content_type","active"}],
  //  "statuses":[{"repo","sha","state","target_url","description","context"}]}
  std::string state_file;
};

struct FakeHook {
  std::string repo;  // "owner/name" as added
  std::int64_t id = 0;
  std::string url;
  std::string secret;
  std::vector<std::string> events;
  std::string content_type;  // "json" or "form"
  bool active = true;
};

struct FakeStatus {
  std::string repo;
  std::string sha;
  std::string state;
  std::string target_url;
  std::string description;
  std::string context;
};

struct FakeRequest {
  std::string method;
  std::string path;   // decoded, without the query
  std::string query;  // raw, after '?'
  http::Headers headers;
};

class FakeGithub {
 public:
  explicit FakeGithub(FakeGithubOptions options = {});
  ~FakeGithub();  // Stop()s
  FakeGithub(const FakeGithub&) = delete;
  FakeGithub& operator=(const FakeGithub&) = delete;

  // Listens on 127.0.0.1 and starts serving; returns at once.
  Status Start();
  // Stops serving (idempotent).
  void Stop();
  // Blocks until SIGINT or SIGTERM, then stops (for the fake_github binary).
  void RunUntilSignal();
  // Valid after Start().
  std::uint16_t port() const;
  // "http://127.0.0.1:<port>".
  std::string base_url() const;

  // Adds a user (a second call with the same login returns the existing id). The first user
  // added is the one the OAuth flow signs in, unless SetOAuthUser() says otherwise.
  std::int64_t AddUser(std::string_view login);
  void SetOAuthUser(std::string_view login);
  // Adds a repository `owner_login/name` (adding the owner if needed): a git repository with
  // one commit, "Initial commit", on `default_branch` holding `files` (path -> content,
  // '/'-separated). Repositories added later count as pushed more recently. Adding a repository
  // that exists replaces it. Returns the repository id. Throws std::invalid_argument for a path
  // or branch name git would refuse (an empty, ".", ".." or ".git" segment; a path that is also
  // a directory).
  std::int64_t AddRepo(std::string_view owner_login, std::string_view name,
                       std::string_view default_branch, std::map<std::string, std::string> files,
                       bool is_private = false);
  // Commits `files` on `branch` of `owner/name`: added to or overwriting the files of the
  // branch's head, or, when `branch` does not exist yet, of the default branch's head (creating
  // `branch`). The repository counts as pushed most recently. Returns the new commit's full sha.
  // No webhook is delivered. Throws std::invalid_argument for an unknown repository, or a path
  // or branch name git would refuse.
  std::string PushCommit(std::string_view owner, std::string_view name, std::string_view branch,
                         std::map<std::string, std::string> files, std::string_view message);
  // The full sha of `branch`'s head, or "" when the repository or branch does not exist.
  std::string HeadSha(std::string_view owner, std::string_view name, std::string_view branch) const;
  // A token for `login` (added if needed), as the OAuth flow would issue, with scopes
  // "repo,admin:repo_hook".
  std::string IssueToken(std::string_view login);
  // The token gets 401 "Bad credentials" from now on.
  void RevokeToken(std::string_view token);
  // The next `count` requests (any route) get `response` instead (fault injection: a 502, a
  // body that is not JSON, a rate limit, a Link header pointing elsewhere, ...).
  void AnswerNextRequestsForTest(http::Response response, int count = 1);

  std::vector<FakeHook> Hooks() const;
  std::vector<FakeStatus> Statuses() const;
  // Every request received, in order.
  std::vector<FakeRequest> Requests() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace replideploy::fake_github
