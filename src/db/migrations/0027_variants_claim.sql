-- Who makes a ready deploy's brotli/gzip variants (DeployService::PrecompressPending): with
-- several processes over one database, the one that claims the deploy, until this time (ms since
-- the epoch; renewed after each chunk). 0 = nobody. A claim of a process that died lapses.
ALTER TABLE deploys ADD COLUMN variants_claim_until BIGINT NOT NULL DEFAULT 0;
