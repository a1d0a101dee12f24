-- On-demand TLS (docs/tls.md, "On-demand certificates"): host names that reached the HTTPS
-- listener by SNI without a certificate covering them, waiting for the certs role to decide
-- whether to issue one. One row per name; the certs role deletes it once it has decided.
CREATE TABLE tls_on_demand (
  name         TEXT PRIMARY KEY,
  requested_at BIGINT NOT NULL
);
