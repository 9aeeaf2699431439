-- The synchronisation: an outbox of products whose published quantities may
-- have changed (written in the same transaction as the change), the pushes
-- due per listing, what was last published, and who pushes a channel now.

-- sync_dirty: a product whose quantities may have changed, on any channel;
-- product_id 0 stands for every product. version grows at every mark, so
-- that a worker removes a mark only if nothing marked it again meanwhile.
CREATE TABLE sync_dirty (
  merchant_id BIGINT NOT NULL REFERENCES merchants(id),
  product_id BIGINT NOT NULL,
  version BIGINT NOT NULL DEFAULT 1,
  since BIGINT NOT NULL,
  PRIMARY KEY (merchant_id, product_id)
);

-- listings.push_ref: what the channel needs to set the listing's quantity,
-- when it differs from the external id (Shopify: the inventory item).
ALTER TABLE listings ADD COLUMN push_ref TEXT NOT NULL DEFAULT '';
-- listings.push_version numbers the values computed for a listing, for
-- ever increasing: a push's idempotency key, and the order of its values.
ALTER TABLE listings ADD COLUMN push_version BIGINT NOT NULL DEFAULT 0;

-- sync_pending: the newest quantity to push for a listing, with its
-- push_version: a confirmed push removes the row only if no newer value
-- arrived meanwhile: newest value wins, and none is lost.
CREATE TABLE sync_pending (
  listing_id BIGINT PRIMARY KEY REFERENCES listings(id),
  channel_id BIGINT NOT NULL REFERENCES channels(id),
  merchant_id BIGINT NOT NULL REFERENCES merchants(id),
  quantity BIGINT NOT NULL,
  version BIGINT NOT NULL DEFAULT 1,
  due_at BIGINT NOT NULL,
  first_at BIGINT NOT NULL, -- when the oldest change still unpushed was made
  attempts BIGINT NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sync_pending_due ON sync_pending (channel_id, due_at);

-- publications: the last quantity pushed to a channel for a listing.
CREATE TABLE publications (
  listing_id BIGINT PRIMARY KEY REFERENCES listings(id),
  channel_id BIGINT NOT NULL REFERENCES channels(id),
  merchant_id BIGINT NOT NULL REFERENCES merchants(id),
  quantity BIGINT NOT NULL,
  pushed_at BIGINT NOT NULL,
  confirmed BOOLEAN NOT NULL,
  error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX publications_channel ON publications (channel_id);

-- publication_log: every publication and every drift mended, for the
-- history of a listing's published quantity.
CREATE TABLE publication_log (
  id INTEGER PRIMARY KEY,
  merchant_id BIGINT NOT NULL REFERENCES merchants(id),
  channel_id BIGINT NOT NULL REFERENCES channels(id),
  listing_id BIGINT NOT NULL REFERENCES listings(id),
  quantity BIGINT NOT NULL,
  at BIGINT NOT NULL,
  outcome TEXT NOT NULL, -- confirmed, error, drift
  detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX publication_log_listing ON publication_log (listing_id, id);

-- sync_channels: one worker pushes a channel at a time, under a lease that
-- expires if it dies; and what the channel's connection last did.
CREATE TABLE sync_channels (
  channel_id BIGINT PRIMARY KEY REFERENCES channels(id),
  merchant_id BIGINT NOT NULL REFERENCES merchants(id),
  lease_owner TEXT NOT NULL DEFAULT '',
  lease_until BIGINT NOT NULL DEFAULT 0,
  last_success_at BIGINT,
  last_error_at BIGINT,
  last_error TEXT NOT NULL DEFAULT '',
  drift_checked_at BIGINT NOT NULL DEFAULT 0,
  drift_mended BIGINT NOT NULL DEFAULT 0
);

-- webhook_receipts: the webhooks already applied, so a replay counts once.
CREATE TABLE webhook_receipts (
  channel_id BIGINT NOT NULL REFERENCES channels(id),
  webhook_id TEXT NOT NULL,
  received_at BIGINT NOT NULL,
  PRIMARY KEY (channel_id, webhook_id)
);
