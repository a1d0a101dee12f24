#include "git/webhook.hpp"

#include <boost/json.hpp>
#include <cctype>
#include <limits>
#include <new>
#include <string>

#include "core/crypto.hpp"
#include "core/text.hpp"

namespace replideploy::git {
namespace {

namespace json = boost::json;

constexpr std::string_view kSha256Prefix = "sha256=";
constexpr std::string_view kBranchPrefix = "refs/heads/";
constexpr std::string_view kTagPrefix = "refs/tags/";
constexpr std::size_t kMaxJsonDepth = 64;
constexpr std::size_t kMaxRefLength = 255;

Error BadRequest(std::string message) {
  return MakeError(ErrorCode::kBadRequest, std::move(message));
}

using core::IsHex;

bool IsAllZeros(std::string_view s) {
  return !s.empty() && s.find_first_not_of('0') == std::string_view::npos;
}

// A git object name: SHA-1 (40) or SHA-256 (64) hex digits, lowercased.
Result<std::string> CommitSha(std::string_view field, std::string_view sha) {
  if ((sha.size() != 40 && sha.size() != 64) || !IsHex(sha)) {
    return BadRequest(std::string(field) + ": not a commit sha");
  }
  std::string out(sha);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Branch names reach git command lines and host names later: accept what
// `git check-ref-format --branch` accepts, minus anything that could read as an option.
bool IsSafeBranchName(std::string_view name) {
  if (name.empty() || name.size() > kMaxRefLength) return false;
  if (name.front() == '-' || name.front() == '/' || name.front() == '.') return false;
  if (name.back() == '/' || name.back() == '.') return false;
  if (name.ends_with(".lock")) return false;
  if (name.find("..") != std::string_view::npos || name.find("//") != std::string_view::npos ||
      name.find("@{") != std::string_view::npos || name.find("/.") != std::string_view::npos) {
    return false;
  }
  if (name == "@") return false;
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return false;
    if (c == ' ' || c == '~' || c == '^' || c == ':' || c == '?' || c == '*' || c == '[' ||
        c == '\\') {
      return false;
    }
  }
  return true;
}

// Typed access to a JSON object with errors that name the field's path.
class Fields {
 public:
  Fields(const json::object& object, std::string path) : object_(object), path_(std::move(path)) {}

  std::string Path(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }

  const json::value* Find(std::string_view key) const { return object_.if_contains(key); }

  bool IsNullOrMissing(std::string_view key) const {
    const json::value* v = Find(key);
    return v == nullptr || v->is_null();
  }

  Result<Fields> Object(std::string_view key) const {
    const json::value* v = Find(key);
    if (v == nullptr) return BadRequest(Path(key) + ": missing");
    if (!v->is_object()) return BadRequest(Path(key) + ": expected an object");
    return Fields(v->get_object(), Path(key));
  }

  Result<std::string> String(std::string_view key) const {
    const json::value* v = Find(key);
    if (v == nullptr) return BadRequest(Path(key) + ": missing");
    if (!v->is_string()) return BadRequest(Path(key) + ": expected a string");
    return std::string(v->get_string());
  }

  // Empty when missing or null; an error for another type.
  Result<std::string> OptionalString(std::string_view key) const {
    if (IsNullOrMissing(key)) return std::string();
    return String(key);
  }

  // False when missing or null.
  Result<bool> OptionalBool(std::string_view key) const {
    const json::value* v = Find(key);
    if (v == nullptr || v->is_null()) return false;
    if (!v->is_bool()) return BadRequest(Path(key) + ": expected a boolean");
    return v->get_bool();
  }

  Result<std::int64_t> PositiveInt(std::string_view key) const {
    const json::value* v = Find(key);
    if (v == nullptr) return BadRequest(Path(key) + ": missing");
    std::int64_t n = 0;
    if (v->is_int64()) {
      n = v->get_int64();
    } else if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(
                                                        std::numeric_limits<std::int64_t>::max())) {
      n = static_cast<std::int64_t>(v->get_uint64());
    } else {
      return BadRequest(Path(key) + ": expected an integer");
    }
    if (n <= 0) return BadRequest(Path(key) + ": expected a positive integer");
    return n;
  }

 private:
  const json::object& object_;
  std::string path_;
};

WebhookEvent Ignore(WebhookEvent event, std::string reason) {
  event.kind = EventKind::kIgnore;
  event.ignore_reason = std::move(reason);
  return event;
}

Result<Repository> ParseRepository(const Fields& root) {
  RD_TRY(Fields repo, root.Object("repository"));
  Repository out;
  RD_TRY(out.full_name, repo.String("full_name"));
  RD_TRY(out.clone_url, repo.OptionalString("clone_url"));
  RD_TRY(out.html_url, repo.OptionalString("html_url"));
  if (out.full_name.empty()) return BadRequest("repository.full_name: empty");
  return out;
}

Result<std::string> SenderLogin(const Fields& root) {
  if (root.IsNullOrMissing("sender")) return std::string();
  RD_TRY(Fields sender, root.Object("sender"));
  return sender.OptionalString("login");
}

Result<WebhookEvent> ParsePing(const Fields& root, WebhookEvent event) {
  // Organisation hooks' pings carry no repository.
  if (!root.IsNullOrMissing("repository")) {
    RD_TRY(event.repository, ParseRepository(root));
  }
  event.kind = EventKind::kPing;
  return event;
}

Result<WebhookEvent> ParsePush(const Fields& root, WebhookEvent event) {
  RD_TRY(event.repository, ParseRepository(root));
  RD_TRY(std::string ref, root.String("ref"));
  RD_TRY(std::string after, root.String("after"));
  RD_TRY(bool deleted, root.OptionalBool("deleted"));

  if (ref.starts_with(kTagPrefix)) return Ignore(std::move(event), "tag push " + ref);
  if (!ref.starts_with(kBranchPrefix)) return Ignore(std::move(event), "push to " + ref);
  std::string branch = ref.substr(kBranchPrefix.size());
  if (deleted || IsAllZeros(after)) {
    return Ignore(std::move(event), "branch " + branch + " deleted");
  }
  if (!IsSafeBranchName(branch)) return BadRequest("ref: not a valid branch name");

  PushEvent& push = event.push;
  push.branch = std::move(branch);
  RD_TRY(push.commit_sha, CommitSha("after", after));
  if (!root.IsNullOrMissing("head_commit")) {
    RD_TRY(Fields head_commit, root.Object("head_commit"));
    RD_TRY(push.commit_message, head_commit.OptionalString("message"));
  }
  if (!root.IsNullOrMissing("pusher")) {
    RD_TRY(Fields pusher, root.Object("pusher"));
    RD_TRY(push.pusher, pusher.OptionalString("name"));
  }
  if (push.pusher.empty()) push.pusher = event.sender;
  event.kind = EventKind::kPush;
  return event;
}

Result<WebhookEvent> ParsePullRequest(const Fields& root, WebhookEvent event) {
  RD_TRY(std::string action, root.String("action"));
  if (action != "opened" && action != "synchronize" && action != "reopened" && action != "closed") {
    if (!root.IsNullOrMissing("repository")) {
      RD_TRY(event.repository, ParseRepository(root));
    }
    return Ignore(std::move(event), "pull_request action " + action);
  }
  RD_TRY(event.repository, ParseRepository(root));
  RD_TRY(Fields pr, root.Object("pull_request"));
  RD_TRY(Fields head, pr.Object("head"));
  RD_TRY(Fields base, pr.Object("base"));

  PullRequestEvent& out = event.pull_request;
  out.action = std::move(action);
  // The top-level "number" is the one GitHub documents; pull_request.number is the same.
  if (root.Find("number") != nullptr) {
    RD_TRY(out.number, root.PositiveInt("number"));
  } else {
    RD_TRY(out.number, pr.PositiveInt("number"));
  }
  RD_TRY(out.title, pr.OptionalString("title"));
  RD_TRY(out.merged, pr.OptionalBool("merged"));
  RD_TRY(std::string head_sha, head.String("sha"));
  RD_TRY(out.head_sha, CommitSha("pull_request.head.sha", head_sha));
  RD_TRY(out.head_ref, head.String("ref"));
  RD_TRY(out.base_ref, base.String("ref"));
  if (!IsSafeBranchName(out.head_ref)) {
    return BadRequest("pull_request.head.ref: not a valid branch name");
  }
  if (!IsSafeBranchName(out.base_ref)) {
    return BadRequest("pull_request.base.ref: not a valid branch name");
  }

  std::string base_repo = event.repository.full_name;
  if (!base.IsNullOrMissing("repo")) {
    RD_TRY(Fields base_repo_fields, base.Object("repo"));
    RD_TRY(base_repo, base_repo_fields.String("full_name"));
  }
  if (!head.IsNullOrMissing("repo")) {
    RD_TRY(Fields head_repo, head.Object("repo"));
    RD_TRY(out.head_repo_full_name, head_repo.String("full_name"));
  }
  // A deleted head repository cannot be told apart from a fork: treat it as one.
  out.is_fork = out.head_repo_full_name.empty() || out.head_repo_full_name != base_repo;
  event.kind = EventKind::kPullRequest;
  return event;
}

BuildDecision None(std::string reason) {
  BuildDecision d;
  d.reason = std::move(reason);
  return d;
}

}  // namespace

bool VerifyGithubSignature(std::string_view raw_body, std::string_view signature_header,
                           std::string_view secret) {
  if (secret.empty() || !signature_header.starts_with(kSha256Prefix)) return false;
  std::string_view hex = signature_header.substr(kSha256Prefix.size());
  if (hex.size() != 64) return false;
  Result<std::string> given = core::HexDecode(hex);
  if (!given.ok()) return false;
  return core::ConstantTimeEquals(*given, core::HmacSha256(secret, raw_body));
}

std::string GithubSignature(std::string_view raw_body, std::string_view secret) {
  return std::string(kSha256Prefix) + core::HexEncode(core::HmacSha256(secret, raw_body));
}

Result<WebhookEvent> ParseGithubEvent(std::string_view event_name, std::string_view raw_body) {
  if (raw_body.size() > kMaxWebhookBodyBytes) {
    return MakeError(ErrorCode::kPayloadTooLarge, "webhook payload over 25 MB");
  }
  if (event_name.empty()) return BadRequest("missing X-GitHub-Event header");

  json::parse_options options;
  options.max_depth = kMaxJsonDepth;
  boost::system::error_code ec;
  json::value root_value;
  try {
    root_value = json::parse(json::string_view(raw_body.data(), raw_body.size()), ec,
                             json::storage_ptr(), options);
  } catch (const std::bad_alloc&) {
    return BadRequest("webhook payload too large to parse");
  }
  if (ec) return BadRequest("webhook payload is not valid JSON: " + ec.message());
  if (!root_value.is_object()) return BadRequest("webhook payload: expected a JSON object");

  const Fields root(root_value.get_object(), "");
  WebhookEvent event;
  RD_TRY(event.sender, SenderLogin(root));

  if (event_name == "ping") return ParsePing(root, std::move(event));
  if (event_name == "push") return ParsePush(root, std::move(event));
  if (event_name == "pull_request") return ParsePullRequest(root, std::move(event));
  // Sanitised: the header is echoed into logs and the response.
  std::string name;
  for (char c : event_name.substr(0, 64)) {
    const bool plain = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
    name += plain ? c : '?';
  }
  return Ignore(std::move(event), "event " + name + " not handled");
}

BuildDecision DecideBuild(const WebhookEvent& event, const SiteGitSettings& site) {
  switch (event.kind) {
    case EventKind::kPing:
      return None("ping");
    case EventKind::kIgnore:
      return None(event.ignore_reason);
    case EventKind::kPush:
    case EventKind::kPullRequest:
      break;
  }
  if (!site.repo_full_name.empty() &&
      !core::EqualsIgnoreCase(site.repo_full_name, event.repository.full_name)) {
    return None("repository " + event.repository.full_name + " is not the site's repository " +
                site.repo_full_name);
  }

  BuildDecision d;
  if (event.kind == EventKind::kPush) {
    const PushEvent& push = event.push;
    d.branch = push.branch;
    d.commit_sha = push.commit_sha;
    d.commit_message = push.commit_message;
    if (push.branch == site.production_branch) {
      d.action = BuildAction::kProductionDeploy;
      d.context = "production";
      d.reason = "push to production branch " + push.branch;
    } else if (site.branch_deploys) {
      d.action = BuildAction::kBranchDeploy;
      d.context = "branch-deploy";
      d.reason = "push to branch " + push.branch;
    } else {
      d.reason = "push to branch " + push.branch + " (branch deploys are off)";
    }
    return d;
  }

  const PullRequestEvent& pr = event.pull_request;
  d.pr_number = pr.number;
  d.branch = pr.head_ref;
  d.commit_sha = pr.head_sha;
  d.commit_message = pr.title;
  d.allow_secrets = !pr.is_fork;
  if (pr.action == "closed") {
    d.action = BuildAction::kStopPreviews;
    d.reason = "pull request #" + std::to_string(pr.number) + " closed";
    return d;
  }
  if (!site.deploy_previews) {
    d.reason = "pull request #" + std::to_string(pr.number) + " (deploy previews are off)";
    return d;
  }
  d.action = BuildAction::kDeployPreview;
  d.context = "deploy-preview";
  d.reason = "pull request #" + std::to_string(pr.number) + " " + pr.action;
  return d;
}

std::string_view BuildActionName(BuildAction action) {
  switch (action) {
    case BuildAction::kNone:
      return "none";
    case BuildAction::kProductionDeploy:
      return "production_deploy";
    case BuildAction::kBranchDeploy:
      return "branch_deploy";
    case BuildAction::kDeployPreview:
      return "deploy_preview";
    case BuildAction::kStopPreviews:
      return "stop_previews";
  }
  return "none";
}

std::string_view EventKindName(EventKind kind) {
  switch (kind) {
    case EventKind::kPing:
      return "ping";
    case EventKind::kPush:
      return "push";
    case EventKind::kPullRequest:
      return "pull_request";
    case EventKind::kIgnore:
      return "ignore";
  }
  return "ignore";
}

}  // namespace replideploy::git
