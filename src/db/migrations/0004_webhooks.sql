-- GitHub webhook deliveries seen per site, to drop redeliveries (X-GitHub-Delivery). Rows are
-- pruned after a few days. No foreign key to sites: a delivery for a site being deleted is
-- still recorded and pruned with the rest.
CREATE TABLE webhook_deliveries (
  site_id     TEXT NOT NULL,
  delivery_id TEXT NOT NULL,
  received_at BIGINT NOT NULL,
  PRIMARY KEY (site_id, delivery_id)
);
CREATE INDEX webhook_deliveries_received ON webhook_deliveries(received_at);
