// GitHub webhook deliveries: signature check, payload parsing and the build decision.
//
// Pure functions over bytes, no HTTP types and no I/O: the handler passes the raw body and the
// X-GitHub-Event / X-Hub-Signature-256 header values, then acts on the BuildDecision.
// Everything here is input handling: no function asserts, throws or crashes on what GitHub (or
// anyone else) sends. All functions are thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace replideploy::git {

// GitHub caps webhook payloads at 25 MB; larger bodies are refused before parsing.
inline constexpr std::size_t kMaxWebhookBodyBytes = 25 * 1024 * 1024;

// True when `signature_header` is "sha256=<64 hex digits>" (hex in either case) and equals the
// HMAC-SHA256 of `raw_body` keyed by `secret`, compared in constant time. False for a missing,
// empty or malformed header, another algorithm ("sha1=..."), or an empty secret.
bool VerifyGithubSignature(std::string_view raw_body, std::string_view signature_header,
                           std::string_view secret);

// "sha256=<lowercase hex>" for `raw_body` under `secret`: what GitHub sends (for tests and for
// the fake GitHub server).
std::string GithubSignature(std::string_view raw_body, std::string_view secret);

enum class EventKind {
  kPing,         // hook created: answer 200, deploy nothing
  kPush,         // a branch got new commits
  kPullRequest,  // a pull request was opened, updated, reopened or closed
  kIgnore,       // well-formed but nothing to do; `ignore_reason` says why
};

struct Repository {
  std::string full_name;  // "owner/name"
  std::string clone_url;  // "https://github.com/owner/name.git"
  std::string html_url;   // "https://github.com/owner/name"
};

struct PushEvent {
  std::string branch;          // "main", from "refs/heads/main"
  std::string commit_sha;      // `after`: 40 (or 64) lowercase hex digits
  std::string commit_message;  // head_commit.message; empty when GitHub sends none
  std::string pusher;          // pusher.name, else sender.login
};

struct PullRequestEvent {
  std::string action;  // "opened", "synchronize", "reopened" or "closed"
  std::int64_t number = 0;
  std::string title;
  std::string head_sha;
  std::string head_ref;             // the PR's branch
  std::string base_ref;             // the branch it targets
  std::string head_repo_full_name;  // empty when the head repository was deleted
  // From another repository (or one since deleted): its builds get no secret env vars.
  bool is_fork = false;
  bool merged = false;  // closed by merging
};

// What a delivery asks for. `repository` and `sender` are filled when the payload has them;
// `push` is meaningful only for kPush, `pull_request` only for kPullRequest, `ignore_reason`
// only for kIgnore.
struct WebhookEvent {
  EventKind kind = EventKind::kIgnore;
  Repository repository;
  std::string sender;  // sender.login
  PushEvent push;
  PullRequestEvent pull_request;
  std::string ignore_reason;
};

// Parses a delivery. `event_name` is the X-GitHub-Event header. Unknown events, tag pushes,
// branch deletions, pushes to refs other than branches and pull_request actions other than
// opened/synchronize/reopened/closed give kIgnore with a reason. Fails with kBadRequest (the
// message names the problem and the field, e.g. "pull_request.number: expected an integer")
// for bad JSON, JSON nested deeper than 64 levels, a missing field or a wrong type in an event
// we act on, or a commit sha / branch name that is not safe to hand to git;
// kPayloadTooLarge for a body over kMaxWebhookBodyBytes.
Result<WebhookEvent> ParseGithubEvent(std::string_view event_name, std::string_view raw_body);

// The site's side of the decision.
struct SiteGitSettings {
  // "owner/name" the site builds from; when not empty, events from another repository
  // (compared case-insensitively, as GitHub does) decide kNone.
  std::string repo_full_name;
  std::string production_branch = "main";
  bool branch_deploys = false;  // deploy pushes to branches other than production
  bool deploy_previews = true;  // deploy pull requests
};

enum class BuildAction {
  kNone,              // do nothing (see `reason`)
  kProductionDeploy,  // build `commit_sha` of the production branch and publish it
  kBranchDeploy,      // build `commit_sha` of `branch` as `<branch>--<site>`
  kDeployPreview,     // build `commit_sha` as `deploy-preview-<pr_number>--<site>`
  kStopPreviews,      // the PR closed: stop building previews for `pr_number`
};

struct BuildDecision {
  BuildAction action = BuildAction::kNone;
  std::string context;  // "production", "branch-deploy", "deploy-preview"; empty otherwise
  std::string branch;   // branch built (the PR's head ref for previews)
  std::string commit_sha;
  std::string commit_message;  // push: head commit message; PR: the PR title
  std::int64_t pr_number = 0;  // kDeployPreview, kStopPreviews
  // False for pull requests from forks: their code must not see the site's secret env vars.
  bool allow_secrets = true;
  std::string reason;  // why, for the log and the 2xx body
};

BuildDecision DecideBuild(const WebhookEvent& event, const SiteGitSettings& site);

// Stable names for logs and JSON ("production_deploy", "pull_request", ...).
std::string_view BuildActionName(BuildAction action);
std::string_view EventKindName(EventKind kind);

}  // namespace replideploy::git
