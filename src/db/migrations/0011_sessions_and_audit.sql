-- Login sessions, API token scopes and expiry, and the audit log (issue 10; docs/security.md,
-- "The control plane").
--
-- A session is one login: its JWT carries the id ("sid"), and every request made with it
-- checks here that it is not revoked (logout, password change, ended from the session list).
CREATE TABLE sessions (
  id             TEXT PRIMARY KEY,
  user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at     BIGINT NOT NULL,
  last_seen_at   BIGINT NOT NULL,
  expires_at     BIGINT NOT NULL,
  client_address TEXT NOT NULL DEFAULT '',
  user_agent     TEXT NOT NULL DEFAULT '',
  revoked_at     BIGINT
);
CREATE INDEX sessions_user ON sessions(user_id);

-- scopes: space-separated names ("deploy account"); '' is every scope (tokens made before
-- scopes existed keep the full access they had). expires_at: unix millis, NULL for never.
ALTER TABLE api_tokens ADD COLUMN scopes TEXT NOT NULL DEFAULT '';
ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;

-- Who did it (a user and the credential, "session:<id>" / "token:<id>"), from where, and
-- details as a JSON object. `user_id` is the account's owner, whose log the event is in;
-- `subject` is the target (a site, deploy, token or session id).
ALTER TABLE audit_events ADD COLUMN actor_user_id TEXT;
ALTER TABLE audit_events ADD COLUMN actor_credential TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN client_address TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN details TEXT NOT NULL DEFAULT '{}';
UPDATE audit_events SET action = 'user.registered', actor_user_id = user_id
  WHERE action = 'user.register';
CREATE INDEX audit_events_user ON audit_events(user_id, created_at, id);
