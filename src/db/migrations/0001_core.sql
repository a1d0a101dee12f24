-- Accounts, users, API tokens, sites. Portable between SQLite and PostgreSQL: ids are text,
-- times are Unix milliseconds (BIGINT), booleans are INTEGER 0/1.
CREATE TABLE users (
  id            TEXT PRIMARY KEY,
  email         TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  full_name     TEXT NOT NULL DEFAULT '',
  created_at    BIGINT NOT NULL,
  updated_at    BIGINT NOT NULL
);

CREATE TABLE accounts (
  id            TEXT PRIMARY KEY,
  slug          TEXT NOT NULL UNIQUE,
  name          TEXT NOT NULL,
  owner_user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at    BIGINT NOT NULL
);
CREATE INDEX accounts_owner ON accounts(owner_user_id);

CREATE TABLE api_tokens (
  id           TEXT PRIMARY KEY,
  user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name         TEXT NOT NULL,
  token_hash   TEXT NOT NULL UNIQUE,
  created_at   BIGINT NOT NULL,
  last_used_at BIGINT,
  revoked_at   BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens(user_id);

CREATE TABLE sites (
  id                  TEXT PRIMARY KEY,
  account_id          TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name                TEXT NOT NULL UNIQUE,
  repo_url            TEXT NOT NULL DEFAULT '',
  repo_branch         TEXT NOT NULL DEFAULT '',
  build_cmd           TEXT NOT NULL DEFAULT '',
  build_dir           TEXT NOT NULL DEFAULT '',
  build_base          TEXT NOT NULL DEFAULT '',
  functions_dir       TEXT NOT NULL DEFAULT '',
  published_deploy_id TEXT,
  locked              INTEGER NOT NULL DEFAULT 0,
  created_at          BIGINT NOT NULL,
  updated_at          BIGINT NOT NULL
);
CREATE INDEX sites_account ON sites(account_id);

CREATE TABLE audit_events (
  id         TEXT PRIMARY KEY,
  user_id    TEXT,
  action     TEXT NOT NULL,
  subject    TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL
);
