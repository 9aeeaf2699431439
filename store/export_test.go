package store

import "context"

// FlushForTest writes what the transaction gathered (its outbox marks, its
// history) before its end, so that a test can hold their row locks.
func (tx *Tx) FlushForTest() error { return tx.flush() }

// MigrateToForTest applies the migrations up to version upTo: a database
// as an older allot left it.
func (db *DB) MigrateToForTest(ctx context.Context, upTo int64) error { return db.migrateTo(ctx, upTo) }
