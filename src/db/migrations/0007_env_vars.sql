-- Environment variables of a site, per deploy context ('all', 'production', 'deploy-preview',
-- 'branch-deploy'); values encrypted at rest with the server key.
CREATE TABLE env_vars (
  site_id         TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
  name            TEXT NOT NULL,
  context         TEXT NOT NULL,
  value_encrypted TEXT NOT NULL,
  created_at      BIGINT NOT NULL,
  updated_at      BIGINT NOT NULL,
  PRIMARY KEY (site_id, name, context)
);
