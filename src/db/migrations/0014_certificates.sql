-- Certificates from an ACME CA (RFC 8555; docs/certificates.md). Private keys are encrypted at
-- rest with the server key (core::Encrypt), like environment variables.

-- One ACME account per (directory, contact); the account key is ECDSA P-256 (PEM, encrypted).
CREATE TABLE acme_accounts (
  directory_url TEXT NOT NULL,
  contact       TEXT NOT NULL,
  key_encrypted TEXT NOT NULL,
  account_url   TEXT NOT NULL,
  created_at    BIGINT NOT NULL,
  updated_at    BIGINT NOT NULL,
  PRIMARY KEY (directory_url, contact)
);

-- One row per certificate; `names` is the sorted JSON array of its names (the first is the
-- subject), unique, so one set of names has one row whatever its state.
-- state: issuing | active | failed | expired.
CREATE TABLE certificates (
  id              TEXT PRIMARY KEY,
  names           TEXT NOT NULL UNIQUE,
  challenge       TEXT NOT NULL,
  state           TEXT NOT NULL,
  chain_pem       TEXT NOT NULL DEFAULT '',
  key_encrypted   TEXT NOT NULL DEFAULT '',
  not_before      BIGINT NOT NULL DEFAULT 0,
  not_after       BIGINT NOT NULL DEFAULT 0,
  renew_at        BIGINT NOT NULL DEFAULT 0,
  last_error      TEXT NOT NULL DEFAULT '',
  attempts        BIGINT NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL DEFAULT 0,
  created_at      BIGINT NOT NULL,
  updated_at      BIGINT NOT NULL
);
CREATE INDEX certificates_renew_at ON certificates(renew_at);

-- One issuance per name at a time across processes: a row per name being issued, held until
-- expires_at (a crashed holder's lease lapses).
CREATE TABLE acme_leases (
  name       TEXT PRIMARY KEY,
  holder     TEXT NOT NULL,
  expires_at BIGINT NOT NULL
);

-- HTTP-01 challenges in progress, so that every edge process answers
-- /.well-known/acme-challenge/<token>.
CREATE TABLE acme_challenges (
  token             TEXT PRIMARY KEY,
  key_authorization TEXT NOT NULL,
  name              TEXT NOT NULL,
  expires_at        BIGINT NOT NULL
);
CREATE INDEX acme_challenges_expiry ON acme_challenges(expires_at);
