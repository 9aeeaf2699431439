-- allot's schema. Times are microseconds since 1970 UTC (BIGINT), so that one
-- query text serves SQLite and PostgreSQL alike. Every row belongs to one
-- merchant, directly or through its parent.

CREATE TABLE merchants (
  id INTEGER PRIMARY KEY,
  code TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  created_at BIGINT NOT NULL
);

CREATE TABLE tokens (
  id INTEGER PRIMARY KEY,
  merchant_id BIGINT NOT NULL REFERENCES merchants(id),
  name TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE, -- SHA-256 of the token, hex: tokens are never stored
  created_at BIGINT NOT NULL
);

CREATE TABLE products (
  id INTEGER PRIMARY KEY,
  merchant_id BIGINT NOT NULL REFERENCES merchants(id),
  sku TEXT NOT NULL,
  name TEXT NOT NULL,
  barcode TEXT NOT NULL DEFAULT '',
  is_bundle BOOLEAN NOT NULL DEFAULT FALSE,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  UNIQUE (merchant_id, sku)
);
CREATE INDEX products_barcode ON products (merchant_id, barcode);

CREATE TABLE bundle_components (
  bundle_id BIGINT NOT NULL REFERENCES products(id),
  component_id BIGINT NOT NULL REFERENCES products(id),
  quantity BIGINT NOT NULL,
  position BIGINT NOT NULL,
  PRIMARY KEY (bundle_id, component_id)
);
CREATE INDEX bundle_components_component ON bundle_components (component_id);

CREATE TABLE warehouses (
  id INTEGER PRIMARY KEY,
  merchant_id BIGINT NOT NULL REFERENCES merchants(id),
  code TEXT NOT NULL,
  name TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  UNIQUE (merchant_id, code)
);

-- stock holds the warehouse's truth (in_warehouse, damaged) and allot's own
-- committed counter: units of counted, open, unshipped order lines assigned
-- to this warehouse. Live holds are summed apart, since they expire alone.
CREATE TABLE stock (
  product_id BIGINT NOT NULL REFERENCES products(id),
  warehouse_id BIGINT NOT NULL REFERENCES warehouses(id),
  merchant_id BIGINT NOT NULL REFERENCES merchants(id),
  in_warehouse BIGINT NOT NULL DEFAULT 0,
  damaged BIGINT NOT NULL DEFAULT 0,
  committed BIGINT NOT NULL DEFAULT 0,
  as_of BIGINT,                        -- the last report's time; NULL: never reported
  changed_at BIGINT NOT NULL DEFAULT 0, -- newest report, shipment or receipt applied
  PRIMARY KEY (product_id, warehouse_id)
);
CREATE INDEX stock_merchant ON stock (merchant_id);

CREATE TABLE inbounds (
  id INTEGER PRIMARY KEY,
  merchant_id BIGINT NOT NULL REFERENCES merchants(id),
  warehouse_id BIGINT NOT NULL REFERENCES warehouses(id),
  expected_at BIGINT,
  received_at BIGINT,
  created_at BIGINT NOT NULL
);

CREATE TABLE inbound_lines (
  inbound_id BIGINT NOT NULL REFERENCES inbounds(id),
  product_id BIGINT NOT NULL REFERENCES products(id),
  quantity BIGINT NOT NULL,
  PRIMARY KEY (inbound_id, product_id)
);

CREATE TABLE channels (
  id INTEGER PRIMARY KEY,
  merchant_id BIGINT NOT NULL REFERENCES merchants(id),
  code TEXT NOT NULL,
  name TEXT NOT NULL,
  platform TEXT NOT NULL,
  count_unpaid BOOLEAN NOT NULL DEFAULT FALSE,
  all_warehouses BOOLEAN NOT NULL DEFAULT TRUE,
  settings TEXT NOT NULL DEFAULT '{}',
  rule_percent BIGINT,
  rule_zero_at BIGINT,
  rule_max BIGINT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  UNIQUE (merchant_id, code)
);

CREATE TABLE channel_warehouses (
  channel_id BIGINT NOT NULL REFERENCES channels(id),
  warehouse_id BIGINT NOT NULL REFERENCES warehouses(id),
  position BIGINT NOT NULL,
  PRIMARY KEY (channel_id, warehouse_id)
);

CREATE TABLE pair_rules (
  channel_id BIGINT NOT NULL REFERENCES channels(id),
  product_id BIGINT NOT NULL REFERENCES products(id),
  merchant_id BIGINT NOT NULL REFERENCES merchants(id),
  percent BIGINT,
  zero_at BIGINT,
  max_qty BIGINT,
  PRIMARY KEY (channel_id, product_id)
);
CREATE INDEX pair_rules_product ON pair_rules (product_id);

CREATE TABLE listings (
  id INTEGER PRIMARY KEY,
  merchant_id BIGINT NOT NULL REFERENCES merchants(id),
  channel_id BIGINT NOT NULL REFERENCES channels(id),
  external_id TEXT NOT NULL,
  product_id BIGINT REFERENCES products(id), -- NULL: not linked
  enabled BOOLEAN NOT NULL DEFAULT TRUE,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  UNIQUE (channel_id, external_id)
);
CREATE INDEX listings_product ON listings (product_id);

CREATE TABLE allocations (
  id INTEGER PRIMARY KEY,
  merchant_id BIGINT NOT NULL REFERENCES merchants(id),
  name TEXT NOT NULL,
  note TEXT NOT NULL DEFAULT '',
  purpose TEXT NOT NULL,
  priority BIGINT NOT NULL DEFAULT 0,
  all_skus_quantity BIGINT, -- NOT NULL: one quantity for every SKU
  starts_at BIGINT,
  ends_at BIGINT,
  inbound_id BIGINT REFERENCES inbounds(id),
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX allocations_merchant ON allocations (merchant_id, ends_at);

CREATE TABLE allocation_channels (
  allocation_id BIGINT NOT NULL REFERENCES allocations(id),
  channel_id BIGINT NOT NULL REFERENCES channels(id),
  rule TEXT NOT NULL,
  PRIMARY KEY (allocation_id, channel_id)
);
CREATE INDEX allocation_channels_channel ON allocation_channels (channel_id);

CREATE TABLE allocation_lines (
  allocation_id BIGINT NOT NULL REFERENCES allocations(id),
  product_id BIGINT NOT NULL REFERENCES products(id),
  quantity BIGINT NOT NULL,
  PRIMARY KEY (allocation_id, product_id)
);
CREATE INDEX allocation_lines_product ON allocation_lines (product_id);

-- allocation_usage counts, per allocation and SKU, the units of counted
-- order lines that consumed it and were not cancelled (live holds apart).
CREATE TABLE allocation_usage (
  allocation_id BIGINT NOT NULL REFERENCES allocations(id),
  product_id BIGINT NOT NULL REFERENCES products(id),
  consumed BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (allocation_id, product_id)
);
CREATE INDEX allocation_usage_product ON allocation_usage (product_id);

CREATE TABLE orders (
  id INTEGER PRIMARY KEY,
  merchant_id BIGINT NOT NULL REFERENCES merchants(id),
  channel_id BIGINT NOT NULL REFERENCES channels(id),
  external_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  payment TEXT NOT NULL,
  state TEXT NOT NULL,
  counts BOOLEAN NOT NULL DEFAULT FALSE,
  needs_attention BOOLEAN NOT NULL DEFAULT FALSE,
  oversold BOOLEAN NOT NULL DEFAULT FALSE,
  warehouse_id BIGINT REFERENCES warehouses(id),
  expires_at BIGINT,        -- holds only
  source_updated_at BIGINT, -- the channel's version of an imported order
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  UNIQUE (channel_id, external_id)
);
CREATE INDEX orders_merchant ON orders (merchant_id, id);
CREATE INDEX orders_attention ON orders (merchant_id, needs_attention);
CREATE INDEX orders_holds ON orders (kind, state, expires_at);

-- order_lines are the lines as ordered: a product, a bundle or a listing.
CREATE TABLE order_lines (
  order_id BIGINT NOT NULL REFERENCES orders(id),
  line_no BIGINT NOT NULL,
  product_id BIGINT REFERENCES products(id), -- NULL while its listing is not linked
  listing TEXT,
  quantity BIGINT NOT NULL,
  shipped BIGINT NOT NULL DEFAULT 0,
  cancelled BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (order_id, line_no)
);

-- order_units expand each line into the products it takes (a bundle: its
-- components), with the allocation each consumed.
CREATE TABLE order_units (
  order_id BIGINT NOT NULL REFERENCES orders(id),
  line_no BIGINT NOT NULL,
  product_id BIGINT NOT NULL REFERENCES products(id),
  per_line BIGINT NOT NULL,
  allocation_id BIGINT REFERENCES allocations(id),
  PRIMARY KEY (order_id, line_no, product_id)
);
CREATE INDEX order_units_product ON order_units (product_id);

CREATE TABLE history (
  id INTEGER PRIMARY KEY,
  merchant_id BIGINT NOT NULL REFERENCES merchants(id),
  at BIGINT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  sku TEXT,
  channel TEXT,
  summary TEXT NOT NULL,
  detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX history_merchant ON history (merchant_id, id);
CREATE INDEX history_sku ON history (merchant_id, sku, id);
CREATE INDEX history_channel ON history (merchant_id, channel, id);
