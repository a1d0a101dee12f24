-- Custom domains (issue 12; docs/domains.md). A name belongs to one site on the whole
-- platform. Apex + www pairs: `pair_name` names the other member ('' when none); a member whose
-- `redirect_to` is set answers 301 to that name. `is_primary` marks the site's primary domain
-- (Netlify's custom_domain), at most one per site.
--
-- state: pending_dns | dns_ok | issuing | active | failed. The DNS check moves pending_dns to
-- dns_ok; the certificate work sets issuing, active and failed. `dns_report` is the JSON of the
-- last check; `next_check_at` (unix millis) is when the background checker looks again, NULL
-- when it need not. `txt_token` is the value of the TXT record `_replideploy-challenge.<name>`
-- that proves this account controls the name (needed to take it from another account).
CREATE TABLE domains (
  id             TEXT PRIMARY KEY,
  site_id        TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
  account_id     TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name           TEXT NOT NULL UNIQUE,
  is_primary     INTEGER NOT NULL DEFAULT 0,
  pair_name      TEXT NOT NULL DEFAULT '',
  redirect_to    TEXT NOT NULL DEFAULT '',
  state          TEXT NOT NULL DEFAULT 'pending_dns',
  state_reason   TEXT NOT NULL DEFAULT '',
  dns_report     TEXT NOT NULL DEFAULT '',
  check_attempts INTEGER NOT NULL DEFAULT 0,
  next_check_at  BIGINT,
  verified_at    BIGINT,
  txt_token      TEXT NOT NULL,
  created_at     BIGINT NOT NULL,
  updated_at     BIGINT NOT NULL
);
CREATE INDEX domains_site ON domains(site_id);
CREATE INDEX domains_due ON domains(state, next_check_at);
