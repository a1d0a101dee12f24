-- Site analytics (docs/analytics.md). What the edges served, per site and period: each edge
-- process counts in memory and adds its counts here (an upsert that adds, so two processes
-- flushing the same minute add up). Periods are minutes (period_seconds 60); minutes older than
-- 48 h are rolled up into hours (3600), hours older than 30 days into days (86400), and days
-- past the retention are deleted. period_start is in Unix seconds, a multiple of the period.
-- No foreign key to sites: a flush for a site deleted meanwhile must not fail the whole batch;
-- the roll-up deletes the rows of sites that are gone.
CREATE TABLE site_traffic (
  site_id        TEXT NOT NULL,
  period_seconds INTEGER NOT NULL,
  period_start   BIGINT NOT NULL,
  requests       BIGINT NOT NULL DEFAULT 0,
  bytes          BIGINT NOT NULL DEFAULT 0,
  status_1xx     BIGINT NOT NULL DEFAULT 0,
  status_2xx     BIGINT NOT NULL DEFAULT 0,
  status_3xx     BIGINT NOT NULL DEFAULT 0,
  status_4xx     BIGINT NOT NULL DEFAULT 0,
  status_5xx     BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (site_id, period_seconds, period_start)
);
CREATE INDEX site_traffic_period ON site_traffic(period_seconds, period_start);

-- The most requested paths (kind 'path') and 404s (kind '404') of a site in a period: at most
-- a few (20 by default) per site, period and flush; the rest is counted under path '' (other).
CREATE TABLE site_traffic_paths (
  site_id        TEXT NOT NULL,
  period_seconds INTEGER NOT NULL,
  period_start   BIGINT NOT NULL,
  kind           TEXT NOT NULL,
  path           TEXT NOT NULL,
  requests       BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (site_id, period_seconds, period_start, kind, path)
);
CREATE INDEX site_traffic_paths_period ON site_traffic_paths(period_seconds, period_start);

-- One row per build a worker finished (succeeded or failed), with its duration. Deleted with
-- the traffic's days.
CREATE TABLE site_builds (
  id          TEXT PRIMARY KEY,
  site_id     TEXT NOT NULL,
  deploy_id   TEXT NOT NULL,
  outcome     TEXT NOT NULL,
  finished_at BIGINT NOT NULL,
  duration_ms BIGINT NOT NULL
);
CREATE INDEX site_builds_site ON site_builds(site_id, finished_at);
