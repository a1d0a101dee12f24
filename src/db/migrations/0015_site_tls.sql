-- Per-site HTTPS policy (docs/tls.md). `https_redirect`: once the HTTPS listener has a
-- certificate for the request's host, plain-HTTP requests are answered 301 to https:// (ACME
-- HTTP-01 challenges excepted); on by default. `hsts`: HTTPS answers carry
-- Strict-Transport-Security; opt-in.
ALTER TABLE sites ADD COLUMN https_redirect INTEGER NOT NULL DEFAULT 1;
ALTER TABLE sites ADD COLUMN hsts INTEGER NOT NULL DEFAULT 0;
