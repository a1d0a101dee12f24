#include "builder/build_trigger.hpp"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "builder/git_source.hpp"
#include "core/crypto.hpp"

namespace replideploy::builder {

BuildTrigger::BuildTrigger(deploys::SiteService& sites, deploys::DeployService& deploys,
                           BuildQueue& queue, git::GithubConnections& github,
                           git::WebhookDeliveries& deliveries, git::ClosedPullRequests& closed_prs,
                           TriggerOptions options)
    : sites_(sites),
      deploys_(deploys),
      queue_(queue),
      github_(github),
      deliveries_(deliveries),
      closed_prs_(closed_prs),
      options_(std::move(options)) {}

Result<deploys::Deploy> BuildTrigger::QueueBuild(const deploys::Site& site,
                                                 const BuildRequest& request) {
  const deploys::BuildSettings& b = site.build_settings;
  JobSource source;
  source.repo_url = b.provider.empty() || request.own_remote ? "" : b.repo_url;
  source.context = !request.context.empty()                 ? request.context
                   : request.branch == b.ProductionBranch() ? "production"
                                                            : "branch-deploy";
  source.allow_secrets = request.allow_secrets;
  source.review_id = request.review_id;
  std::string commit = request.commit_sha;
  std::string title = request.title;
  const std::string local_repo = options_.repos_dir + "/" + site.id + ".git";
  if (commit.empty()) {
    GitSource git;
    if (source.repo_url.empty()) {
      git.url = local_repo;
      std::error_code ec;
      if (!std::filesystem::exists(local_repo + "/HEAD", ec)) {
        return MakeError(ErrorCode::kUnprocessable, "no_source",
                         "nothing to build yet: push to the site's git remote, or connect "
                         "a repository");
      }
    } else {
      git.url = source.repo_url;
      git.allow_private = GitMayReachPrivate(b);
      git.token = GitToken(site.id);
    }
    RD_TRY(commit, RemoteHead(git, request.branch));
  }
  if (title.empty() && source.repo_url.empty()) title = CommitSubject(local_repo, commit);
  deploys::NewDeploy spec;
  spec.branch = request.branch;
  spec.commit_ref = commit;
  spec.title = title;
  spec.review_id = request.review_id;
  spec.deploy_source = "git";
  spec.context = source.context;
  RD_TRY(deploys::Deploy deploy, deploys_.CreateForBuild(site.id, spec));
  std::vector<std::string> superseded;
  RD_TRY(BuildJob job,
         queue_.Enqueue(deploy.id, site.id, request.branch, commit, &superseded, source));
  for (const auto& old_job : superseded) {
    auto old = queue_.Get(old_job);
    if (old.ok()) (void)deploys_.FailDeploy(old->deploy_id, "superseded by a newer push");
  }
  if (on_queued_) on_queued_();
  return deploy;
}

Result<DeliveryOutcome> BuildTrigger::OnGithubDelivery(const deploys::Site& site,
                                                       const git::WebhookEvent& event,
                                                       std::string_view delivery_id) {
  DeliveryOutcome outcome;
  RD_TRY(bool first, deliveries_.RecordDelivery(delivery_id, site.id));
  if (!first) {
    outcome.duplicate = true;
    return outcome;
  }
  git::SiteGitSettings settings;
  settings.repo_full_name = site.build_settings.repo_path;
  settings.production_branch = site.build_settings.ProductionBranch();
  settings.branch_deploys = site.build_settings.branch_deploys;
  settings.deploy_previews = site.build_settings.deploy_previews;
  git::BuildDecision& decision = outcome.decision;
  decision = git::DecideBuild(event, settings);
  switch (decision.action) {
    case git::BuildAction::kNone:
      return outcome;
    case git::BuildAction::kStopPreviews: {
      RD_TRY_STATUS(closed_prs_.MarkClosed(site.id, decision.pr_number));
      RD_TRY(auto canceled, queue_.CancelQueuedPreviews(site.id, decision.pr_number));
      for (const auto& job_id : canceled) {
        auto job = queue_.Get(job_id);
        if (job.ok()) (void)deploys_.FailDeploy(job->deploy_id, "the pull request was closed");
      }
      outcome.canceled = static_cast<std::int64_t>(canceled.size());
      return outcome;
    }
    case git::BuildAction::kDeployPreview: {
      if (event.pull_request.action == "reopened") {
        RD_TRY_STATUS(closed_prs_.Reopen(site.id, decision.pr_number));
      } else {
        RD_TRY(bool closed, closed_prs_.IsClosed(site.id, decision.pr_number));
        if (closed) {
          decision.action = git::BuildAction::kNone;
          decision.reason = "pull request #" + std::to_string(decision.pr_number) + " is closed";
          return outcome;
        }
      }
      break;
    }
    case git::BuildAction::kProductionDeploy:
    case git::BuildAction::kBranchDeploy:
      break;
  }
  BuildRequest build;
  build.branch = decision.branch;
  build.commit_sha = decision.commit_sha;
  build.title = decision.commit_message;
  build.context = decision.context;
  build.allow_secrets = decision.allow_secrets;
  if (decision.action == git::BuildAction::kDeployPreview) build.review_id = decision.pr_number;
  auto deploy = QueueBuild(site, build);
  if (!deploy.ok()) {
    // Let GitHub's redelivery try again.
    (void)deliveries_.Forget(delivery_id, site.id);
    return std::move(deploy).error();
  }
  outcome.deploy = std::move(deploy).value();
  return outcome;
}

int BuildTrigger::PollGitSources() {
  auto sites = sites_.ListByRepo("git", "");
  if (!sites.ok()) {
    spdlog::warn("git poller: {}", sites.error().message);
    return 0;
  }
  int queued = 0;
  for (const auto& site : *sites) {
    const std::string branch = site.build_settings.ProductionBranch();
    GitSource git{site.build_settings.repo_url, "", GitMayReachPrivate(site.build_settings)};
    auto head = RemoteHead(git, branch);
    if (!head.ok()) {
      spdlog::info("git poller: site {}: {}", site.name, head.error().message);
      continue;
    }
    // Only the poller that moves polled_sha from what it read queues the build.
    auto seen = sites_.PolledSha(site.id);
    if (!seen.ok() || *seen == *head) continue;
    auto moved = sites_.AdvancePolledSha(site.id, *seen, *head);
    if (!moved.ok() || !*moved) continue;
    auto deploy = QueueBuild(site, BuildRequest{branch, *head, "", "", std::nullopt, true, false});
    if (deploy.ok()) {
      ++queued;
      spdlog::info("git poller: site {}: new commit {} on {}", site.name, head->substr(0, 12),
                   branch);
    } else {
      spdlog::warn("git poller: site {}: {}", site.name, deploy.error().message);
    }
  }
  return queued;
}

Result<deploys::Site> BuildTrigger::CreateSite(std::string_view user_id,
                                               std::string_view account_id,
                                               const deploys::SitePatch& patch,
                                               std::string_view hook_url) {
  deploys::BuildSettings settings;
  settings.cmd = patch.cmd.value_or("");
  settings.dir = patch.dir.value_or("");
  settings.base = patch.base.value_or("");
  settings.repo_url = patch.repo_url.value_or("");
  settings.repo_branch = patch.repo_branch.value_or("");
  settings.functions_dir = patch.functions_dir.value_or("");
  settings.provider = patch.provider.value_or("");
  settings.repo_path = patch.repo_path.value_or("");
  settings.branch_deploys = patch.branch_deploys.value_or(false);
  settings.deploy_previews = patch.deploy_previews.value_or(true);
  const std::string branch = settings.ProductionBranch();

  std::string token;
  std::string head;  // the production branch's commit, when known now
  if (settings.provider == "github") {
    if (!git::IsValidRepoFullName(settings.repo_path)) {
      return MakeError(ErrorCode::kUnprocessable, "invalid_repo",
                       "repo must be a GitHub repository as \"owner/name\"");
    }
    RD_TRY(token, github_.Token(user_id));
    // Always the configured GitHub's: a user-given URL could point anywhere.
    settings.repo_url = GithubRepoPrefix() + settings.repo_path + ".git";
  } else if (settings.provider == "git") {
    RD_TRY_STATUS(CheckGitUrl(settings.repo_url));
    GitSource git{settings.repo_url, "", options_.allow_private_git};
    RD_TRY(head, RemoteHead(git, branch));
    settings.repo_path.clear();
  } else if (!settings.provider.empty()) {
    return MakeError(ErrorCode::kUnprocessable, "invalid_provider",
                     "repo.provider must be \"github\" or \"git\"");
  }

  RD_TRY(deploys::Site site, sites_.Create(user_id, account_id, patch.name, settings));
  if (settings.provider == "github") {
    // The hook, or no site at all.
    auto created = [&]() -> Status {
      RD_TRY(std::string secret, NewWebhookSecret(site.id));
      RD_TRY(std::int64_t hook_id,
             github_.client().CreateHook(token, settings.repo_path,
                                         std::string(hook_url) + "?site_id=" + site.id, secret));
      return sites_.SetGithubHookId(site.id, hook_id);
    }();
    if (!created.ok()) {
      (void)sites_.Delete(user_id, site.id);
      return std::move(created).error();
    }
  }
  if (!settings.provider.empty()) {
    if (!head.empty()) (void)sites_.SetPolledSha(site.id, head);
    BuildRequest build;
    build.branch = branch;
    build.commit_sha = head;
    auto first = QueueBuild(site, build);
    if (!first.ok()) {
      // Visible in the deploy list, not only in the server's log.
      spdlog::warn("site {}: first build not started: {}", site.name, first.error().message);
      deploys::NewDeploy spec;
      spec.branch = branch;
      spec.deploy_source = "git";
      spec.context = "production";
      auto failed = deploys_.CreateForBuild(site.id, spec);
      if (failed.ok()) {
        (void)deploys_.FailDeploy(failed->id,
                                  "the first build could not start: " + first.error().message);
      }
    }
  }
  return site;
}

Status BuildTrigger::RemoveGithubHook(const deploys::Site& site) {
  if (site.build_settings.provider != "github") return {};
  RD_TRY(std::optional<std::int64_t> hook, sites_.GithubHookId(site.id));
  if (!hook) return {};
  auto token = github_.Token(site.owner_user_id);
  if (!token.ok()) {
    spdlog::warn("site {}: GitHub hook {} left in place: {}", site.name, *hook,
                 token.error().message);
    return {};
  }
  Status st = github_.client().DeleteHook(*token, site.build_settings.repo_path, *hook);
  // A revoked token must not keep the site alive; the hook then fails its deliveries (404).
  if (!st.ok()) {
    spdlog::warn("site {}: cannot delete GitHub hook {}: {}", site.name, *hook, st.error().message);
  }
  return {};
}

Status BuildTrigger::ClearCache(std::string_view site_id) {
  if (options_.cache_dir.empty()) return {};
  std::error_code ec;
  std::filesystem::remove_all(std::filesystem::path(options_.cache_dir) / std::string(site_id), ec);
  if (ec) return MakeError(ErrorCode::kInternal, "cannot clear the cache: " + ec.message());
  return {};
}

Result<std::string> BuildTrigger::NewWebhookSecret(std::string_view site_id) {
  const std::string secret = core::HexEncode(core::RandomBytes(32));
  RD_TRY_STATUS(sites_.SetWebhookSecretSealed(site_id, github_.Seal(secret)));
  return secret;
}

Result<std::string> BuildTrigger::WebhookSecret(std::string_view site_id) {
  RD_TRY(std::string sealed, sites_.WebhookSecretSealed(site_id));
  return github_.Unseal(sealed);
}

std::string BuildTrigger::GithubRepoPrefix() const {
  std::string web = options_.github_web_url;
  while (!web.empty() && web.back() == '/') web.pop_back();
  return web + "/";
}

bool BuildTrigger::GitMayReachPrivate(const deploys::BuildSettings& settings) const {
  return options_.allow_private_git ||
         (settings.provider == "github" && settings.repo_url.starts_with(GithubRepoPrefix()));
}

std::string BuildTrigger::GitToken(std::string_view site_id) {
  auto site = sites_.GetById(site_id);
  if (!site.ok() || site->build_settings.provider != "github") return "";
  auto token = github_.Token(site->owner_user_id);
  return token.ok() ? *token : "";
}

void ReportBuildToGithub(git::GithubConnections& github, const deploys::Site& site,
                         const BuildJob& job, BuildPhase phase, const std::string& detail,
                         const std::string& deploy_url, const std::string& log_url) {
  if (site.build_settings.provider != "github" || site.build_settings.repo_path.empty()) return;
  auto token = github.Token(site.owner_user_id);
  if (!token.ok()) {
    spdlog::warn("site {}: no GitHub token for commit statuses: {}", site.name,
                 token.error().message);
    return;
  }
  std::string state, description, target;
  switch (phase) {
    case BuildPhase::kStarted:
      state = "pending";
      description = "Building";
      target = log_url;
      break;
    case BuildPhase::kSucceeded:
      state = "success";
      description = "Deploy ready";
      target = deploy_url;
      break;
    case BuildPhase::kFailed:
      state = "failure";
      description = "Deploy failed: " + detail;
      target = log_url;
      break;
  }
  const std::string context = "replideploy/" + site.name + "/" + job.context;
  Status st = github.client().CreateStatus(*token, site.build_settings.repo_path, job.commit_sha,
                                           state, target, description, context);
  if (!st.ok()) {
    spdlog::warn("site {}: commit status for {} not set: {}", site.name, job.commit_sha,
                 st.error().message);
  }
}

}  // namespace replideploy::builder
