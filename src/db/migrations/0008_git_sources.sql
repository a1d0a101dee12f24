-- Git sources: a user's GitHub connection, sites that build from a repository, and what a
-- build job needs to fetch and configure its commit.
CREATE TABLE github_accounts (
  user_id    TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  github_id  BIGINT NOT NULL,
  login      TEXT NOT NULL,
  avatar_url TEXT NOT NULL DEFAULT '',
  html_url   TEXT NOT NULL DEFAULT '',
  token_enc  TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);

ALTER TABLE sites ADD COLUMN repo_provider TEXT NOT NULL DEFAULT '';
ALTER TABLE sites ADD COLUMN repo_path TEXT NOT NULL DEFAULT '';
ALTER TABLE sites ADD COLUMN branch_deploys INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sites ADD COLUMN deploy_previews INTEGER NOT NULL DEFAULT 1;
-- The webhook's secret (encrypted like env vars) and GitHub's id for the hook.
ALTER TABLE sites ADD COLUMN webhook_secret_enc TEXT NOT NULL DEFAULT '';
ALTER TABLE sites ADD COLUMN github_hook_id BIGINT;
-- The last commit of the production branch seen by the git URL poller.
ALTER TABLE sites ADD COLUMN polled_sha TEXT NOT NULL DEFAULT '';
CREATE INDEX sites_repo ON sites(repo_provider, repo_path);

-- Where the worker fetches the commit from ('' = the platform's own repository), the deploy
-- context, whether the build may see secret env vars (not for pull requests from forks), and
-- the pull request number of a deploy preview.
ALTER TABLE build_jobs ADD COLUMN repo_url TEXT NOT NULL DEFAULT '';
ALTER TABLE build_jobs ADD COLUMN context TEXT NOT NULL DEFAULT '';
ALTER TABLE build_jobs ADD COLUMN allow_secrets INTEGER NOT NULL DEFAULT 1;
ALTER TABLE build_jobs ADD COLUMN review_id BIGINT;

-- Pull requests closed on GitHub: their previews stop updating until they are reopened.
CREATE TABLE closed_pull_requests (
  site_id   TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
  number    BIGINT NOT NULL,
  closed_at BIGINT NOT NULL,
  PRIMARY KEY (site_id, number)
);
