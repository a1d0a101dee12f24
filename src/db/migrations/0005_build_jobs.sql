-- The build queue: one job per deploy built from git, claimed by workers under a lease.
CREATE TABLE build_jobs (
  id               TEXT PRIMARY KEY,
  deploy_id        TEXT NOT NULL REFERENCES deploys(id) ON DELETE CASCADE,
  site_id          TEXT NOT NULL,
  branch           TEXT NOT NULL DEFAULT '',
  commit_sha       TEXT NOT NULL DEFAULT '',
  state            TEXT NOT NULL,
  attempts         INTEGER NOT NULL DEFAULT 0,
  max_attempts     INTEGER NOT NULL DEFAULT 3,
  lease_owner      TEXT,
  lease_expires_at BIGINT,
  last_error       TEXT NOT NULL DEFAULT '',
  created_at       BIGINT NOT NULL,
  updated_at       BIGINT NOT NULL
);
CREATE INDEX build_jobs_claim ON build_jobs(state, created_at);
CREATE INDEX build_jobs_branch ON build_jobs(site_id, branch, state);
