-- Every line a build printed, in order, kept after the build.
CREATE TABLE build_logs (
  deploy_id TEXT NOT NULL REFERENCES deploys(id) ON DELETE CASCADE,
  seq       BIGINT NOT NULL,
  ts        BIGINT NOT NULL,
  stream    TEXT NOT NULL,
  line      TEXT NOT NULL,
  PRIMARY KEY (deploy_id, seq)
);
