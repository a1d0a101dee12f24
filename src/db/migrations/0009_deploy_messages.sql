-- A deploy's summary messages (Netlify's `summary.messages`): what processing reported without
-- failing the deploy, such as a rule line skipped as Netlify skips it. At most a hundred and one
-- per deploy (DeployService caps them).
CREATE TABLE deploy_messages (
  deploy_id   TEXT NOT NULL REFERENCES deploys(id) ON DELETE CASCADE,
  seq         INTEGER NOT NULL,
  kind        TEXT NOT NULL,
  title       TEXT NOT NULL,
  description TEXT NOT NULL,
  details     TEXT NOT NULL DEFAULT '',
  file_name   TEXT NOT NULL DEFAULT '',
  line_number BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (deploy_id, seq)
);
