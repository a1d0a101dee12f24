#include "builder/queue.hpp"

#include "core/ids.hpp"

namespace replideploy::builder {

namespace {

constexpr std::string_view kColumns =
    "id, deploy_id, site_id, branch, commit_sha, state, attempts, max_attempts, lease_owner, "
    "lease_expires_at, last_error, created_at, repo_url, context, allow_secrets, review_id";

BuildJob JobFromRow(const db::Row& r) {
  BuildJob j;
  j.id = r.Text(0);
  j.deploy_id = r.Text(1);
  j.site_id = r.Text(2);
  j.branch = r.Text(3);
  j.commit_sha = r.Text(4);
  j.state = r.Text(5);
  j.attempts = static_cast<int>(r.Int(6));
  j.max_attempts = static_cast<int>(r.Int(7));
  j.lease_owner = r.Text(8);
  j.lease_expires_at = r.Int(9);
  j.last_error = r.Text(10);
  j.created_at = r.Int(11);
  j.repo_url = r.Text(12);
  j.context = r.Text(13);
  j.allow_secrets = r.Bool(14);
  if (!r.IsNull(15)) j.review_id = r.Int(15);
  return j;
}

std::string S(std::string_view v) { return std::string(v); }

}  // namespace

Result<BuildJob> BuildQueue::Enqueue(std::string_view deploy_id, std::string_view site_id,
                                     std::string_view branch, std::string_view commit_sha,
                                     std::vector<std::string>* superseded,
                                     const JobSource& source) {
  const std::int64_t now = clock_.NowMillis();
  const std::string id = core::NewHexId();
  RD_TRY_STATUS(db_.Transaction([&](db::Session& s) -> Status {
    RD_TRY(db::Rows older, s.Exec("SELECT id FROM build_jobs WHERE site_id = ? AND branch = ? "
                                  "AND context = ? AND state = 'queued'",
                                  {S(site_id), S(branch), source.context}));
    for (const auto& r : older.rows) {
      RD_TRY_STATUS(s.Exec(
          "UPDATE build_jobs SET state = 'canceled', last_error = ?, updated_at = ? WHERE id = ?",
          {std::string("superseded by a newer push"), now, r.Text(0)}));
      if (superseded != nullptr) superseded->push_back(r.Text(0));
    }
    RD_TRY_STATUS(s.Exec(
        "INSERT INTO build_jobs (id, deploy_id, site_id, branch, commit_sha, state, attempts, "
        "max_attempts, created_at, updated_at, repo_url, context, allow_secrets, review_id) "
        "VALUES (?, ?, ?, ?, ?, 'queued', 0, ?, ?, ?, ?, ?, ?, ?)",
        {id, S(deploy_id), S(site_id), S(branch), S(commit_sha),
         static_cast<std::int64_t>(options_.max_attempts), now, now, source.repo_url,
         source.context, std::int64_t{source.allow_secrets},
         source.review_id ? db::Value(*source.review_id) : db::Value(nullptr)}));
    return {};
  }));
  return Get(id);
}

Result<std::vector<std::string>> BuildQueue::CancelQueuedPreviews(std::string_view site_id,
                                                                  std::int64_t review_id) {
  std::vector<std::string> canceled;
  RD_TRY_STATUS(db_.Transaction([&](db::Session& s) -> Status {
    RD_TRY(db::Rows rows, s.Exec("SELECT id FROM build_jobs WHERE site_id = ? AND review_id = ? "
                                 "AND context = 'deploy-preview' AND state = 'queued'",
                                 {S(site_id), review_id}));
    for (const auto& r : rows.rows) {
      RD_TRY_STATUS(
          s.Exec("UPDATE build_jobs SET state = 'canceled', last_error = ?, "
                 "updated_at = ? WHERE id = ?",
                 {std::string("the pull request was closed"), clock_.NowMillis(), r.Text(0)}));
      canceled.push_back(r.Text(0));
    }
    return {};
  }));
  return canceled;
}

Result<std::optional<BuildJob>> BuildQueue::Claim(std::string_view worker_id,
                                                  std::vector<BuildJob>* failed) {
  const std::int64_t now = clock_.NowMillis();
  // PostgreSQL: concurrent claimers skip each other's rows. SQLite: the transaction holds the
  // write lock from its start, so claimers take turns.
  const std::string lock = db_.engine() == db::Engine::kPostgres ? " FOR UPDATE SKIP LOCKED" : "";
  std::optional<BuildJob> claimed;
  RD_TRY_STATUS(db_.Transaction([&](db::Session& s) -> Status {
    for (;;) {
      RD_TRY(db::Rows rows,
             s.Exec(std::string("SELECT ") + std::string(kColumns) +
                        " FROM build_jobs WHERE state = 'queued' OR (state = 'running' AND "
                        "lease_expires_at < ?) ORDER BY created_at, id LIMIT 1" +
                        lock,
                    {now}));
      if (rows.empty()) return {};
      BuildJob job = JobFromRow(rows.rows.front());
      if (job.state == kJobRunning && job.attempts >= job.max_attempts) {
        const std::string reason = "the build's worker stopped answering " +
                                   std::to_string(job.attempts) + " times; giving up";
        RD_TRY_STATUS(
            s.Exec("UPDATE build_jobs SET state = 'failed', last_error = ?, "
                   "lease_owner = NULL, updated_at = ? WHERE id = ?",
                   {reason, now, job.id}));
        job.state = kJobFailed;
        job.last_error = reason;
        if (failed != nullptr) failed->push_back(job);
        continue;
      }
      RD_TRY_STATUS(
          s.Exec("UPDATE build_jobs SET state = 'running', attempts = attempts + 1, "
                 "lease_owner = ?, lease_expires_at = ?, updated_at = ? WHERE id = ?",
                 {S(worker_id), now + options_.lease_millis, now, job.id}));
      job.state = kJobRunning;
      job.attempts += 1;
      job.lease_owner = S(worker_id);
      job.lease_expires_at = now + options_.lease_millis;
      claimed = std::move(job);
      return {};
    }
  }));
  return claimed;
}

Result<bool> BuildQueue::Heartbeat(std::string_view job_id, std::string_view worker_id) {
  const std::int64_t now = clock_.NowMillis();
  RD_TRY(db::Rows rows, db_.Exec("UPDATE build_jobs SET lease_expires_at = ?, updated_at = ? "
                                 "WHERE id = ? AND state = 'running' AND lease_owner = ?",
                                 {now + options_.lease_millis, now, S(job_id), S(worker_id)}));
  return rows.affected > 0;
}

Result<bool> BuildQueue::Complete(std::string_view job_id, std::string_view worker_id) {
  RD_TRY(db::Rows rows, db_.Exec("UPDATE build_jobs SET state = 'done', lease_owner = NULL, "
                                 "updated_at = ? WHERE id = ? AND state = 'running' AND "
                                 "lease_owner = ?",
                                 {clock_.NowMillis(), S(job_id), S(worker_id)}));
  return rows.affected > 0;
}

Result<bool> BuildQueue::Fail(std::string_view job_id, std::string_view worker_id,
                              std::string_view reason) {
  RD_TRY(db::Rows rows, db_.Exec("UPDATE build_jobs SET state = 'failed', last_error = ?, "
                                 "lease_owner = NULL, updated_at = ? WHERE id = ? AND "
                                 "state = 'running' AND lease_owner = ?",
                                 {S(reason), clock_.NowMillis(), S(job_id), S(worker_id)}));
  return rows.affected > 0;
}

Result<bool> BuildQueue::Release(std::string_view job_id, std::string_view worker_id) {
  RD_TRY(db::Rows rows, db_.Exec("UPDATE build_jobs SET state = 'queued', lease_owner = NULL, "
                                 "lease_expires_at = NULL, updated_at = ? WHERE id = ? AND "
                                 "state = 'running' AND lease_owner = ?",
                                 {clock_.NowMillis(), S(job_id), S(worker_id)}));
  return rows.affected > 0;
}

Result<bool> BuildQueue::Cancel(std::string_view job_id) {
  RD_TRY(db::Rows rows, db_.Exec("UPDATE build_jobs SET state = 'canceled', lease_owner = NULL, "
                                 "updated_at = ? WHERE id = ? AND state IN ('queued', 'running')",
                                 {clock_.NowMillis(), S(job_id)}));
  return rows.affected > 0;
}

Status BuildQueue::CancelForDeploy(std::string_view deploy_id) {
  RD_TRY_STATUS(
      db_.Exec("UPDATE build_jobs SET state = 'canceled', lease_owner = NULL, "
               "updated_at = ? WHERE deploy_id = ? AND state IN ('queued', 'running')",
               {clock_.NowMillis(), S(deploy_id)}));
  return {};
}

Result<bool> BuildQueue::HasActiveJob(std::string_view deploy_id) {
  RD_TRY(db::Rows rows, db_.Exec("SELECT COUNT(*) FROM build_jobs WHERE deploy_id = ? AND "
                                 "state IN ('queued', 'running')",
                                 {S(deploy_id)}));
  return !rows.empty() && rows.rows.front().Int(0) > 0;
}

Result<BuildQueue::Depth> BuildQueue::CountActive() {
  RD_TRY(db::Rows rows, db_.Exec("SELECT state, COUNT(*) FROM build_jobs WHERE state IN "
                                 "('queued', 'running') GROUP BY state"));
  Depth depth;
  for (const auto& row : rows.rows) {
    (row.Text(0) == kJobQueued ? depth.queued : depth.running) = row.Int(1);
  }
  return depth;
}

Result<BuildJob> BuildQueue::Get(std::string_view job_id) {
  RD_TRY(db::Rows rows,
         db_.Exec(std::string("SELECT ") + std::string(kColumns) + " FROM build_jobs WHERE id = ?",
                  {S(job_id)}));
  if (rows.empty()) return MakeError(ErrorCode::kNotFound, "build job not found");
  return JobFromRow(rows.rows.front());
}

}  // namespace replideploy::builder
