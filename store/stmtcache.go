package store

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// stmtCache keeps, for SQLite's write pool, each statement text prepared
// once for the life of the process rather than once a transaction:
// parsing was a seventh of the writer's time under a stream of orders
// (a 64-row insert has hundreds of parameters to parse). PostgreSQL needs
// none: pgx caches prepared statements per connection itself.
//
// database/sql can only share a statement between transactions if it was
// prepared on the pool, which takes an idle connection; the write pool
// therefore has a spare one, and write transactions take turns on
// DB.writeTurn instead of on a pool of one connection (see
// sqlite.open). A transaction then binds the shared statement to its own
// connection with Tx.StmtContext, which prepares it there the first time
// and reuses it after.
type stmtCache struct {
	pool *sql.DB
	mu   sync.Mutex
	m    map[string]*sql.Stmt
}

// maxCachedStatements bounds the cache: texts that vary with their
// arguments (a list of keys JSON cannot carry) would otherwise fill it.
const maxCachedStatements = 1024

// get returns q prepared on the pool, or nil if it is not cached and
// cannot be now (the cache is full, or no connection is free): the
// caller prepares it in its transaction.
func (c *stmtCache) get(ctx context.Context, q string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[q]; ok {
		return st
	}
	if len(c.m) >= maxCachedStatements {
		return nil
	}
	// The spare connection is idle while writers take turns; should
	// something else hold it, give up rather than wait.
	ctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	st, err := c.pool.PrepareContext(ctx, q)
	if err != nil {
		return nil
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	c.m[q] = st
	return st
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	c.m = nil
}
