package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/allot/allot"
)

// Tx is one transaction for one merchant. Its methods are the storage
// operations of allot; none of them reads another merchant's rows.
type Tx struct {
	db    *DB
	ctx   context.Context
	tx    session
	d     dialect
	M     int64     // the merchant
	Now   time.Time // the transaction's clock: one instant for all its changes
	Actor string    // who makes the changes, for the history

	history []historyRow
	// touched holds the products whose published quantities this
	// transaction may have changed; touchedAll means every product.
	touched    map[int64]struct{}
	touchedAll bool
	marked     bool // the outbox got marks: the synchronisation has work
	// inserted counts the rows inserted, by table (see analyseAfterBulk).
	inserted map[string]int
	stmts    map[string]*sql.Stmt // prepared in this transaction (SQLite)
	shared   *stmtCache           // statements kept between transactions (SQLite's writes)

	// The merchant's channels and warehouses, as this transaction read
	// them: read once, and forgotten when it writes to either.
	channelsRead   []ChannelRow
	warehousesRead *warehouses
	// defs are the merchant's kept definitions this transaction uses (see
	// KeepDefinitions); defsChanged, that it wrote one of their tables.
	defs        *definitions
	defsChanged bool

	// later are inserts not sent yet, on PostgreSQL; laterErr, the error
	// of the statement that sent some (see later.go).
	later    []statement
	laterErr error
}

// session is where a transaction's statements run: a *sql.Tx, or, for
// PostgreSQL's writes, the *sql.Conn whose transaction DB.run begins and
// ends itself (see commitOn).
type session interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

type warehouses struct {
	ws  []allot.Warehouse
	ids []int64
}

// noteWrite notes what q, about to run, changes: the channels and
// warehouses read once are forgotten when it writes either, and the kept
// definitions (see KeepDefinitions) when it writes one of their tables; the
// transaction then adds one to the merchant's definitions version as it
// commits.
func (tx *Tx) noteWrite(q string) {
	verb, table := writeTarget(q)
	switch {
	case verb == "":
		return
	case table == "channels" || table == "channel_warehouses" || table == "warehouses":
		tx.channelsRead, tx.warehousesRead = nil, nil
	}
	if definitionTables[table] && !(verb == "insert" && table == "products") {
		tx.defsChanged, tx.defs = true, nil
	}
}

// writeTarget returns the verb (insert, update or delete) of a statement
// that writes, and the table it writes; "" for others.
func writeTarget(q string) (verb, table string) {
	f := strings.Fields(q[:min(len(q), 80)])
	if len(f) < 2 {
		return "", ""
	}
	verb = strings.ToLower(f[0])
	switch {
	case verb == "update":
		table = f[1]
	case (verb == "insert" || verb == "delete") && len(f) >= 3:
		table = f[2]
	default:
		return "", ""
	}
	table, _, _ = strings.Cut(table, "(")
	return verb, strings.ToLower(table)
}

type historyRow struct {
	actor, action, sku, channel, summary string
	detail                               any
}

// statement is q ready to run in this transaction: in SQLite's writes,
// kept prepared from one transaction to the next (see stmtCache); else
// run as it comes.
func (tx *Tx) statement(q string) (runner, error) {
	if tx.shared != nil {
		return tx.prepared(q)
	}
	tx.noteWrite(q)
	return direct{tx, q}, nil
}

func (tx *Tx) exec(q string, args ...any) (sql.Result, error) {
	st, err := tx.statement(q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(tx.ctx, args...)
}

// Plan nodes Tx.without turns off.
const (
	nestedLoops = "enable_nestloop"
	bitmapScans = "enable_bitmapscan"
)

// without runs fn with a plan node the planner misjudges turned off
// (see dialect.avoid): nested loops for a read of a whole table joined
// to others, whose size it misjudges; bitmap scans for a queue's first
// rows (see DuePushes).
func (tx *Tx) without(setting string, fn func() error) error {
	c, err := tx.conn()
	if err != nil {
		return err
	}
	if err := tx.d.avoid(tx.ctx, c, setting, true); err != nil {
		return err
	}
	if err := fn(); err != nil {
		return err
	}
	if c, err = tx.conn(); err != nil {
		return err
	}
	return tx.d.avoid(tx.ctx, c, setting, false)
}

func (tx *Tx) query(q string, args ...any) (*sql.Rows, error) {
	st, err := tx.statement(q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(tx.ctx, args...)
}

func (tx *Tx) row(q string, args ...any) *sql.Row {
	st, err := tx.statement(q)
	if err != nil {
		st = direct{tx, q} // a *sql.Row carries the error: run as it comes, it reports it
	}
	return st.QueryRowContext(tx.ctx, args...)
}

// Context is the context the transaction runs under.
func (tx *Tx) Context() context.Context { return tx.ctx }

// Record adds an entry to the audit history, written with the transaction.
// sku and channel may be empty; detail is stored as JSON.
func (tx *Tx) Record(action, sku, channel, summary string, detail any) {
	tx.history = append(tx.history, historyRow{tx.Actor, action, sku, channel, summary, detail})
}

// RecordAs is Record for a change made by another actor than the
// transaction's: one transaction applies many people's orders.
func (tx *Tx) RecordAs(actor, action, sku, channel, summary string, detail any) {
	tx.history = append(tx.history, historyRow{actor, action, sku, channel, summary, detail})
}

// Touch notes that the published quantities of these products may have
// changed.
func (tx *Tx) Touch(ids ...int64) {
	if tx.touched == nil {
		tx.touched = make(map[int64]struct{})
	}
	for _, id := range ids {
		tx.touched[id] = struct{}{}
	}
}

// TouchAll notes that any product's published quantity may have changed.
func (tx *Tx) TouchAll() { tx.touchedAll = true }

// PlannedHere notes that this transaction queued the pushes of these
// products itself, from what it read. With one writer at a time (SQLite:
// every write transaction holds the writer lock from its start) nothing
// else committed while it read, so what it queued is what a plan after
// its commit would queue, and they need no outbox mark; later touches
// mark them again. On PostgreSQL the marks stay: a change committed while
// the transaction ran (an allocation, which does not lock products) may
// be missing from what it read.
func (tx *Tx) PlannedHere(ids []int64) {
	if !tx.d.oneWriter() {
		return
	}
	for _, id := range ids {
		delete(tx.touched, id)
	}
}

// Touched returns the products touched so far, ascending, and whether all were.
func (tx *Tx) Touched() ([]int64, bool) {
	ids := make([]int64, 0, len(tx.touched))
	for id := range tx.touched {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, tx.touchedAll
}

// LockProducts serialises this transaction with every other that checks or
// changes these products' quantities (see dialect.lockProducts).
func (tx *Tx) LockProducts(ids []int64) error {
	c, err := tx.conn()
	if err != nil {
		return err
	}
	return tx.d.lockProducts(tx.ctx, c, lockOrder(ids))
}

// lockOrder is ids ascending, once each: the order every transaction
// takes products' locks in, so that none waits on another in a circle.
func lockOrder(ids []int64) []int64 {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	return slices.Compact(ids)
}

// LockMerchant serialises this transaction with every other that locks the
// merchant: allocation changes, whose conflict check must see them all.
func (tx *Tx) LockMerchant() error {
	c, err := tx.conn()
	if err != nil {
		return err
	}
	return tx.d.lockMerchant(tx.ctx, c, tx.M)
}

// flush writes what the transaction gathered: its history, and the outbox
// marks of the products whose quantities it may have changed, so that the
// synchronisation learns of every change in the change's own transaction.
func (tx *Tx) flush() error {
	if err := tx.lastWrites(); err != nil {
		return err
	}
	return tx.sendLater()
}

// lastWrites queues what a transaction writes as it ends: its outbox
// marks, its definitions version, its history.
func (tx *Tx) lastWrites() error {
	if err := tx.markDirty(); err != nil {
		return err
	}
	if tx.defsChanged && tx.M != 0 {
		if _, err := tx.exec(`INSERT INTO definition_versions (merchant_id, version) VALUES ($1, 1)
			ON CONFLICT (merchant_id) DO UPDATE SET version = definition_versions.version + 1`, tx.M); err != nil {
			return err
		}
		tx.defsChanged = false
	}
	return tx.writeHistory()
}

// writeHistory queues the inserts of the history recorded so far.
func (tx *Tx) writeHistory() error {
	rows := make([][]any, 0, len(tx.history))
	for _, h := range tx.history {
		detail := []byte("{}")
		if h.detail != nil {
			var err error
			if detail, err = json.Marshal(h.detail); err != nil {
				return err
			}
		}
		rows = append(rows, []any{tx.M, micros(tx.Now), h.actor, h.action, nullString(h.sku), nullString(h.channel), h.summary, string(detail)})
	}
	if err := tx.insertRows(`INSERT INTO history (merchant_id, at, actor, action, sku, channel, summary, detail) VALUES `, rows); err != nil {
		return err
	}
	tx.history = nil
	return nil
}

// WriteNow writes, on PostgreSQL, the inserts that wait to be sent with
// the transaction's next statement (later.go), and the history recorded
// so far: a group of orders writes its orders before it locks their
// products, not while it holds the locks. SQLite's inserts are not kept
// waiting: its history is written at the commit.
func (tx *Tx) WriteNow() error {
	if tx.d.name() != "postgres" {
		return nil
	}
	if err := tx.writeHistory(); err != nil {
		return err
	}
	return tx.sendLater()
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// markDirty records the touched products in the outbox (sync_dirty);
// product 0 stands for all of them.
func (tx *Tx) markDirty() error {
	if tx.M == 0 {
		return nil
	}
	ids, all := tx.Touched()
	if all {
		ids = []int64{0}
	}
	now := micros(tx.Now)
	rows := make([][]any, len(ids))
	for i, id := range ids {
		rows[i] = []any{tx.M, id, 1, now}
	}
	// In product order: the order in which every transaction takes their
	// row locks.
	if err := tx.insertRows(`INSERT INTO sync_dirty (merchant_id, product_id, version, since) VALUES `, rows,
		` ON CONFLICT (merchant_id, product_id) DO UPDATE SET version = sync_dirty.version + 1`); err != nil {
		return err
	}
	tx.marked = tx.marked || len(ids) > 0
	tx.touched, tx.touchedAll = nil, false
	return nil
}

// closeRows closes rows read to the end (or left early) and returns the
// error that ended them, if any: once Next has met an error it closes the
// rows itself, and a later Close reports nothing.
func closeRows(rows *sql.Rows) error {
	if err := rows.Close(); err != nil {
		return err
	}
	return rows.Err()
}
