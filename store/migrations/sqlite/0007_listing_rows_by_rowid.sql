-- A listing's pending push and last publication are found by the
-- listing's id, a few times for each push. Declared BIGINT PRIMARY KEY,
-- that id was a second index beside SQLite's own rowid: a lookup searched
-- two b-trees, and a write updated both. INTEGER PRIMARY KEY makes the
-- listing's id the rowid itself. (PostgreSQL's migration 7 has nothing
-- to change: its tables are heaps with one primary key index.)
CREATE TABLE sync_pending_new (
  listing_id INTEGER PRIMARY KEY REFERENCES listings(id),
  channel_id BIGINT NOT NULL REFERENCES channels(id),
  merchant_id BIGINT NOT NULL REFERENCES merchants(id),
  quantity BIGINT NOT NULL,
  version BIGINT NOT NULL DEFAULT 1,
  due_at BIGINT NOT NULL,
  first_at BIGINT NOT NULL, -- when the oldest change still unpushed was made
  attempts BIGINT NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  done BOOLEAN NOT NULL DEFAULT FALSE
);
INSERT INTO sync_pending_new (listing_id, channel_id, merchant_id, quantity, version, due_at, first_at, attempts, last_error, done)
  SELECT listing_id, channel_id, merchant_id, quantity, version, due_at, first_at, attempts, last_error, done FROM sync_pending;
DROP TABLE sync_pending;
ALTER TABLE sync_pending_new RENAME TO sync_pending;
CREATE INDEX sync_pending_due ON sync_pending (channel_id, due_at) WHERE NOT done;

CREATE TABLE publications_new (
  listing_id INTEGER PRIMARY KEY REFERENCES listings(id),
  channel_id BIGINT NOT NULL REFERENCES channels(id),
  merchant_id BIGINT NOT NULL REFERENCES merchants(id),
  quantity BIGINT NOT NULL,
  pushed_at BIGINT NOT NULL,
  confirmed BOOLEAN NOT NULL,
  error TEXT NOT NULL DEFAULT ''
);
INSERT INTO publications_new (listing_id, channel_id, merchant_id, quantity, pushed_at, confirmed, error)
  SELECT listing_id, channel_id, merchant_id, quantity, pushed_at, confirmed, error FROM publications;
DROP TABLE publications;
ALTER TABLE publications_new RENAME TO publications;
CREATE INDEX publications_channel ON publications (channel_id);
