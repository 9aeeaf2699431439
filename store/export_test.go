package store

import (
	"context"
	"database/sql"
)

// FlushForTest writes what the transaction gathered (its outbox marks, its
// history) before its end, so that a test can hold their row locks.
func (tx *Tx) FlushForTest() error { return tx.flush() }

// MigrateToForTest applies the migrations up to version upTo: a database
// as an older allot left it.
func (db *DB) MigrateToForTest(ctx context.Context, upTo int64) error { return db.migrateTo(ctx, upTo) }

// CachedStatementsForTest is how many statement texts SQLite's writes
// keep prepared.
func (db *DB) CachedStatementsForTest() int {
	if db.writeStmts == nil {
		return 0
	}
	db.writeStmts.mu.Lock()
	defer db.writeStmts.mu.Unlock()
	return len(db.writeStmts.m)
}

// ExecForTest runs a statement in the transaction.
func (tx *Tx) ExecForTest(q string, args ...any) (sql.Result, error) { return tx.exec(q, args...) }
