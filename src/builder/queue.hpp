// The build queue: jobs in the database, claimed by workers under a lease that they renew with
// heartbeats. A worker that dies stops renewing; its job is claimed again once the lease
// expires (attempts + 1), and after max_attempts it fails with the reason. A newer push to the
// same site and branch supersedes older jobs still waiting. Works the same on SQLite (writers
// serialised by IMMEDIATE transactions) and PostgreSQL (FOR UPDATE SKIP LOCKED), so workers in
// other processes or hosts can share one PostgreSQL.
//
// Thread-safe; every call blocks on the database.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "db/database.hpp"

namespace replideploy::builder {

inline constexpr std::string_view kJobQueued = "queued";
inline constexpr std::string_view kJobRunning = "running";
inline constexpr std::string_view kJobDone = "done";
inline constexpr std::string_view kJobFailed = "failed";
inline constexpr std::string_view kJobCanceled = "canceled";

struct BuildJob {
  std::string id;
  std::string deploy_id;
  std::string site_id;
  std::string branch;
  std::string commit_sha;
  std::string state;
  int attempts = 0;
  int max_attempts = 0;
  std::string lease_owner;
  std::int64_t lease_expires_at = 0;
  std::string last_error;
  std::int64_t created_at = 0;
  // Where the commit comes from: "" is the platform's own repository of the site.
  std::string repo_url;
  std::string context;        // "production", "branch-deploy", "deploy-preview"
  bool allow_secrets = true;  // false for pull requests from forks
  std::optional<std::int64_t> review_id;
};

// What a job builds besides the commit: see the fields of the same names in BuildJob.
struct JobSource {
  std::string repo_url;
  std::string context = "production";
  bool allow_secrets = true;
  std::optional<std::int64_t> review_id;
};

struct QueueOptions {
  std::int64_t lease_millis = 60'000;
  int max_attempts = 3;
};

class BuildQueue {
 public:
  BuildQueue(db::Database& db, const core::Clock& clock, QueueOptions options = {})
      : db_(db), clock_(clock), options_(options) {}

  // Queues a build of `deploy_id`. Jobs of the same site, branch and context still queued are
  // canceled (their ids are returned in `superseded`, so the caller can cancel their deploys).
  Result<BuildJob> Enqueue(std::string_view deploy_id, std::string_view site_id,
                           std::string_view branch, std::string_view commit_sha,
                           std::vector<std::string>* superseded = nullptr,
                           const JobSource& source = {});
  // Cancels the queued jobs of a site's deploy previews for pull request `review_id`; returns
  // their ids.
  Result<std::vector<std::string>> CancelQueuedPreviews(std::string_view site_id,
                                                        std::int64_t review_id);

  // The oldest queued job, or one whose lease expired, now leased to `worker_id`; nullopt when
  // there is none. Jobs whose lease expired too often are failed on the way (their ids in
  // `failed`, for the caller to fail their deploys).
  Result<std::optional<BuildJob>> Claim(std::string_view worker_id,
                                        std::vector<BuildJob>* failed = nullptr);

  // Renews the lease. False when the worker no longer holds it (expired and claimed by
  // another, canceled): the worker must stop the build.
  Result<bool> Heartbeat(std::string_view job_id, std::string_view worker_id);

  // Ends a job the worker holds: done, or failed for good with `reason`. False when the worker
  // no longer held it.
  Result<bool> Complete(std::string_view job_id, std::string_view worker_id);
  Result<bool> Fail(std::string_view job_id, std::string_view worker_id, std::string_view reason);

  // Gives a job back to the queue (a worker shutting down): another worker claims it next.
  Result<bool> Release(std::string_view job_id, std::string_view worker_id);
  // Cancels a job that has not finished. False when it already had.
  Result<bool> Cancel(std::string_view job_id);
  // Cancels the unfinished jobs of a deploy (its worker notices at the next heartbeat).
  Status CancelForDeploy(std::string_view deploy_id);

  Result<BuildJob> Get(std::string_view job_id);
  // Jobs waiting to be claimed and jobs running (leased), for the queue-depth metric.
  struct Depth {
    std::int64_t queued = 0;
    std::int64_t running = 0;
  };
  Result<Depth> CountActive();
  // Whether a job of the deploy is still queued or running (its log may still grow).
  Result<bool> HasActiveJob(std::string_view deploy_id);

 private:
  db::Database& db_;
  const core::Clock& clock_;
  QueueOptions options_;
};

}  // namespace replideploy::builder
