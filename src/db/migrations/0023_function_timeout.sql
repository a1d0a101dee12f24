-- A site's synchronous function timeout in seconds (docs/functions.md, "Limits and answers"):
-- 1 to 60; 0 keeps the server's default (10 s).
ALTER TABLE sites ADD COLUMN function_timeout_seconds INTEGER NOT NULL DEFAULT 0;
