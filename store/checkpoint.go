package store

import (
	"context"
	"database/sql"
	"errors"
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
// write lock, then waits a gap (a second) before the next. Each
// checkpoint copies a page once however many commits wrote it, and syncs
// the database file, which slows the commits that sync the log meanwhile:
// checkpoints ten times a second rather than one had the orders sent one
// at a time wait on them, and took a sixth more of the machine's time
// per steady order.
//
// A passive checkpoint never starts the log again from its beginning:
// the next writer does, if the log was all copied and no reader still
// reads from it, which under a stream of orders with reads beside them
// never happens. The log then grows for as long as the stream lasts (a
// gigabyte in a benchmark's minute), and every commit extends the file,
// whose sync then writes the file's new size too: twice the time of a
// sync over pages written before. So once the log passes 64 MiB,
// the checkpointer takes the write turn, so that no allot writer waits
// on SQLite's busy handler, and asks for a RESTART checkpoint, which
// copies what is left and starts the log again if no reader still
// needs it; it does not use SQLite's busy handler (its connection's busy
// timeout is 0, the handler's sleeps too coarse) but tries again for a
// few milliseconds. The file keeps its size, and later commits write
// over it.
type checkpointer struct {
	pool   *sql.DB
	turn   chan struct{} // the database's write turn
	tuning checkpointTuning
	wake   chan struct{} // a write turn ended since the last checkpoint
	ctx    context.Context
	stop   context.CancelFunc
	done   chan struct{}
	once   sync.Once
	err    error
}

// checkpointTuning is when checkpoints run: gap is the least time
// between two; restartFrames is the length of the log, in frames (a page
// each, 4 KiB and a header), past which it is started again from its
// beginning.
type checkpointTuning struct {
	gap           time.Duration
	restartFrames int
}

// checkpointing is the tuning of the checkpointers started next.
var checkpointing = checkpointTuning{gap: time.Second, restartFrames: 16384}

// restartWait is how long a restart waits, the write turn held, for the
// readers that still read the log to end: readers that begin meanwhile
// read the database file alone, the log being all copied and no commit
// adding to it. A reader longer than that (an export, a drift check's
// read of a whole channel) makes it give up until the next checkpoint.
const restartWait = 5 * time.Millisecond

// startCheckpointer checkpoints on pool, whose connections must not wait
// for busy locks, taking turn (the write turn) to start the log again.
func startCheckpointer(pool *sql.DB, turn chan struct{}) *checkpointer {
	pool.SetMaxOpenConns(1)
	ctx, stop := context.WithCancel(context.Background())
	c := &checkpointer{pool: pool, turn: turn, tuning: checkpointing, wake: make(chan struct{}, 1), ctx: ctx, stop: stop, done: make(chan struct{})}
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
		if frames, err := c.checkpoint("PASSIVE"); err == nil && frames >= c.tuning.restartFrames {
			c.restart()
		}
		select {
		case <-time.After(c.tuning.gap):
		case <-c.ctx.Done():
			return
		}
	}
}

// checkpoint runs a checkpoint of the given mode and returns how many
// frames the log held.
func (c *checkpointer) checkpoint(mode string) (frames int, err error) {
	var busy, copied int
	err = c.pool.QueryRowContext(c.ctx, `PRAGMA wal_checkpoint(`+mode+`)`).Scan(&busy, &frames, &copied)
	if err == nil && busy != 0 {
		err = errBusy
	}
	return frames, err
}

var errBusy = errors.New("sqlite: checkpoint blocked by a reader")

// restart starts the log again from its beginning, holding the write
// turn for up to restartWait while readers keep it from happening.
func (c *checkpointer) restart() {
	select {
	case c.turn <- struct{}{}:
	case <-c.ctx.Done():
		return
	}
	defer func() { <-c.turn }()
	deadline := time.Now().Add(restartWait)
	for {
		_, err := c.checkpoint("RESTART")
		if !errors.Is(err, errBusy) || time.Now().After(deadline) {
			return
		}
		select {
		case <-time.After(250 * time.Microsecond):
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
