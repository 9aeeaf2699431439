package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
)

// insertRows inserts rows of equal width, given as "INSERT INTO table
// (columns) VALUES " and an optional suffix (an ON CONFLICT clause, say),
// in the order given, which is the order their row locks are taken in. On
// PostgreSQL the rows go as one array a column, thousands a statement
// (see arrayInserts); on SQLite 64 a statement, through one text prepared
// once (see inserts).
func (tx *Tx) insertRows(prefix string, rows [][]any, suffix ...string) error {
	stmts, err := tx.inserts(prefix, rows, strings.Join(suffix, ""))
	if err != nil {
		return err
	}
	if tx.d.name() == "postgres" {
		return tx.queue(stmts) // sent with the next statement (see later.go)
	}
	return tx.execAll(stmts)
}

// execAll runs statements.
func (tx *Tx) execAll(stmts []statement) error {
	for _, st := range stmts {
		stmt, err := tx.prepared(st.q)
		if err != nil {
			return err
		}
		if _, err := stmt.ExecContext(tx.ctx, st.args...); err != nil {
			return err
		}
	}
	return nil
}

// runner runs one statement: a *sql.Stmt, or a text run as it comes.
type runner interface {
	ExecContext(context.Context, ...any) (sql.Result, error)
	QueryContext(context.Context, ...any) (*sql.Rows, error)
	QueryRowContext(context.Context, ...any) *sql.Row
}

// prepared is q prepared once in this transaction (which closes it as it
// ends), for the statements SQLite runs again and again. On PostgreSQL,
// where pgx prepares and caches every statement itself, a statement is
// run in one call, without preparing it first.
func (tx *Tx) prepared(q string) (runner, error) {
	tx.noteWrite(q)
	if tx.d.name() == "postgres" {
		return direct{tx, q}, nil
	}
	if st, ok := tx.stmts[q]; ok {
		return st, nil
	}
	var st *sql.Stmt
	if shared := tx.shared.get(tx.ctx, q); shared != nil {
		st = tx.tx.(*sql.Tx).StmtContext(tx.ctx, shared) // SQLite's transactions are a *sql.Tx
	} else {
		var err error
		if st, err = tx.tx.PrepareContext(tx.ctx, q); err != nil {
			return nil, err
		}
	}
	if tx.stmts == nil {
		tx.stmts = map[string]*sql.Stmt{}
	}
	tx.stmts[q] = st
	return st, nil
}

// direct runs a statement text in a transaction.
type direct struct {
	tx *Tx
	q  string
}

func (d direct) ExecContext(ctx context.Context, args ...any) (sql.Result, error) {
	c, err := d.tx.conn()
	if err != nil {
		return nil, err
	}
	return c.ExecContext(ctx, d.q, args...)
}

func (d direct) QueryContext(ctx context.Context, args ...any) (*sql.Rows, error) {
	c, err := d.tx.conn()
	if err != nil {
		return nil, err
	}
	return c.QueryContext(ctx, d.q, args...)
}

// QueryRowContext runs the query even when the inserts sent before it
// failed: the transaction is aborted then, so the row's error says so, and
// the transaction returns the inserts' error (see laterErr).
func (d direct) QueryRowContext(ctx context.Context, args ...any) *sql.Row {
	d.tx.sendLater()
	return d.tx.tx.QueryRowContext(ctx, d.q, args...)
}

// insertReturning is insertRows with a RETURNING clause, whose rows scan
// reads one at a time.
func (tx *Tx) insertReturning(prefix string, rows [][]any, returning string, scan func(*sql.Rows) error) error {
	stmts, err := tx.inserts(prefix, rows, " RETURNING "+returning)
	if err != nil {
		return err
	}
	for _, st := range stmts {
		stmt, err := tx.prepared(st.q)
		if err != nil {
			return err
		}
		rs, err := stmt.QueryContext(tx.ctx, st.args...)
		if err != nil {
			return err
		}
		for rs.Next() {
			if err := scan(rs); err != nil {
				rs.Close()
				return err
			}
		}
		if err := closeRows(rs); err != nil {
			return err
		}
	}
	return nil
}

type statement struct {
	q    string
	args []any
}

// inserts writes the statements that insert rows.
func (tx *Tx) inserts(prefix string, rows [][]any, suffix string) ([]statement, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	if tx.inserted == nil {
		tx.inserted = map[string]int{}
	}
	tx.inserted[tableOf(prefix)] += len(rows)
	if tx.d.name() == "postgres" {
		return tx.arrayInserts(prefix, rows, suffix)
	}
	// SQLite runs in this process: no round trip to save, but each
	// statement run costs a call through database/sql and the driver. So
	// rows go sqliteRows a statement, through one text prepared once per
	// transaction, and the last few one at a time. Its placeholders are
	// "?": the driver binds them by position, where it would look up the
	// name of each "$n" among all of the statement's.
	var out []statement
	i := 0
	if len(rows) >= sqliteRows {
		q := valuesStatement(prefix, len(rows[0]), sqliteRows, suffix)
		for ; i+sqliteRows <= len(rows); i += sqliteRows {
			args := make([]any, 0, sqliteRows*len(rows[0]))
			for _, r := range rows[i : i+sqliteRows] {
				args = append(args, r...)
			}
			out = append(out, statement{q, args})
		}
	}
	if i < len(rows) {
		q := valuesStatement(prefix, len(rows[0]), 1, suffix)
		for _, r := range rows[i:] {
			out = append(out, statement{q, r})
		}
	}
	return out, nil
}

// sqliteRows is how many rows one SQLite insert carries.
const sqliteRows = 64

// valuesStatement is prefix followed by n rows of width placeholders and
// suffix.
func valuesStatement(prefix string, width, n int, suffix string) string {
	row := "(" + strings.Repeat("?,", width-1) + "?)"
	var b strings.Builder
	b.Grow(len(prefix) + n*(len(row)+1) + len(suffix))
	b.WriteString(prefix)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(row)
	}
	b.WriteString(suffix)
	return b.String()
}

// tableOf is the table an "INSERT INTO table (…" statement writes.
func tableOf(insert string) string {
	_, table := writeTarget(insert)
	return table
}

// columnsOf is the column list of an "INSERT INTO table (a, b) VALUES "
// statement.
func columnsOf(insert string) []string {
	_, rest, _ := strings.Cut(insert, "(")
	list, _, _ := strings.Cut(rest, ")")
	cols := strings.Split(list, ",")
	for i := range cols {
		cols[i] = strings.TrimSpace(cols[i])
	}
	return cols
}

// arrayRows is how many rows one array statement carries.
const arrayRows = 5000

// arrayInserts are the inserts of PostgreSQL: INSERT … SELECT FROM
// unnest($1::bigint[], $2::text[], …), a typed array a column. The text
// is the same whatever the number of rows, so it is prepared once per
// connection and planned once, where a VALUES list of a new length is
// parsed and planned anew, and its parameters (one an array, not one a
// value) cost the server far less to read.
func (tx *Tx) arrayInserts(prefix string, rows [][]any, suffix string) ([]statement, error) {
	table, cols := tableOf(prefix), columnsOf(prefix)
	types := make([]string, len(cols))
	for i, c := range cols {
		t, err := tx.db.columnType(tx, table, c)
		if err != nil {
			return nil, fmt.Errorf("insert into %s: %w", table, err)
		}
		types[i] = t
	}
	var q strings.Builder
	fmt.Fprintf(&q, "INSERT INTO %s (%s) SELECT * FROM unnest(", table, strings.Join(cols, ", "))
	for i, t := range types {
		if i > 0 {
			q.WriteString(", ")
		}
		fmt.Fprintf(&q, "$%d::%s[]", i+1, t)
	}
	q.WriteString(")")
	q.WriteString(suffix)
	var out []statement
	for start := 0; start < len(rows); start += arrayRows {
		part := rows[start:min(len(rows), start+arrayRows)]
		args := make([]any, len(cols))
		for j, t := range types {
			col, err := column(t, part, j)
			if err != nil {
				return nil, fmt.Errorf("insert into %s, column %s: %w", table, cols[j], err)
			}
			args[j] = col
		}
		out = append(out, statement{q.String(), args})
	}
	return out, nil
}

// column gathers column j of rows as a slice of the column's type; nil is
// NULL.
func column(typ string, rows [][]any, j int) (any, error) {
	switch typ {
	case "bigint":
		return gather(rows, j, func(v any) (int64, bool) {
			switch n := v.(type) {
			case int64:
				return n, true
			case int:
				return int64(n), true
			}
			return 0, false
		})
	case "text":
		return gather(rows, j, func(v any) (string, bool) { s, ok := v.(string); return s, ok })
	case "boolean":
		return gather(rows, j, func(v any) (bool, bool) { b, ok := v.(bool); return b, ok })
	}
	return nil, fmt.Errorf("no arrays of %s", typ)
}

// gather is column for one Go type, as converts a value to: a []T, which
// pgx encodes without reflection, unless a value is NULL, then a []*T.
func gather[T any](rows [][]any, j int, as func(any) (T, bool)) (any, error) {
	vals := make([]T, len(rows))
	nulls := false
	for i, r := range rows {
		if r[j] == nil {
			nulls = true
			continue
		}
		v, ok := as(r[j])
		if !ok {
			return nil, fmt.Errorf("%T for a %T", r[j], v)
		}
		vals[i] = v
	}
	if !nulls {
		return vals, nil
	}
	out := make([]*T, len(rows))
	for i, r := range rows {
		if r[j] != nil {
			out[i] = &vals[i]
		}
	}
	return out, nil
}

// columnTypes holds the type of every column of the schema, read once
// (and again if a column is missing: a migration ran since).
type columnTypes struct {
	mu    sync.Mutex
	types map[string]string // "table.column" → "bigint", "text", "boolean"
}

func (db *DB) columnType(tx *Tx, table, col string) (string, error) {
	c := &db.cols
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.types[table+"."+col]; ok {
		return t, nil
	}
	rows, err := tx.tx.QueryContext(tx.ctx, `SELECT table_name, column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema()`)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	types := map[string]string{}
	for rows.Next() {
		var t, name, typ string
		if err := rows.Scan(&t, &name, &typ); err != nil {
			return "", err
		}
		types[t+"."+name] = typ
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	c.types = types
	if t, ok := types[table+"."+col]; ok {
		return t, nil
	}
	return "", fmt.Errorf("the type of column %s is not known", col)
}
