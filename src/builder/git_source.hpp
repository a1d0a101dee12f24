// Where a build's commit comes from, and fetching it: the platform's own bare repository (a
// local path), a public git URL, or a GitHub repository (with the owner's token). Git runs on
// the host, never through a shell, restricted to the expected protocols; for http(s) URLs the
// host is resolved once, refused when non-public (unless allowed), and git is pinned to the
// checked address (http.curloptResolve), so DNS cannot swap it in between.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace replideploy::builder {

struct GitSource {
  std::string url;             // http(s) URL, or an absolute path to a local bare repository
  std::string token;           // sent as HTTP Basic x-access-token:<token> (GitHub); empty: none
  bool allow_private = false;  // let http(s) URLs reach loopback and private addresses
};

// A git URL a user may give: http or https, a host, a path, no credentials, no spaces or
// control characters, at most 2048 bytes. kUnprocessable "invalid_repo_url" otherwise.
Status CheckGitUrl(std::string_view url);

// The commit at the tip of `branch`. kUnprocessable ("branch_not_found") when there is no such
// branch, ("git_fetch_failed") when the remote cannot be read or gives no answer within 60 s.
Result<std::string> RemoteHead(const GitSource& source, std::string_view branch);

// Fetches `commit_sha` (shallow; falls back to the branch's recent history when the server
// refuses fetching by id) into a new repository at `checkout` and checks it out. Git's output
// goes to `log`, one line at a time; the token never does.
Status FetchCommit(const GitSource& source, std::string_view commit_sha, std::string_view branch,
                   const std::string& checkout, const std::function<void(std::string_view)>& log);

// The subject line of a commit in a local bare repository ("" when unknown).
std::string CommitSubject(const std::string& bare_repo, std::string_view commit_sha);

}  // namespace replideploy::builder
