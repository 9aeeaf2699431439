package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect is what differs between the engines. Everything else, the query
// texts included, is shared.
type dialect interface {
	name() string
	// open returns the pool for writes and the pool for reads.
	open(dsn string) (write, read *sql.DB, err error)
	isolation(readOnly bool) sql.IsolationLevel
	// lockProducts serialises the transactions that check or change the
	// quantities of these products, so that no two placed orders both take
	// the last unit. The caller passes ids in ascending order.
	lockProducts(ctx context.Context, tx session, ids []int64) error
	// lockMerchant serialises a merchant's changes to allocations, whose
	// conflict check reads what it is about to write.
	lockMerchant(ctx context.Context, tx session, m int64) error
	lockMigrations(ctx context.Context, tx session) error
	// clearMarks deletes the outbox marks of merchant m whose product and
	// version are at the same index of products and versions.
	clearMarks(ctx context.Context, tx session, m int64, products, versions []int64) error
	// recordPushed records on each listing's pending row the quantity the
	// channel now shows, at now, and marks the push done unless a newer
	// value replaced it (its version is no longer the one pushed). A
	// listing without a row (a publication that no push of allot's made)
	// gets a done one.
	recordPushed(ctx context.Context, tx session, m, now int64, rows []pushedRow) error
	retryable(err error) bool
	// avoid turns a plan node the planner misjudges (enable_nestloop,
	// enable_bitmapscan) off, or on again, for the rest of the
	// transaction (see Tx.without).
	avoid(ctx context.Context, tx session, setting string, off bool) error
	// oneWriter is whether write transactions run one at a time, each
	// seeing every write committed before it and none during it.
	oneWriter() bool
}

// sqlite: one write transaction at a time (DB.writeTurn in the process,
// and, between processes, SQLite's own lock: transactions begin
// IMMEDIATE, so they never deadlock on an upgrade); WAL lets readers run
// beside it; synchronous=FULL makes every commit durable before it
// returns.
type sqlite struct{}

func (sqlite) name() string { return "sqlite" }

// sqliteDSN is the driver's name of the database file at path, with the
// pragmas of every connection. busy_timeout first: the pragmas after it
// wait for another process's lock instead of failing at once.
// temp_store(MEMORY): the statement journal of an upsert of many rows
// (what undoes the statement alone if it fails) is kept in memory, not
// written to a temporary file: a twentieth of the writer's time.
func sqliteDSN(path string) string {
	return "file:" + (&url.URL{Path: sqlitePath(path)}).EscapedPath() + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)&_pragma=temp_store(MEMORY)"
}

// sqlitePath is the file path of a SQLite dsn.
func sqlitePath(dsn string) string {
	return strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite://"), "file:")
}

func (sqlite) open(path string) (*sql.DB, *sql.DB, error) {
	if sqlitePath(path) == "" {
		return nil, nil, fmt.Errorf("sqlite: empty database path")
	}
	base := sqliteDSN(path)
	// The log is checkpointed beside the writer (see checkpointer), not
	// by the commit that fills it. The writer keeps up to 64 MiB of pages
	// (2 MiB by default): under a stream of orders over a large catalogue
	// it read the same index pages from the file again and again, a tenth
	// of its time; readers, which come and go, 16 MiB.
	w, err := sql.Open("sqlite", base+"&_txlock=immediate&_pragma=wal_autocheckpoint(0)&_pragma=cache_size(-65536)")
	if err != nil {
		return nil, nil, err
	}
	// One writer at a time, by DB.writeTurn; the second connection is
	// where statements kept for every transaction are first prepared
	// (see stmtCache).
	w.SetMaxOpenConns(2)
	w.SetMaxIdleConns(2)
	w.SetConnMaxIdleTime(0)
	r, err := sql.Open("sqlite", base+"&_pragma=query_only(1)&_pragma=cache_size(-16384)")
	if err != nil {
		w.Close()
		return nil, nil, err
	}
	r.SetMaxOpenConns(4)
	return w, r, nil
}

func (sqlite) isolation(bool) sql.IsolationLevel { return sql.LevelDefault }

func (sqlite) oneWriter() bool { return true }

func (sqlite) avoid(context.Context, session, string, bool) error { return nil }

func (sqlite) lockProducts(context.Context, session, []int64) error { return nil }

func (sqlite) lockMerchant(context.Context, session, int64) error { return nil }

func (sqlite) lockMigrations(context.Context, session) error { return nil }

// clearMarks and recordPushed: one writer, so no lock to wait for; a
// statement a row, prepared once.
func (sqlite) clearMarks(ctx context.Context, tx session, m int64, products, versions []int64) error {
	return execPairs(ctx, tx, `DELETE FROM sync_dirty WHERE merchant_id = $1 AND product_id = $2 AND version = $3`, m, products, versions)
}

func (sqlite) recordPushed(ctx context.Context, tx session, m, now int64, rows []pushedRow) error {
	st, err := tx.PrepareContext(ctx, `INSERT INTO sync_pending (listing_id, channel_id, merchant_id, quantity, version, due_at, first_at, done, published, pushed_at)
		VALUES ($2, $3, $1, $4, $5, 0, 0, TRUE, $4, $6)
		ON CONFLICT (listing_id) DO UPDATE SET published = excluded.published, pushed_at = excluded.pushed_at,
		done = sync_pending.done OR sync_pending.version = excluded.version`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, r := range rows {
		if _, err := st.ExecContext(ctx, m, r.listing, r.channel, r.quantity, r.version, now); err != nil {
			return err
		}
	}
	return nil
}

// execPairs runs q (merchant, a[i], b[i]) for each i.
func execPairs(ctx context.Context, tx session, q string, m int64, a, b []int64) error {
	st, err := tx.PrepareContext(ctx, q)
	if err != nil {
		return err
	}
	defer st.Close()
	for i := range a {
		if _, err := st.ExecContext(ctx, m, a[i], b[i]); err != nil {
			return err
		}
	}
	return nil
}

func (sqlite) retryable(err error) bool {
	var e *msqlite.Error
	return errors.As(err, &e) && (e.Code()&0xff == sqlite3.SQLITE_BUSY || e.Code()&0xff == sqlite3.SQLITE_LOCKED)
}

// postgres: READ COMMITTED with explicit row locks on the products and the
// merchant a transaction checks, taken in id order to avoid deadlocks;
// each statement after a lock sees every transaction committed before it.
// The locks are FOR NO KEY UPDATE: they exclude each other, but not the
// KEY SHARE locks that every insert takes on the rows its foreign keys
// name. FOR UPDATE would: an allocation change holding its merchant would
// wait for a group of orders holding their products, which waits to
// insert rows naming that merchant — a deadlock, many a second under
// mixed writes.
type postgres struct{}

func (postgres) name() string { return "postgres" }

func (postgres) open(dsn string) (*sql.DB, *sql.DB, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, nil, err
	}
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(32)
	return db, db, nil
}

func (postgres) isolation(readOnly bool) sql.IsolationLevel {
	if readOnly {
		return sql.LevelRepeatableRead // one snapshot for the whole read
	}
	return sql.LevelReadCommitted
}

func (postgres) oneWriter() bool { return false }

func (postgres) avoid(ctx context.Context, tx session, setting string, off bool) error {
	value := "on"
	if off {
		value = "off"
	}
	_, err := tx.ExecContext(ctx, `SET LOCAL `+setting+` = `+value)
	return err
}

func (postgres) lockProducts(ctx context.Context, tx session, ids []int64) error {
	// ids are sorted: the locks are taken in id order, part after part,
	// so that two transactions never wait on each other in a circle; a
	// part stays well under the protocol's 65,535 parameters.
	for part := range slices.Chunk(ids, lockPart) {
		rows, err := tx.QueryContext(ctx, lockProductsQuery, part)
		if err != nil {
			return err
		}
		if err := closeRows(rows); err != nil {
			return err
		}
	}
	return nil
}

// lockProductsQuery locks the products of $1 on PostgreSQL, lockPart at
// most at a time.
const (
	lockProductsQuery = `SELECT id FROM products WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE`
	lockPart          = 10_000
)

func (postgres) lockMerchant(ctx context.Context, tx session, m int64) error {
	_, err := tx.ExecContext(ctx, `SELECT id FROM merchants WHERE id = $1 FOR NO KEY UPDATE`, m)
	return err
}

// clearMarks and recordPushed first lock the rows they may change, in
// product (listing) order, the order in which every write that marks
// products (queues pushes) takes them, so that they never wait on each
// other in a circle; then they change those whose version is still the
// one the plan (the push) read. A row marked again while they waited for
// it has a newer version and stays (a pending push keeps waiting, with
// the publication recorded beside it).
func (postgres) clearMarks(ctx context.Context, tx session, m int64, products, versions []int64) error {
	if _, err := tx.ExecContext(ctx, `SELECT 1 FROM sync_dirty WHERE merchant_id = $1 AND product_id = ANY($2::bigint[])
		ORDER BY product_id FOR UPDATE`, m, products); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM sync_dirty d USING unnest($2::bigint[], $3::bigint[]) x(product_id, version)
		WHERE d.merchant_id = $1 AND d.product_id = x.product_id AND d.version = x.version`, m, products, versions)
	return err
}

func (postgres) recordPushed(ctx context.Context, tx session, m, now int64, rows []pushedRow) error {
	n := len(rows)
	listings, channels, versions, quantities := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	for i, r := range rows {
		listings[i], channels[i], versions[i], quantities[i] = r.listing, r.channel, r.version, r.quantity
	}
	if _, err := tx.ExecContext(ctx, `SELECT 1 FROM sync_pending WHERE merchant_id = $1 AND listing_id = ANY($2::bigint[])
		ORDER BY listing_id FOR NO KEY UPDATE`, m, listings); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO sync_pending (listing_id, channel_id, merchant_id, quantity, version, due_at, first_at, done, published, pushed_at)
		SELECT x.listing_id, x.channel_id, $1, x.quantity, x.version, 0, 0, TRUE, x.quantity, $2
		FROM unnest($3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[]) x(listing_id, channel_id, version, quantity)
		ON CONFLICT (listing_id) DO UPDATE SET published = excluded.published, pushed_at = excluded.pushed_at,
		done = sync_pending.done OR sync_pending.version = excluded.version`, m, now, listings, channels, versions, quantities)
	return err
}

func (postgres) lockMigrations(ctx context.Context, tx session) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(727001)`)
	return err
}

// retryable: serialization failures and deadlocks, and unique violations:
// two processes that both found no row (an order, a product) and both
// inserted it; run again, the loser finds the winner's row and takes the
// path for an existing one, which is how imports stay idempotent across
// processes.
func (postgres) retryable(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && (e.Code == "40001" || e.Code == "40P01" || e.Code == "23505")
}

// inList returns the condition that a column is one of ids, with its
// arguments numbered from first: one typed array on PostgreSQL; on SQLite
// one JSON array of ids, or a parameter a string. The caller writes
// "col " + the condition.
func inList[T int64 | string](d dialect, first int, ids []T) (string, []any) {
	if d.name() == "postgres" {
		// One array: the statement's text is the same for any number of
		// values, so it is prepared and planned once.
		typ := "bigint"
		if _, ok := any(ids).([]string); ok {
			typ = "text"
		}
		return fmt.Sprintf("= ANY($%d::%s[])", first, typ), []any{ids}
	}
	if list, ok := jsonList(ids); ok {
		// One JSON array, whose elements json_each lists: one parameter,
		// and a text that does not change with the number of values.
		// (SQLite's parser finds each numbered parameter by a linear
		// search: a statement of thousands of them takes quadratic time
		// to prepare.)
		return fmt.Sprintf("IN (SELECT value FROM json_each($%d))", first), []any{list}
	}
	// Strings JSON would not carry unchanged: a parameter each.
	var b strings.Builder
	args := make([]any, len(ids))
	b.WriteString("IN (")
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "$%d", first+i)
		args[i] = id
	}
	b.WriteByte(')')
	return b.String(), args
}

// jsonList writes ids as a JSON array whose elements SQLite's json_each
// gives back unchanged: numbers, or strings of valid UTF-8 with no
// control characters (json_each would turn invalid bytes into U+FFFD,
// and a NUL ends a text value for some of SQLite's functions). ok is
// false if a string would not come back as it went.
func jsonList[T int64 | string](ids []T) (string, bool) {
	list := make([]byte, 0, 12*len(ids)+2)
	list = append(list, '[')
	for i, id := range ids {
		if i > 0 {
			list = append(list, ',')
		}
		switch v := any(id).(type) {
		case int64:
			list = strconv.AppendInt(list, v, 10)
		case string:
			if !utf8.ValidString(v) || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 }) {
				return "", false
			}
			list = append(list, '"')
			for j := range len(v) {
				if v[j] == '"' || v[j] == '\\' {
					list = append(list, '\\')
				}
				list = append(list, v[j])
			}
			list = append(list, '"')
		}
	}
	return string(append(list, ']')), true
}

// FreshSchema empties the PostgreSQL schema (dropping and creating it) on
// the server of url, and returns a URL whose connections use it. The demo
// runs in one so that it never touches the rest of a database.
func FreshSchema(ctx context.Context, url, schema string) (string, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return "", err
	}
	defer db.Close()
	quoted := `"` + strings.ReplaceAll(schema, `"`, `""`) + `"`
	if _, err := db.ExecContext(ctx, `DROP SCHEMA IF EXISTS `+quoted+` CASCADE`); err != nil {
		return "", fmt.Errorf("reset schema %s: %w", schema, err)
	}
	if _, err := db.ExecContext(ctx, `CREATE SCHEMA `+quoted); err != nil {
		return "", fmt.Errorf("create schema %s: %w", schema, err)
	}
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + "search_path=" + schema, nil
}
