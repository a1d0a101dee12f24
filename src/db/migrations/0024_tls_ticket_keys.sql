-- TLS session-ticket keys shared by every process serving HTTPS (docs/tls.md, "Session
-- tickets"), so that a ticket issued by one edge process resumes at another. The newest
-- generation encrypts new tickets; the two before it still decrypt (and renew) them.
-- `name` is the key's 16-byte name as hex (it travels in every ticket); `key_encrypted` is the
-- AES-256 and HMAC-SHA256 keys (32 + 32 bytes) encrypted at rest with the server key
-- (core::Encrypt), like certificates' private keys. One process wins each rotation: the next
-- generation is the primary key, inserted with ON CONFLICT DO NOTHING.
CREATE TABLE tls_ticket_keys (
  generation    BIGINT PRIMARY KEY,
  name          TEXT NOT NULL UNIQUE,
  key_encrypted TEXT NOT NULL,
  created_at    BIGINT NOT NULL
);
