-- Deploys and their files. A deploy's files point at blobs by SHA-256 once uploaded; Netlify's
-- clients name files by SHA-1, so blobs records both digests.
CREATE TABLE blobs (
  sha256     TEXT PRIMARY KEY,
  sha1       TEXT NOT NULL,
  size       BIGINT NOT NULL,
  has_br     INTEGER NOT NULL DEFAULT 0,
  has_gzip   INTEGER NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL
);
CREATE INDEX blobs_sha1 ON blobs(sha1);

CREATE TABLE deploys (
  id            TEXT PRIMARY KEY,
  site_id       TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
  user_id       TEXT,
  state         TEXT NOT NULL,
  context       TEXT NOT NULL,
  branch        TEXT NOT NULL DEFAULT '',
  title         TEXT NOT NULL DEFAULT '',
  commit_ref    TEXT NOT NULL DEFAULT '',
  review_id     INTEGER,
  draft         INTEGER NOT NULL DEFAULT 0,
  deploy_source TEXT NOT NULL DEFAULT '',
  error_message TEXT NOT NULL DEFAULT '',
  file_count    INTEGER NOT NULL DEFAULT 0,
  created_at    BIGINT NOT NULL,
  updated_at    BIGINT NOT NULL,
  ready_at      BIGINT,
  published_at  BIGINT
);
CREATE INDEX deploys_site ON deploys(site_id, created_at);
CREATE INDEX deploys_state ON deploys(state);

CREATE TABLE deploy_files (
  deploy_id    TEXT NOT NULL REFERENCES deploys(id) ON DELETE CASCADE,
  path         TEXT NOT NULL,
  sha1         TEXT NOT NULL,
  sha256       TEXT,
  size         BIGINT NOT NULL DEFAULT 0,
  content_type TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (deploy_id, path)
);
CREATE INDEX deploy_files_sha1 ON deploy_files(sha1);
CREATE INDEX deploy_files_sha256 ON deploy_files(sha256);

CREATE TABLE deploy_functions (
  deploy_id TEXT NOT NULL REFERENCES deploys(id) ON DELETE CASCADE,
  name      TEXT NOT NULL,
  sha256    TEXT NOT NULL,
  runtime   TEXT NOT NULL DEFAULT '',
  uploaded  INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (deploy_id, name)
);
