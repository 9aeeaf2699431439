// Package store keeps allot's state in SQLite (the embedded default) or
// PostgreSQL. Both engines run the same query texts through database/sql;
// what differs between them (opening, locking, retries, migrations) stays
// in a dialect. Every operation runs in a transaction scoped to one
// merchant, so no query can forget whose data it reads.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/allot/allot"
)

//go:embed migrations
var migrations embed.FS

// DB is an open allot database.
type DB struct {
	// OnMark, when set, is called after a commit that marked products in
	// the outbox, so that the synchronisation starts at once rather than
	// at its next round.
	OnMark func(merchant int64)

	d     dialect
	write *sql.DB // where write transactions run
	read  *sql.DB // where read-only transactions run
	dsn   string

	// SQLite: write transactions take turns on writeTurn (the write pool
	// has a spare connection, to prepare the statements kept in
	// writeStmts; see stmtCache). Nil on PostgreSQL.
	writeTurn  chan struct{}
	writeStmts *stmtCache
	ckpt       *checkpointer

	// Statistics kept fresh after bulk writes (see analyseAfterBulk):
	// per table, the rows this process wrote since it last analysed it,
	// the rows the table held then, and whether an analysis is running.
	mu    sync.Mutex
	stats map[string]*tableStats
	bg    sync.WaitGroup

	cols     columnTypes // PostgreSQL's column types, for inserts of arrays
	defs     definitionsCache
	orderIDs idStock // PostgreSQL's order ids, drawn ahead (see InsertOrders)
}

type tableStats struct {
	written, rows int64
	busy          bool
}

// Open opens the database named by dsn: a postgres:// (or postgresql://)
// URL, or else a SQLite file path. It does not migrate; call Migrate.
func Open(ctx context.Context, dsn string) (*DB, error) {
	var d dialect
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		d = postgres{}
	} else {
		d = sqlite{}
	}
	w, r, err := d.open(dsn)
	if err != nil {
		return nil, err
	}
	db := &DB{d: d, write: w, read: r, dsn: dsn}
	if d.oneWriter() {
		db.writeTurn = make(chan struct{}, 1)
		db.writeStmts = &stmtCache{pool: w}
		c, err := sql.Open("sqlite", sqliteDSN(dsn)+"&_pragma=busy_timeout(0)")
		if err != nil {
			db.Close()
			return nil, err
		}
		db.ckpt = startCheckpointer(c, db.writeTurn)
	}
	// Opening runs the connection's pragmas; turning a new SQLite file to
	// WAL answers "busy" at once, without waiting, while another process
	// does the same: try again for a while.
	for attempt := 0; ; attempt++ {
		err = w.PingContext(ctx)
		if err == nil || !d.retryable(err) || attempt == 100 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s database: %w", d.name(), err)
	}
	return db, nil
}

// OneWriter is whether write transactions run one at a time (SQLite),
// each seeing every write committed before it and none during it.
func (db *DB) OneWriter() bool { return db.d.oneWriter() }

// Engine is "sqlite" or "postgres".
func (db *DB) Engine() string { return db.d.name() }

// Close closes the database.
func (db *DB) Close() error {
	db.bg.Wait()
	if db.writeStmts != nil {
		db.writeStmts.close()
	}
	var err error
	if db.ckpt != nil {
		err = db.ckpt.close()
	}
	err = errors.Join(err, db.write.Close())
	if db.read != db.write {
		err = errors.Join(err, db.read.Close())
	}
	return err
}

// Migrate applies the migrations not yet applied, each in its own
// transaction, and records them. It is safe to call on every start.
func (db *DB) Migrate(ctx context.Context) error { return db.migrateTo(ctx, math.MaxInt64) }

// migrateTo applies the migrations not yet applied up to version upTo.
func (db *DB) migrateTo(ctx context.Context, upTo int64) error {
	dir := "migrations/" + db.d.name()
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	// Under the migrations lock: processes starting together on one
	// PostgreSQL database would otherwise race to create the table.
	err = db.inTx(ctx, db.write, func(tx *sql.Tx) error {
		if err := db.d.lockMigrations(ctx, tx); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`)
		return err
	})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, name := range names {
		var version int64
		if _, err := fmt.Sscanf(name, "%d_", &version); err != nil {
			return fmt.Errorf("migration %s: name must start with its number", name)
		}
		if version > upTo {
			break
		}
		body, err := migrations.ReadFile(dir + "/" + name)
		if err != nil {
			return err
		}
		err = db.inTx(ctx, db.write, func(tx *sql.Tx) error {
			if err := db.d.lockMigrations(ctx, tx); err != nil {
				return err
			}
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`, version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				version, name, micros(time.Now()))
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	return nil
}

// Version returns the newest migration applied, 0 for none.
func (db *DB) Version(ctx context.Context) (int64, error) {
	var v sql.NullInt64
	err := db.read.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v)
	return v.Int64, err
}

func (db *DB) inTx(ctx context.Context, pool *sql.DB, fn func(*sql.Tx) error) error {
	release, err := db.takeTurn(ctx, pool)
	if err != nil {
		return err
	}
	defer release()
	tx, err := pool.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Write runs fn in a write transaction for merchant m, with actor named in
// the history, and commits it; fn's changes are durable once Write returns
// nil. A transaction that the database aborts for a conflict with another
// (PostgreSQL's serialization failures and deadlocks) is run again, so fn
// must not have effects outside tx.
func (db *DB) Write(ctx context.Context, m int64, actor string, now time.Time, fn func(*Tx) error) error {
	for attempt := 0; ; attempt++ {
		err := db.run(ctx, db.write, m, actor, now, false, fn)
		if err == nil || !db.d.retryable(err) || attempt >= 20 {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt+1) * time.Millisecond):
		}
	}
}

// Read runs fn in a read-only transaction for merchant m: one consistent
// snapshot.
func (db *DB) Read(ctx context.Context, m int64, now time.Time, fn func(*Tx) error) error {
	return db.run(ctx, db.read, m, "", now, true, fn)
}

func (db *DB) run(ctx context.Context, pool *sql.DB, m int64, actor string, now time.Time, readOnly bool, fn func(*Tx) error) error {
	release, err := db.takeTurn(ctx, pool)
	if err != nil {
		return err
	}
	defer release()
	tx := &Tx{db: db, ctx: ctx, d: db.d, M: m, Now: now.UTC(), Actor: actor}
	var end func(commit bool) error
	if db.d.name() == "postgres" && !readOnly {
		end, err = tx.beginOn(pool)
	} else {
		end, err = tx.begin(pool, readOnly)
	}
	if err != nil {
		return err
	}
	if pool == db.write {
		tx.shared = db.writeStmts
	}
	ended := false
	defer func() {
		if !ended { // fn panicked
			end(false)
		}
	}()
	err = fn(tx)
	ended = true
	if err != nil {
		end(false)
		return tx.cause(err)
	}
	if err := end(true); err != nil {
		return tx.cause(err)
	}
	db.analyseAfterBulk(tx.inserted)
	if tx.marked && db.OnMark != nil {
		db.OnMark(m)
	}
	return nil
}

// takeTurn waits, on SQLite, until no other write runs on pool (the
// write pool), and returns what ends the turn; other pools, and
// PostgreSQL's, need no turn.
func (db *DB) takeTurn(ctx context.Context, pool *sql.DB) (release func(), err error) {
	if db.writeTurn == nil || pool != db.write {
		return func() {}, nil
	}
	select {
	case db.writeTurn <- struct{}{}:
		return func() { <-db.writeTurn; db.ckpt.nudge() }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// bulkRows is how many rows one transaction writes to a table to make it
// a bulk write, after which PostgreSQL's statistics of the table are
// refreshed, if the rows written since they last were reach a fifth of
// the table's (autovacuum's own rule is a tenth, checked once a minute).
const bulkRows = 1000

// notAnalysed are the tables whose statistics a bulk write does not
// refresh. The queues fill and empty by the minute: statistics taken
// while one is full would mislead the planner once it is empty again.
// The logs only grow, and are read a merchant, SKU or listing at a time
// by index, whatever their size: an analysis of the history after a full
// stock report took 0.8 s of the server's time beside the plan it
// called for.
var notAnalysed = map[string]bool{"sync_pending": true, "sync_dirty": true, "history": true, "publication_log": true}

// analyseAfterBulk refreshes, on PostgreSQL, the statistics of the tables
// a transaction filled in bulk (an import of a whole catalogue, its
// listings, a stock report). Autovacuum does it too, but up to a minute
// later; until then the planner takes a table filled moments ago for the
// near-empty one it last saw, and scans it whole where an index would
// find a few rows. A large table is analysed again only once a fifth of
// it was written since: a table filled 1,000 rows a transaction would
// otherwise be analysed after every one.
//
// A table is never analysed for its first few rows: statistics of a
// table that was tiny then, and grows by the thousand in the next
// seconds (the orders of a flash sale), make the planner scan it whole,
// where a table never analysed is estimated from its current size.
func (db *DB) analyseAfterBulk(inserted map[string]int) {
	if db.d.name() != "postgres" {
		return
	}
	for table, n := range inserted {
		if notAnalysed[table] {
			continue
		}
		db.mu.Lock()
		if db.stats == nil {
			db.stats = map[string]*tableStats{}
		}
		st := db.stats[table]
		if st == nil {
			st = &tableStats{}
			db.stats[table] = st
		}
		st.written += int64(n)
		due := n >= bulkRows && st.written >= max(bulkRows, st.rows/5) && !st.busy
		if due {
			st.busy, st.written = true, 0
		}
		db.mu.Unlock()
		if !due {
			continue
		}
		db.bg.Add(1)
		go func() {
			defer db.bg.Done()
			ctx := context.Background()
			// The name comes from allot's own query texts, never from input.
			var rows float64
			if _, err := db.write.ExecContext(ctx, `ANALYZE `+table); err == nil {
				db.write.QueryRowContext(ctx, `SELECT reltuples FROM pg_class WHERE oid = to_regclass($1)`, table).Scan(&rows)
			}
			db.mu.Lock()
			st.busy, st.rows = false, int64(rows)
			db.mu.Unlock()
		}()
	}
}

// Admin runs fn in a write transaction that belongs to no merchant: for
// creating merchants and tokens.
func (db *DB) Admin(ctx context.Context, fn func(*Tx) error) error {
	return db.Write(ctx, 0, "admin", time.Now(), fn)
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return micros(*t)
}

func timePtr(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

func intPtr(v sql.NullInt64) *int {
	if !v.Valid {
		return nil
	}
	i := int(v.Int64)
	return &i
}

func nullInt(p *int) any {
	if p == nil {
		return nil
	}
	return int64(*p)
}

// notFound is the error for a missing thing, named the way the API names it.
func notFound(what, key string) error {
	return allot.Errorf(allot.NotFound, "%s %q not found", what, key)
}

// Raw is the database/sql pool writes go through, for benchmarks that
// compare allot with plain statements on the same database.
func (db *DB) Raw() *sql.DB { return db.write }
