-- Skew protection (docs/edge.md): when `skew_protection_seconds` > 0, HTML answers of the site's
-- published deploy set a cookie naming that deploy, and the visitor's other requests carrying it
-- are served from that deploy while it was live within this many seconds. 0: off (the default).
ALTER TABLE sites ADD COLUMN skew_protection_seconds INTEGER NOT NULL DEFAULT 0;
-- The edge reads a protected site's latest published deploys (DeployService::RecentlyPublished)
-- when it reads the site: newest first, from an index however many deploys the site has.
CREATE INDEX deploys_site_published ON deploys(site_id, published_at) WHERE published_at IS NOT NULL;
