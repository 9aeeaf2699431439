package store

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Inserts sent together. On PostgreSQL each statement is a round trip to
// the server, and a group of orders holds its products' row locks through
// all of its writes: the orders, their lines and units, the counters, the
// outbox marks, the history. Under load the round trips, not the server's
// work, made most of the time the locks were held (a flash sale's group
// spent about 2.5 ms of 9 in the server). So on PostgreSQL insertRows does
// not send its statements at once: they wait in Tx.later, and the
// transaction's next statement, or its commit, first sends all that wait
// as one statement, each insert a data-modifying WITH clause of it.
//
// Nothing the transaction reads is missed: every statement it runs goes
// through Tx.conn, which sends what waits first. The inserts of one WITH
// see the same snapshot, not each other's rows: two inserts into one table
// (an upsert of a row the other wrote) are never sent together, nor two
// upserts (see locks). An insert's error comes back from the statement
// that sent it, and the transaction returns it (see Tx.cause).

// queue adds inserts to those waiting. An insert into a table one of them
// writes, or an upsert while another waits, sends those first.
func (tx *Tx) queue(stmts []statement) error {
	for _, st := range stmts {
		if !joins(tx.later, st) {
			if err := tx.sendLater(); err != nil {
				return err
			}
		}
		tx.noteWrite(st.q)
		tx.later = append(tx.later, st)
	}
	return nil
}

// joins is whether st may be sent with the inserts that wait: it writes
// none of their tables, and is not an upsert that locks while one of them
// is.
func joins(waiting []statement, st statement) bool {
	_, table := writeTarget(st.q)
	return !slices.ContainsFunc(waiting, func(w statement) bool {
		_, t := writeTarget(w.q)
		return t == table || locks(w.q, t) && locks(st.q, table)
	})
}

// locks is whether q, an insert into table, may lock rows another
// transaction waits for while it holds a lock of its own: an upsert, but
// for those of underProductLock. The server runs the clauses of one WITH
// in an order of its own, so at most one of them takes such locks: the
// transaction then takes its locks in the order of its statements, as
// every other transaction does (see clearMarks), and none waits on
// another in a circle.
func locks(q, table string) bool {
	return strings.Contains(q, "DO UPDATE") && !underProductLock[table]
}

// underProductLock are the tables whose rows only a transaction holding
// their product's lock writes (ARCHITECTURE.md, invariant 1): the
// counters. Only one transaction at a time may want such a row's lock,
// the one that holds the product's, so an upsert of them makes no
// transaction wait on another, whenever the server runs it.
var underProductLock = map[string]bool{"stock": true, "allocation_usage": true}

// sendLater sends the inserts that wait, as one statement.
func (tx *Tx) sendLater() error {
	if len(tx.later) == 0 {
		return nil
	}
	q, args := together(tx.later)
	tx.later = tx.later[:0]
	if _, err := tx.tx.ExecContext(tx.ctx, q, args...); err != nil {
		tx.laterErr = err
		return err
	}
	return nil
}

// cause is the error a transaction that failed with err returns: the
// error of inserts sent late, when there was one, which made err (the
// transaction aborted) and tells what went wrong, and whether to run the
// transaction again (see dialect.retryable).
func (tx *Tx) cause(err error) error {
	if tx.laterErr != nil {
		return tx.laterErr
	}
	return err
}

// conn is the transaction's connection to run a statement on, once the
// inserts that wait are sent.
func (tx *Tx) conn() (session, error) {
	if err := tx.sendLater(); err != nil {
		return nil, err
	}
	return tx.tx, nil
}

// together is one statement that runs sts: all but the last as WITH
// clauses, their parameters numbered after those before them.
func together(sts []statement) (string, []any) {
	if len(sts) == 1 {
		return sts[0].q, sts[0].args
	}
	var b strings.Builder
	var args []any
	for i, st := range sts {
		switch {
		case i == 0:
			b.WriteString("WITH w0 AS (")
		case i < len(sts)-1:
			b.WriteString("), w" + strconv.Itoa(i) + " AS (")
		default:
			b.WriteString(") ")
		}
		renumber(&b, st.q, len(args))
		args = append(args, st.args...)
	}
	return b.String(), args
}

// renumber writes q with each parameter $n written $(n+by). allot's
// statements hold no "$" but in their parameters.
func renumber(b *strings.Builder, q string, by int) {
	for {
		i := strings.IndexByte(q, '$')
		if i < 0 {
			b.WriteString(q)
			return
		}
		b.WriteString(q[:i+1])
		q = q[i+1:]
		j := 0
		for j < len(q) && q[j] >= '0' && q[j] <= '9' {
			j++
		}
		if n, err := strconv.Atoi(q[:j]); err == nil {
			b.WriteString(strconv.Itoa(n + by))
			q = q[j:]
		}
	}
}

// begin begins tx as a database/sql transaction on pool, and returns what
// ends it: a commit, with the inserts that wait sent first, or a rollback.
func (tx *Tx) begin(pool *sql.DB, readOnly bool) (end func(commit bool) error, err error) {
	sqlTx, err := pool.BeginTx(tx.ctx, &sql.TxOptions{ReadOnly: readOnly && tx.d.name() == "postgres",
		Isolation: tx.d.isolation(readOnly)})
	if err != nil {
		return nil, err
	}
	tx.tx = sqlTx
	return func(commit bool) error {
		if !commit {
			return sqlTx.Rollback()
		}
		if err := tx.flush(); err != nil {
			sqlTx.Rollback()
			return err
		}
		return sqlTx.Commit()
	}, nil
}

// beginOn begins tx, a write on PostgreSQL, on a connection of pool by a
// statement of its own, so that its commit goes in one round trip with
// the inserts that wait (commitOn): database/sql commits by a call of its
// own, a round trip more. A group of orders holds its products' locks
// until its commit is done: the last round trip is one of them.
func (tx *Tx) beginOn(pool *sql.DB) (end func(commit bool) error, err error) {
	conn, err := pool.Conn(tx.ctx)
	if err != nil {
		return nil, err
	}
	if _, err := conn.ExecContext(tx.ctx, "BEGIN ISOLATION LEVEL READ COMMITTED"); err != nil {
		discard(conn)
		return nil, err
	}
	tx.tx = conn
	return func(commit bool) error {
		defer conn.Close()
		var err error
		if commit {
			if err = tx.lastWrites(); err == nil {
				return conn.Raw(func(dc any) error { return tx.commitOn(dc.(*stdlib.Conn).Conn()) })
			}
		}
		// The transaction's context may be done: the rollback is not the
		// caller's to cancel. A connection that cannot roll back is not
		// used again.
		if _, rerr := conn.ExecContext(context.Background(), "ROLLBACK"); rerr != nil {
			discard(conn)
		}
		return err
	}, nil
}

// commitOn sends the inserts that wait and the commit as one pipeline on
// c, the transaction's connection, and reads both answers. Whatever
// fails, the connection is left with no transaction open, or is reported
// bad to database/sql, which then closes it.
func (tx *Tx) commitOn(c *pgx.Conn) error {
	b := &pgx.Batch{}
	sent := len(tx.later) > 0
	if sent {
		q, args := together(tx.later)
		tx.later = tx.later[:0]
		b.Queue(q, args...)
	}
	b.Queue("COMMIT")
	results := c.SendBatch(tx.ctx, b)
	var err error
	if sent {
		if _, err = results.Exec(); err != nil {
			tx.laterErr = err
		}
	}
	tag, commitErr := results.Exec()
	if closeErr := results.Close(); err == nil {
		err = cmp.Or(commitErr, closeErr)
	}
	if err == nil && tag.String() != "COMMIT" {
		err = errors.New("the transaction was rolled back at its commit (" + tag.String() + ")")
	}
	// A failed statement of the batch leaves the transaction open, and
	// the commit unsent: rolled back here, the connection stays in use
	// (pgx's database/sql driver would close one left in a transaction).
	if c.PgConn().TxStatus() != 'I' {
		if _, rerr := c.Exec(context.Background(), "ROLLBACK"); rerr != nil {
			return fmt.Errorf("%w (%w)", cmp.Or(err, rerr), driver.ErrBadConn)
		}
	}
	return err
}

// LockAndReadCounters locks the products (LockProducts), then completes s
// with their counters (ReadCounters; s nil: none). A PostgreSQL write
// sends the two statements in one pipeline: the read runs once the locks
// are granted and takes its snapshot then, seeing every commit before
// them, as it does when sent after them; the locks are held one round
// trip less.
func (tx *Tx) LockAndReadCounters(ids []int64, s *Snapshot) error {
	conn, pipelined := tx.tx.(*sql.Conn)
	if !pipelined || len(ids) == 0 || len(ids) > lockPart || s == nil || s.empty {
		if err := tx.LockProducts(ids); err != nil {
			return err
		}
		if s == nil {
			return nil
		}
		return tx.ReadCounters(s)
	}
	if err := tx.sendLater(); err != nil {
		return err
	}
	q, args := tx.countersQuery(s)
	return conn.Raw(func(dc any) error { return tx.lockAndRead(dc.(*stdlib.Conn).Conn(), lockOrder(ids), s, q, args) })
}

// lockAndRead sends the products' lock and the counters' read q as one
// pipeline on c, the transaction's connection, and reads both answers.
// A failure leaves the transaction aborted, for the caller to roll back.
func (tx *Tx) lockAndRead(c *pgx.Conn, ids []int64, s *Snapshot, q string, args []any) error {
	b := &pgx.Batch{}
	b.Queue(lockProductsQuery, ids)
	b.Queue(q, args...)
	results := c.SendBatch(tx.ctx, b)
	locked, err := results.Query()
	if err == nil {
		locked.Close()
		err = locked.Err()
	}
	if err == nil {
		var rows pgx.Rows
		if rows, err = results.Query(); err == nil {
			err = s.scanCounters(rows)
			rows.Close()
			err = cmp.Or(err, rows.Err())
		}
	}
	return cmp.Or(err, results.Close())
}

// discard makes database/sql close conn rather than use it again.
func discard(conn *sql.Conn) {
	conn.Raw(func(any) error { return driver.ErrBadConn })
	conn.Close()
}
