#include "builder/git_source.hpp"

#include <algorithm>
#include <boost/url/parse.hpp>
#include <sstream>

#include "core/crypto.hpp"
#include "core/net.hpp"
#include "core/subprocess.hpp"
#include "core/text.hpp"

namespace replideploy::builder {

namespace {

constexpr std::chrono::minutes kGitTimeout{10};
// Reading a branch's head is one small exchange; a remote that takes longer is not answering
// (site creation waits for it).
constexpr std::chrono::seconds kRemoteHeadTimeout{60};

// A branch name safe to pass to git as an argument.
bool IsSafeBranch(std::string_view b) {
  return !b.empty() && b.size() <= 255 && b.front() != '-' &&
         b.find("..") == std::string_view::npos && std::all_of(b.begin(), b.end(), [](char c) {
           return static_cast<unsigned char>(c) > 0x20 && c != 0x7f && c != '~' && c != '^' &&
                  c != ':' && c != '?' && c != '*' && c != '[' && c != '\\';
         });
}

// The environment git runs with: no prompts, no system config, only the expected protocols,
// and config passed by environment (never on the command line, where `ps` would show a token).
Result<std::vector<std::string>> GitEnv(const GitSource& source) {
  // No system or user config (a root ~/.gitconfig could set a proxy or credential helper).
  std::vector<std::string> env = {"GIT_TERMINAL_PROMPT=0",       "GIT_CONFIG_NOSYSTEM=1",
                                  "GIT_CONFIG_GLOBAL=/dev/null", "GIT_ASKPASS=/bin/false",
                                  "SSH_ASKPASS=/bin/false",      "LC_ALL=C"};
  std::vector<std::pair<std::string, std::string>> config = {
      {"http.lowSpeedLimit", "1000"}, {"http.lowSpeedTime", "60"}, {"core.hooksPath", "/dev/null"}};
  if (!source.url.empty() && source.url.front() == '/') {
    env.push_back("GIT_ALLOW_PROTOCOL=file");
  } else {
    RD_TRY_STATUS(CheckGitUrl(source.url));
    auto parsed = boost::urls::parse_absolute_uri(source.url);
    std::string host(parsed->host_address());
    const std::string port = parsed->has_port() ? std::string(parsed->port())
                                                : (parsed->scheme() == "https" ? "443" : "80");
    RD_TRY(std::string address, core::ResolvePublicAddress(host, port, source.allow_private));
    if (address.find(':') != std::string::npos) address = "[" + address + "]";
    env.push_back("GIT_ALLOW_PROTOCOL=http:https");
    config.emplace_back("http.curloptResolve", host + ":" + port + ":" + address);
    // A redirect would lead to a host nobody checked.
    if (!source.allow_private) config.emplace_back("http.followRedirects", "false");
    if (!source.token.empty()) {
      config.emplace_back(
          "http.extraHeader",
          "Authorization: Basic " + core::Base64Encode("x-access-token:" + source.token));
    }
  }
  env.push_back("GIT_CONFIG_COUNT=" + std::to_string(config.size()));
  for (std::size_t i = 0; i < config.size(); ++i) {
    env.push_back("GIT_CONFIG_KEY_" + std::to_string(i) + "=" + config[i].first);
    env.push_back("GIT_CONFIG_VALUE_" + std::to_string(i) + "=" + config[i].second);
  }
  return env;
}

Result<core::ProcessResult> Git(const std::vector<std::string>& env, std::vector<std::string> args,
                                const std::function<void(std::string_view)>& log = {},
                                std::chrono::milliseconds timeout = kGitTimeout) {
  args.insert(args.begin(), "git");
  RD_TRY(core::ProcessResult r, core::RunProcess({.argv = std::move(args),
                                                  .extra_env = env,
                                                  .merge_stderr = !log ? false : true,
                                                  .max_output = std::size_t{1} << 20,
                                                  .timeout = timeout}));
  if (log) {
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) log(line);
  }
  return r;
}

}  // namespace

Status CheckGitUrl(std::string_view url) {
  const auto bad = [&](std::string_view why) {
    return Unprocessable("invalid_repo_url", "repository URL " + std::string(why));
  };
  if (url.size() > 2048) return bad("is longer than 2048 characters");
  if (std::any_of(url.begin(), url.end(),
                  [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; })) {
    return bad("contains spaces or control characters");
  }
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) return bad("is not a valid URL");
  if (parsed->scheme() != "https" && parsed->scheme() != "http") {
    return bad("must start with https:// or http://");
  }
  if (parsed->has_userinfo()) {
    return bad("must not contain credentials; only public repositories can be followed by URL");
  }
  if (parsed->host().empty()) return bad("has no host");
  if (parsed->path().empty() || parsed->path() == "/") return bad("has no repository path");
  return {};
}

Result<std::string> RemoteHead(const GitSource& source, std::string_view branch) {
  if (!IsSafeBranch(branch)) {
    return Unprocessable("invalid_branch", "'" + std::string(branch) + "' is not a branch name");
  }
  RD_TRY(std::vector<std::string> env, GitEnv(source));
  RD_TRY(core::ProcessResult r,
         Git(env, {"ls-remote", "--heads", "--", source.url, "refs/heads/" + std::string(branch)},
             {}, kRemoteHeadTimeout));
  if (r.timed_out) {
    return Unprocessable("git_fetch_failed", "cannot read the repository: no answer within " +
                                                 std::to_string(kRemoteHeadTimeout.count()) +
                                                 " seconds");
  }
  if (!r.Succeeded()) {
    return Unprocessable("git_fetch_failed",
                         "cannot read the repository: " + r.err.substr(0, r.err.find('\n')));
  }
  const auto tab = r.out.find('\t');
  const std::string sha = tab == std::string::npos ? "" : r.out.substr(0, tab);
  if (!core::IsCommitSha(sha)) {
    return Unprocessable("branch_not_found",
                         "the repository has no branch '" + std::string(branch) + "'");
  }
  return sha;
}

Status FetchCommit(const GitSource& source, std::string_view commit_sha, std::string_view branch,
                   const std::string& checkout, const std::function<void(std::string_view)>& log) {
  if (!core::IsCommitSha(commit_sha)) {
    return Unprocessable("invalid_commit", "'" + std::string(commit_sha) + "' is not a commit id");
  }
  RD_TRY(std::vector<std::string> env, GitEnv(source));
  const auto failed = [](std::string_view what) {
    return Unprocessable("git_fetch_failed", std::string(what));
  };
  RD_TRY(core::ProcessResult init, Git(env, {"init", "--quiet", "--", checkout}, log));
  if (!init.Succeeded()) return failed("git init failed");
  const std::string sha(commit_sha);
  // The checkout's .git goes right after: no background maintenance (a process per fetch).
  RD_TRY(core::ProcessResult by_id,
         Git(env,
             {"-C", checkout, "-c", "maintenance.auto=false", "fetch", "--quiet", "--depth=1",
              "--no-tags", "--", source.url, sha},
             log));
  if (!by_id.Succeeded()) {
    // Servers without fetching by id (uploadpack.allowReachableSHA1InWant off, protocol v0):
    // take the branch's recent history and look for the commit there.
    if (!IsSafeBranch(branch)) return failed("cannot fetch commit " + sha);
    log("Fetching by commit id refused; fetching branch " + std::string(branch));
    RD_TRY(core::ProcessResult by_branch,
           Git(env,
               {"-C", checkout, "-c", "maintenance.auto=false", "fetch", "--quiet", "--depth=50",
                "--no-tags", "--", source.url, "refs/heads/" + std::string(branch)},
               log));
    if (!by_branch.Succeeded()) return failed("cannot fetch branch " + std::string(branch));
  }
  RD_TRY(core::ProcessResult co,
         Git(env,
             {"-C", checkout, "-c", "advice.detachedHead=false", "checkout", "--quiet", sha, "--"},
             log));
  if (!co.Succeeded()) return failed("commit " + sha + " is not in the repository");
  return {};
}

std::string CommitSubject(const std::string& bare_repo, std::string_view commit_sha) {
  if (!core::IsCommitSha(commit_sha)) return "";
  auto r = core::RunProcess({.argv = {"git", "--git-dir=" + bare_repo, "log", "-1", "--format=%s",
                                      std::string(commit_sha), "--"},
                             .extra_env = {"GIT_CONFIG_NOSYSTEM=1"},
                             .max_output = 4096,
                             .timeout = std::chrono::seconds(10)});
  if (!r.ok() || !r->Succeeded()) return "";
  std::string s = r->out;
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace replideploy::builder
