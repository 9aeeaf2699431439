-- A listing's pending row outlives its push: a confirmed push marks it done
-- rather than deleting it, and the next quantity queued for the listing
-- updates it, giving it the next version under the row's own lock. The
-- versions of a listing then grow without a counter on the listing, which
-- every queued quantity used to update as well: a write less a push, and
-- no row shared by the sync worker and the orders that queue pushes.
ALTER TABLE sync_pending ADD COLUMN done BOOLEAN NOT NULL DEFAULT FALSE;
-- Listings pushed before keep their last version, so that no version is
-- given twice.
INSERT INTO sync_pending (listing_id, channel_id, merchant_id, quantity, version, due_at, first_at, done)
  SELECT l.id, l.channel_id, l.merchant_id, 0, l.push_version, 0, 0, TRUE FROM listings l
  WHERE l.push_version > 0 AND NOT EXISTS (SELECT 1 FROM sync_pending p WHERE p.listing_id = l.id);
DROP INDEX sync_pending_due;
CREATE INDEX sync_pending_due ON sync_pending (channel_id, due_at) WHERE NOT done;
ALTER TABLE listings DROP COLUMN push_version;
