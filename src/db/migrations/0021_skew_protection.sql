-- Skew protection (docs/edge.md): when `skew_protection_seconds` > 0, HTML answers of the site's
-- published deploy set a cookie naming that deploy, and the visitor's other requests carrying it
-- are served from that deploy while it was live within this many seconds. 0: off (the default).
ALTER TABLE sites ADD COLUMN skew_protection_seconds INTEGER NOT NULL DEFAULT 0;
