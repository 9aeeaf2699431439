package store

import (
	"context"
	"database/sql"
	"time"
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

// PublicationsOfPlanForTest is how SQLite runs PublicationsOf's query,
// as EXPLAIN QUERY PLAN describes it, a line per step.
func (tx *Tx) PublicationsOfPlanForTest(channelID int64, ids []int64) ([]string, error) {
	q, args := publicationsOf(tx.d, tx.M, channelID, ids)
	rows, err := tx.query(`EXPLAIN QUERY PLAN `+q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var steps []string
	for rows.Next() {
		var id, parent, unused int
		var step string
		if err := rows.Scan(&id, &parent, &unused, &step); err != nil {
			return nil, err
		}
		steps = append(steps, step)
	}
	return steps, rows.Err()
}

// SetCheckpointingForTest sets, for the databases opened next, the
// least time between two checkpoints and the length of the log past
// which it is started again, until the returned func restores them.
func SetCheckpointingForTest(gap time.Duration, restartFrames int) (restore func()) {
	old := checkpointing
	checkpointing = checkpointTuning{gap: gap, restartFrames: restartFrames}
	return func() { checkpointing = old }
}

// QueryRowForTest runs a query returning one row in the transaction.
func (tx *Tx) QueryRowForTest(q string, args ...any) *sql.Row { return tx.row(q, args...) }
