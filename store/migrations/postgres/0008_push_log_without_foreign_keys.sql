-- The push log gets a row for every quantity a channel confirms: 200,000
-- after a full stock report over two stores. Checking each new row's
-- channel and listing locked that listing's row KEY SHARE, a write to the
-- listing's page and to the log for every push, and tripled the cost of
-- the insert. allot never deletes a channel or a listing, and writes these
-- rows only for the pushes it read, under the merchant of the transaction
-- (store.Tx.M). SQLite keeps them, as it keeps those of orders (see 6).
ALTER TABLE publication_log DROP CONSTRAINT IF EXISTS publication_log_channel_id_fkey;
ALTER TABLE publication_log DROP CONSTRAINT IF EXISTS publication_log_listing_id_fkey;
