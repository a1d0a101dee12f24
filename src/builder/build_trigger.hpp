// Build triggering: everything that decides a build should run and queues it. A push to the
// platform's remote, a GitHub delivery (push, pull request opened / updated / closed /
// reopened), a new commit seen by the git poller, a new site with a repository, a "trigger
// deploy" click. Owns the rules: which context a build gets, which queued builds a newer one
// supersedes, which pull requests are closed, when git may reach private addresses. The HTTP
// handlers parse and verify, then call this. Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "builder/queue.hpp"
#include "builder/worker.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"
#include "deploys/deploys.hpp"
#include "deploys/sites.hpp"
#include "git/github_connections.hpp"
#include "git/pull_requests.hpp"
#include "git/webhook.hpp"
#include "git/webhook_deliveries.hpp"

namespace replideploy::builder {

// What to build: a commit of a branch, in a deploy context.
struct BuildRequest {
  std::string branch;
  std::string commit_sha;  // empty: the branch's head, looked up now
  std::string title;       // the commit message (or the pull request's title)
  std::string context;     // empty: production for the production branch, else branch-deploy
  std::optional<std::int64_t> review_id;  // deploy previews: the pull request number
  bool allow_secrets = true;
  bool own_remote = false;  // pushed to the platform's remote, whatever the site follows
};

struct TriggerOptions {
  std::string repos_dir;           // the platform's own git repositories (<data-dir>/repos)
  bool allow_private_git = false;  // git URLs may reach loopback/private addresses (tests)
  std::string github_web_url;      // "https://github.com": GitHub sites' repository URLs
  std::string cache_dir;           // per-site build caches (<data-dir>/cache); "" for none
};

// What a GitHub delivery led to.
struct DeliveryOutcome {
  bool duplicate = false;  // seen before: nothing done
  git::BuildDecision decision;
  std::optional<deploys::Deploy> deploy;  // the build queued
  std::optional<std::int64_t> canceled;   // kStopPreviews: queued previews canceled
};

class BuildTrigger {
 public:
  BuildTrigger(deploys::SiteService& sites, deploys::DeployService& deploys, BuildQueue& queue,
               git::GithubConnections& github, git::WebhookDeliveries& deliveries,
               git::ClosedPullRequests& closed_prs, TriggerOptions options);

  // Called after a build is queued (in-process workers wake up; others poll the queue).
  void SetQueuedHook(std::function<void()> hook) { on_queued_ = std::move(hook); }

  // Queues a build of a site (from its repository: GitHub, a git URL, or the platform's own);
  // supersedes queued builds of the same branch and context.
  Result<deploys::Deploy> QueueBuild(const deploys::Site& site, const BuildRequest& request);

  // A verified GitHub delivery for `site`: deduplicated by `delivery_id`, decided by the site's
  // settings, and the pull request's life (closed, reopened) applied.
  Result<DeliveryOutcome> OnGithubDelivery(const deploys::Site& site,
                                           const git::WebhookEvent& event,
                                           std::string_view delivery_id);

  // Checks the sites following a git URL for new commits on their production branch (what the
  // poller does every interval); returns how many builds it queued. Of several processes
  // polling, only the one that moves the site's polled commit queues the build.
  int PollGitSources();

  // Creates a site; with a repository ("github": creates the webhook at `hook_url` +
  // "?site_id=<id>", or no site; "git": checks the URL and branch can be read) it queues the
  // first build.
  Result<deploys::Site> CreateSite(std::string_view user_id, std::string_view account_id,
                                   const deploys::SitePatch& patch, std::string_view hook_url);
  // Deletes a GitHub site's webhook on GitHub (best effort: a revoked token is logged).
  Status RemoveGithubHook(const deploys::Site& site);
  // "Clear cache": the site's next build installs from scratch.
  Status ClearCache(std::string_view site_id);
  // The site's webhook secret; kNotFound when it has none.
  Result<std::string> WebhookSecret(std::string_view site_id);

  // "<github web url>/": repository URLs of GitHub sites start with it.
  std::string GithubRepoPrefix() const;
  // Whether git may reach private addresses for this site's repository: the configured GitHub
  // (an operator's setting, possibly GitHub Enterprise inside the network) always may; user
  // URLs only with allow_private_git.
  bool GitMayReachPrivate(const deploys::BuildSettings& settings) const;
  // The token to clone a GitHub site's repository with; "" for others.
  std::string GitToken(std::string_view site_id);

 private:
  Result<std::string> NewWebhookSecret(std::string_view site_id);

  deploys::SiteService& sites_;
  deploys::DeployService& deploys_;
  BuildQueue& queue_;
  git::GithubConnections& github_;
  git::WebhookDeliveries& deliveries_;
  git::ClosedPullRequests& closed_prs_;
  TriggerOptions options_;
  std::function<void()> on_queued_;
};

// Sets the commit status of a GitHub site's build (others are ignored); failures are logged.
void ReportBuildToGithub(git::GithubConnections& github, const deploys::Site& site,
                         const BuildJob& job, BuildPhase phase, const std::string& detail,
                         const std::string& deploy_url, const std::string& log_url);

}  // namespace replideploy::builder
