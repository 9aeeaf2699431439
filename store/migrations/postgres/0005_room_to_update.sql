-- Rows updated all day (stock counters, what allocations consumed, the
-- last publication of each listing, outbox marks) keep a fifth of each
-- page free, so that an update whose columns no index holds writes its new
-- version on the same page, and no index entry (a HOT update). Pages
-- written from now on keep the room; VACUUM FULL would give it to the
-- others.
ALTER TABLE stock SET (fillfactor = 80);
ALTER TABLE allocation_usage SET (fillfactor = 80);
ALTER TABLE publications SET (fillfactor = 80);
ALTER TABLE sync_dirty SET (fillfactor = 80);

-- The history's entries by SKU and by channel index only the entries that
-- name one: a stock report's entries name no channel, an order's first
-- entry no SKU. A filter on "sku = …" or "channel = …" uses them all the
-- same.
DROP INDEX history_sku;
CREATE INDEX history_sku ON history (merchant_id, sku, id) WHERE sku IS NOT NULL;
DROP INDEX history_channel;
CREATE INDEX history_channel ON history (merchant_id, channel, id) WHERE channel IS NOT NULL;

-- The audit history and the push log are written by the thousand (a
-- stock report writes an entry a SKU) and never updated. Checking each
-- new entry's merchant against merchants, as their foreign keys did,
-- doubled the cost of writing them, and made every transaction lock the
-- merchant's row to do it. Merchants are never deleted, and allot writes
-- these rows with the merchant of the transaction (store.Tx.M) only.
ALTER TABLE history DROP CONSTRAINT IF EXISTS history_merchant_id_fkey;
ALTER TABLE publication_log DROP CONSTRAINT IF EXISTS publication_log_merchant_id_fkey;
