-- Orders waiting for attention and live holds are few among many orders:
-- partial indexes find them without every order insert paying for an
-- entry in each.
DROP INDEX orders_attention;
CREATE INDEX orders_attention ON orders (merchant_id, channel_id) WHERE needs_attention;
DROP INDEX orders_holds;
CREATE INDEX orders_holds ON orders (merchant_id, expires_at) WHERE kind = 'hold' AND state = 'open';
