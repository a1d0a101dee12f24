-- Function logs and statistics (docs/functions.md, "Logs and statistics").
--
-- What a function's processes printed, per (deploy, function): the edge that ran them queues
-- the lines in memory and stores them in batches. Lines are numbered per (deploy, function) by
-- function_log_heads.next_seq, which a batch advances under its row lock, so batches of several
-- processes commit in the order of their numbers and a reader following seq misses none.
-- Bounded: the last lines of each function are kept (older seqs deleted at each batch), and
-- lines and heads older than the retention (7 days) are deleted. No foreign keys: a batch for
-- a deploy deleted meanwhile must not fail; its rows age out.
CREATE TABLE function_log_heads (
  deploy_id     TEXT NOT NULL,
  function_name TEXT NOT NULL,
  site_id       TEXT NOT NULL,
  next_seq      BIGINT NOT NULL DEFAULT 0,
  updated_at    BIGINT NOT NULL,
  PRIMARY KEY (deploy_id, function_name)
);
CREATE INDEX function_log_heads_updated ON function_log_heads(updated_at);

CREATE TABLE function_logs (
  deploy_id     TEXT NOT NULL,
  function_name TEXT NOT NULL,
  seq           BIGINT NOT NULL,
  ts            BIGINT NOT NULL,
  stream        TEXT NOT NULL,
  request_id    TEXT NOT NULL DEFAULT '',
  line          TEXT NOT NULL,
  PRIMARY KEY (deploy_id, function_name, seq)
);
CREATE INDEX function_logs_ts ON function_logs(ts);

-- Calls per (deploy, function) and minute, by duration bucket (bucket i counts calls that took
-- at most the i-th bound of deploys/function_stats.hpp, the last one the rest), and how many of
-- them answered 5xx. Every process adds its counts (an upsert that adds), so percentiles are
-- read from the summed histogram. Minutes older than 48 hours are deleted.
CREATE TABLE function_stats (
  site_id       TEXT NOT NULL,
  deploy_id     TEXT NOT NULL,
  function_name TEXT NOT NULL,
  minute_start  BIGINT NOT NULL,
  bucket        INTEGER NOT NULL,
  calls         BIGINT NOT NULL DEFAULT 0,
  errors        BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (deploy_id, function_name, minute_start, bucket)
);
CREATE INDEX function_stats_minute ON function_stats(minute_start);
