-- Scheduled functions (docs/functions.md, "Scheduled functions"): one row per slot a process
-- claimed, so that each slot of a function runs once however many processes run the scheduler
-- (INSERT ... ON CONFLICT DO NOTHING: the process whose insert wins runs it). `slot` is in Unix
-- seconds (UTC); rows older than two days are deleted by the scheduler.
CREATE TABLE function_schedule_runs (
  site_id       TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
  function_name TEXT NOT NULL,
  slot          BIGINT NOT NULL,
  deploy_id     TEXT NOT NULL,
  claimed_at    BIGINT NOT NULL,
  PRIMARY KEY (site_id, function_name, slot)
);
