package store

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// checkpointer copies SQLite's write-ahead log back into the database file
// beside the writer rather than in it. By default the transaction whose
// commit takes the log past 1,000 pages copies them itself, its callers
// waiting: under a stream of orders that was a ninth of the writer's time.
// The write connections turn that off (wal_autocheckpoint(0)); after a
// write turn ends, this one runs a passive checkpoint on a connection of
// its own, which copies what no reader still needs without taking the
// write lock, then waits checkpointGap before the next, so that a stream
// of commits is checkpointed a few times a second.
type checkpointer struct {
	pool *sql.DB
	wake chan struct{} // a write turn ended since the last checkpoint
	ctx  context.Context
	stop context.CancelFunc
	done chan struct{}
	once sync.Once
	err  error
}

// checkpointGap is the least time between two checkpoints.
const checkpointGap = 100 * time.Millisecond

func startCheckpointer(pool *sql.DB) *checkpointer {
	pool.SetMaxOpenConns(1)
	ctx, stop := context.WithCancel(context.Background())
	c := &checkpointer{pool: pool, wake: make(chan struct{}, 1), ctx: ctx, stop: stop, done: make(chan struct{})}
	go c.loop()
	return c
}

// nudge says that a write turn ended: the log may have grown.
func (c *checkpointer) nudge() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *checkpointer) loop() {
	defer close(c.done)
	for {
		select {
		case <-c.wake:
		case <-c.ctx.Done():
			return
		}
		// An error (the file gone, a checkpoint by another process under
		// way) leaves the frames to the next checkpoint, or to SQLite's
		// own when the last connection closes.
		c.pool.ExecContext(c.ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
		select {
		case <-time.After(checkpointGap):
		case <-c.ctx.Done():
			return
		}
	}
}

// close stops the checkpoints and closes their connection; again, it
// does nothing.
func (c *checkpointer) close() error {
	c.once.Do(func() {
		c.stop()
		<-c.done
		c.err = c.pool.Close()
	})
	return c.err
}
