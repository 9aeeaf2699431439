-- A merchant's definitions version: one more each time a transaction that
-- writes channels, warehouses, products, bundles, allocations or pair rules
-- commits. Groups of orders keep the definitions they read between
-- transactions while it is unchanged (see store/definitions.go). No row:
-- version 0.
CREATE TABLE definition_versions (
  merchant_id INTEGER PRIMARY KEY REFERENCES merchants(id),
  version INTEGER NOT NULL
);
