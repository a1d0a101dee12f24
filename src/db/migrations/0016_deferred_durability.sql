-- Deploy speed (docs/storage.md, docs/edge.md). `blobs.synced`: 0 while an uploaded blob is
-- stored but maybe not durable (the blob store skipped its fsync); a deploy syncs its blobs in
-- one go before it becomes ready, and checks those written before a restart against their
-- digest. `deploys.variants_pending`: 1 while a ready deploy's brotli/gzip variants are still
-- being made in the background; it is served with identity bodies meanwhile.
ALTER TABLE blobs ADD COLUMN synced INTEGER NOT NULL DEFAULT 1;
ALTER TABLE deploys ADD COLUMN variants_pending INTEGER NOT NULL DEFAULT 0;
-- The processor looks for such deploys every few seconds: only those are indexed.
CREATE INDEX deploys_variants_pending ON deploys(updated_at) WHERE variants_pending = 1;
