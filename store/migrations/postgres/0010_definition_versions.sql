-- A merchant's definitions version: one more each time a transaction that
-- writes channels, warehouses, products, bundles, allocations or pair rules
-- commits. Groups of orders keep the definitions they read between
-- transactions while it is unchanged (see store/definitions.go). No row:
-- version 0. Its row lock is the last a writing transaction takes, just
-- before it commits: two such transactions wait for each other there only.
CREATE TABLE definition_versions (
  merchant_id BIGINT PRIMARY KEY REFERENCES merchants(id),
  version BIGINT NOT NULL
);
