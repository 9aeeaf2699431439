-- A listing's last publication moves onto its pending row: every
-- publication is of a listing that has one (a push is read from it, and
-- the rows stay once pushed; see 4). Confirming a push then writes one
-- row, not two, and the reads of what waits and what was published join
-- one table less. published is NULL until a first push is confirmed.
ALTER TABLE sync_pending ADD COLUMN published BIGINT;
ALTER TABLE sync_pending ADD COLUMN pushed_at BIGINT;
-- Publications without a pending row (none are expected): a done row.
INSERT INTO sync_pending (listing_id, channel_id, merchant_id, quantity, version, due_at, first_at, done)
  SELECT pub.listing_id, pub.channel_id, pub.merchant_id, pub.quantity, 0, 0, 0, TRUE FROM publications pub
  WHERE NOT EXISTS (SELECT 1 FROM sync_pending p WHERE p.listing_id = pub.listing_id);
UPDATE sync_pending p SET published = pub.quantity, pushed_at = pub.pushed_at FROM publications pub WHERE pub.listing_id = p.listing_id;
DROP TABLE publications;
-- A channel's publications (a drift check, the sync state) are found
-- through its listings: an index of the channel here would be written by
-- every update that marks a row done or due, on PostgreSQL.
-- Updated at every push: room on the page for the new version (see 5).
ALTER TABLE sync_pending SET (fillfactor = 80);
