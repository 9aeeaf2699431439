-- An order and its lines and units are written by the hundred a
-- transaction during a flash sale. Their foreign keys made PostgreSQL
-- check every new row against the merchant, channel, warehouse, product
-- and allocation it names, locking each of those rows KEY SHARE: the
-- merchant's, channel's and warehouse's rows locked by two transactions
-- at once become multixacts, written to disk. Without the checks a flash
-- sale accepts 15-40% more orders a second. allot never deletes a
-- merchant, channel, warehouse, product, allocation or order, and writes
-- these rows only with ids read in the same transaction, under its
-- merchant (store.Tx.M). SQLite keeps these
-- foreign keys: its checks take no lock, and every test that runs on it
-- checks the references of the code both engines share.
ALTER TABLE orders DROP CONSTRAINT IF EXISTS orders_merchant_id_fkey;
ALTER TABLE orders DROP CONSTRAINT IF EXISTS orders_channel_id_fkey;
ALTER TABLE orders DROP CONSTRAINT IF EXISTS orders_warehouse_id_fkey;
ALTER TABLE order_lines DROP CONSTRAINT IF EXISTS order_lines_order_id_fkey;
ALTER TABLE order_lines DROP CONSTRAINT IF EXISTS order_lines_product_id_fkey;
ALTER TABLE order_units DROP CONSTRAINT IF EXISTS order_units_order_id_fkey;
ALTER TABLE order_units DROP CONSTRAINT IF EXISTS order_units_product_id_fkey;
ALTER TABLE order_units DROP CONSTRAINT IF EXISTS order_units_allocation_id_fkey;
