-- Defences of sign-in and sign-up (docs/security.md, "Accounts and sign-in").
--
-- Failed logins per account and per client address, shared by every api process. `key` is
-- "account:<sha-256 of the email>" or "address:<ip>", rows past their window are pruned.
CREATE TABLE login_failures (
  key           TEXT PRIMARY KEY,
  failures      BIGINT NOT NULL,
  first_failure BIGINT NOT NULL,
  last_failure  BIGINT NOT NULL
);
CREATE INDEX login_failures_last ON login_failures(last_failure);

-- The instance's administrator: the first account ever registered (one row, id 1). Claimed
-- with INSERT ... ON CONFLICT DO NOTHING, so two first registrations cannot both win.
ALTER TABLE users ADD COLUMN is_admin INTEGER NOT NULL DEFAULT 0;
CREATE TABLE first_account (
  id         INTEGER PRIMARY KEY CHECK (id = 1),
  user_id    TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
-- An existing instance: its oldest user is the administrator.
UPDATE users SET is_admin = 1
  WHERE id = (SELECT id FROM users ORDER BY created_at, id LIMIT 1);
INSERT INTO first_account (id, user_id, created_at)
  SELECT 1, id, created_at FROM users ORDER BY created_at, id LIMIT 1;

-- Single-use invitations to register (--registration invite). Only the code's SHA-256 is kept.
CREATE TABLE invites (
  code_hash  TEXT PRIMARY KEY,
  created_by TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  used_at    BIGINT,
  used_by    TEXT
);

-- GitHub OAuth flows in progress: the state (its SHA-256) is single-use and bound to the
-- browser that started the flow by the SHA-256 of a nonce kept in an HttpOnly cookie.
CREATE TABLE github_oauth_states (
  state_hash TEXT PRIMARY KEY,
  nonce_hash TEXT NOT NULL,
  user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  return_to  TEXT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX github_oauth_states_expiry ON github_oauth_states(expires_at);
