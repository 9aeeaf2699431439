-- The history's entries by SKU and by channel index only the entries that
-- name one: a stock report's entries name no channel, an order's first
-- entry no SKU. A filter on "sku = …" or "channel = …" uses them all the
-- same. (PostgreSQL's migration also leaves room in the pages of rows
-- updated all day; SQLite updates rows in place.)
DROP INDEX history_sku;
CREATE INDEX history_sku ON history (merchant_id, sku, id) WHERE sku IS NOT NULL;
DROP INDEX history_channel;
CREATE INDEX history_channel ON history (merchant_id, channel, id) WHERE channel IS NOT NULL;
