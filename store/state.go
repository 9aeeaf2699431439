package store

import (
	"database/sql"
	"strconv"
	"strings"

	"github.com/allot/allot"
	"github.com/allot/allot/engine"
)

// Snapshot is an engine.State read from the database, with the ids the
// service needs to write back what it decides.
type Snapshot struct {
	*engine.State
	SKUOf         map[int64]string // product id → SKU
	ProductOf     map[string]int64 // SKU → product id
	WarehouseOf   map[string]int64 // warehouse code → id
	WarehouseCode map[int64]string
	ChannelOf     map[string]ChannelRow

	// What ReadCounters needs: the products read (all of them when not
	// scoped; none at all when empty) and the allocations by id.
	scoped, empty bool
	scope         []int64
	allocByID     map[int64]*engine.Allocation
}

// Snapshot reads what the allocation rules need to compute the quantities of
// the given products and bundles (nil: every one) at tx.Now: stock,
// committed units (live holds included), allocations not yet ended with
// what they consumed, channels and rules. Bundles bring their components.
func (tx *Tx) Snapshot(productIDs []int64) (*Snapshot, error) {
	s, err := tx.SnapshotDefinitions(productIDs)
	if err != nil {
		return nil, err
	}
	return s, tx.ReadCounters(s)
}

// SnapshotDefinitions is the part of a Snapshot that orders do not change:
// channels, warehouses, products and bundles, allocations with their lines,
// rules. ReadCounters completes it with the stock and what orders and
// holds took, once the products are locked: a group of orders reads the
// definitions before it takes the lock, and holds the lock for less.
func (tx *Tx) SnapshotDefinitions(productIDs []int64) (*Snapshot, error) {
	st := &engine.State{Now: tx.Now, Channels: map[string]*engine.Channel{}, SKUs: map[string]*engine.SKU{}}
	s := &Snapshot{State: st, SKUOf: map[int64]string{}, ProductOf: map[string]int64{}, WarehouseOf: map[string]int64{},
		WarehouseCode: map[int64]string{}, ChannelOf: map[string]ChannelRow{}}

	ws, wids, err := tx.Warehouses()
	if err != nil {
		return nil, err
	}
	all := make([]string, len(ws))
	for i, w := range ws {
		all[i] = w.Code
		s.WarehouseOf[w.Code] = wids[i]
		s.WarehouseCode[wids[i]] = w.Code
	}
	channels, err := tx.Channels()
	if err != nil {
		return nil, err
	}
	channelCode := map[int64]string{}
	for _, c := range channels {
		ec := &engine.Channel{Code: c.Code, Warehouses: c.Warehouses, Rules: c.Rules}
		if c.AllWarehouses {
			ec.Warehouses = all
		}
		st.Channels[c.Code] = ec
		s.ChannelOf[c.Code] = c
		channelCode[c.ID] = c.Code
	}

	// The products in scope: those asked for and the components of bundles.
	// Past a few thousand products, reading them all is cheaper than
	// naming each, and stays within the databases' parameter limits.
	if productIDs != nil && len(productIDs) <= maxScoped {
		if tx.defs != nil {
			return s, tx.keptSnapshot(s, productIDs)
		}
		ids, err := tx.withComponents(productIDs)
		if err != nil {
			return nil, err
		}
		s.scoped, s.scope = true, ids
		if len(ids) == 0 {
			s.empty = true
			return s, nil
		}
	}
	each := tx.snapshotQueries(s)

	err = each(`SELECT id, sku FROM products WHERE {m}merchant_id = $1`, "id", []any{tx.M}, func(r *sql.Rows) error {
		var id int64
		var sku string
		if err := r.Scan(&id, &sku); err != nil {
			return err
		}
		s.SKUOf[id], s.ProductOf[sku] = sku, id
		st.SKUs[sku] = &engine.SKU{Code: sku, Stock: map[string]engine.Level{}}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = each(`SELECT b.bundle_id, p.sku, b.quantity FROM bundle_components b JOIN products p ON p.id = b.component_id
		WHERE {m}p.merchant_id = $1`, "b.bundle_id", []any{tx.M}, func(r *sql.Rows) error {
		var id int64
		var c allot.Component
		if err := r.Scan(&id, &c.SKU, &c.Quantity); err != nil {
			return err
		}
		if sku := st.SKUs[s.SKUOf[id]]; sku != nil {
			sku.Components = append(sku.Components, c)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	// Allocations not yet ended, with their lines and usage in scope. On
	// PostgreSQL each statement of a read-committed transaction sees its own
	// snapshot, so rows may name an allocation the first query did not see:
	// they are skipped, and the commit that made them marks the outbox again.
	byID := map[int64]*engine.Allocation{}
	kept, err := tx.readAllocations(tx.Now, channelCode)
	if err != nil {
		return nil, err
	}
	for _, k := range kept {
		a := k.allocation()
		byID[a.ID] = a
		st.Allocations = append(st.Allocations, a)
	}
	if len(byID) > 0 {
		current := `SELECT id FROM allocations WHERE merchant_id = $1 AND (ends_at IS NULL OR ends_at > $2)`
		// {m}: scoped to a few products, the lines are looked up by
		// product, not read whole by allocation (a reserve of 1,000 lines,
		// for the one a group of orders takes).
		err = each(`SELECT allocation_id, product_id, quantity FROM allocation_lines WHERE {m}allocation_id IN (`+current+`)`, "product_id",
			[]any{tx.M, micros(tx.Now)}, func(r *sql.Rows) error {
				var id, pid int64
				var q int
				if err := r.Scan(&id, &pid, &q); err != nil {
					return err
				}
				if a := byID[id]; a != nil {
					a.Lines[s.SKUOf[pid]] = q
				}
				return nil
			})
		if err != nil {
			return nil, err
		}
	}

	err = each(`SELECT r.channel_id, r.product_id, r.percent, r.zero_at, r.max_qty FROM pair_rules r WHERE {m}r.merchant_id = $1`, "r.product_id",
		[]any{tx.M}, func(r *sql.Rows) error {
			var cid, pid int64
			var p, z, m sql.NullInt64
			if err := r.Scan(&cid, &pid, &p, &z, &m); err != nil {
				return err
			}
			sku := st.SKUs[s.SKUOf[pid]]
			if sku == nil {
				return nil
			}
			if sku.Rules == nil {
				sku.Rules = map[string]allot.ChannelRules{}
			}
			sku.Rules[channelCode[cid]] = allot.ChannelRules{Percent: intPtr(p), ZeroAt: intPtr(z), Max: intPtr(m)}
			return nil
		})
	if err != nil {
		return nil, err
	}
	s.allocByID = byID
	return s, nil
}

// ReadCounters completes a snapshot of SnapshotDefinitions: the stock of
// its products, and what open orders, holds and allocations took of it.
// The three are read by one statement, each a part of a UNION ALL whose
// first column says which: a group of orders reads them while it holds
// its products' locks, and on PostgreSQL each statement is a round trip.
func (tx *Tx) ReadCounters(s *Snapshot) error {
	if s.empty {
		return nil
	}
	q, args := tx.countersQuery(s)
	rows, err := tx.query(q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	return s.scanCounters(rows)
}

// countersQuery is the statement of ReadCounters.
func (tx *Tx) countersQuery(s *Snapshot) (string, []any) {
	args := []any{tx.M, micros(tx.Now)}
	m, scope, extra := tx.scopeOf(s, len(args)+1)
	args = append(args, extra...)
	q := `SELECT 0, product_id, warehouse_id, in_warehouse, damaged, committed FROM stock WHERE ` + m + `merchant_id = $1` + scope("product_id")
	if len(s.allocByID) > 0 {
		q += ` UNION ALL SELECT 1, allocation_id, product_id, consumed, 0, 0 FROM allocation_usage
			WHERE ` + m + `allocation_id IN (SELECT id FROM allocations WHERE merchant_id = $1 AND (ends_at IS NULL OR ends_at > $2))` + scope("product_id")
	}
	// Live holds count like orders until they expire; they are summed here
	// rather than kept in the counters, so that expiry needs no write.
	q += ` UNION ALL SELECT 2, u.product_id, COALESCE(o.warehouse_id, 0), COALESCE(u.allocation_id, 0),
		CAST(SUM((l.quantity - l.shipped - l.cancelled) * u.per_line) AS BIGINT), 0
		FROM orders o JOIN order_lines l ON l.order_id = o.id JOIN order_units u ON u.order_id = l.order_id AND u.line_no = l.line_no
		WHERE o.merchant_id = $1 AND o.kind = 'hold' AND o.state = 'open' AND o.expires_at > $2` + scope("u.product_id") + `
		GROUP BY u.product_id, o.warehouse_id, u.allocation_id`
	return q, args
}

// counterRows are the rows of countersQuery, as database/sql or pgx
// gives them.
type counterRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// scanCounters completes s with the rows of countersQuery.
func (s *Snapshot) scanCounters(rows counterRows) error {
	st, byID := s.State, s.allocByID
	const (
		stockRow = iota
		usageRow
		holdRow
	)
	var holds [][4]int64 // product, warehouse, allocation, units
	for rows.Next() {
		var kind int
		var a, b, c, d, e int64
		if err := rows.Scan(&kind, &a, &b, &c, &d, &e); err != nil {
			return err
		}
		switch kind {
		case stockRow: // product, warehouse, in warehouse, damaged, committed
			if sku := st.SKUs[s.SKUOf[a]]; sku != nil {
				sku.Stock[s.WarehouseCode[b]] = engine.Level{InWarehouse: int(c), Damaged: int(d), Committed: int(e)}
			}
		case usageRow: // allocation, product, consumed
			if al := byID[a]; al != nil {
				al.Consumed[s.SKUOf[b]] += int(c)
			}
		case holdRow: // product, warehouse (0: none), allocation (0: none), units
			holds = append(holds, [4]int64{a, b, c, d})
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	// After the stock rows, which the parts of a UNION ALL need not
	// precede.
	for _, h := range holds {
		sku := st.SKUs[s.SKUOf[h[0]]]
		if sku == nil {
			continue
		}
		if h[1] != 0 {
			l := sku.Stock[s.WarehouseCode[h[1]]]
			l.Committed += int(h[3])
			sku.Stock[s.WarehouseCode[h[1]]] = l
		}
		if al := byID[h[2]]; al != nil {
			al.Consumed[sku.Code] += int(h[3])
		}
	}
	return nil
}

// scopeOf is how a query names the products of snapshot s: m prefixes
// its merchant condition, and where(col) is the condition that col is one
// of them, whose arguments (numbered from first) are args; when s is not
// scoped, all three are empty. Scoped to a few products, the merchant
// condition is written +merchant_id, which no index serves: the planners
// (SQLite's always, PostgreSQL's before it has statistics) would otherwise
// walk the merchant's every row by the merchant index rather than look
// the products up by their own.
func (tx *Tx) scopeOf(s *Snapshot, first int) (m string, where func(col string) string, args []any) {
	if !s.scoped {
		return "", func(string) string { return "" }, nil
	}
	in, args := inList(tx.d, first, s.scope)
	return "+", func(col string) string { return " AND " + col + " " + in }, args
}

// snapshotQueries returns how a snapshot's parts run a query: scoped to
// its products in column col (none: unscoped), its {m} marking its
// merchant condition (see scopeOf).
func (tx *Tx) snapshotQueries(s *Snapshot) func(q, col string, args []any, scan func(*sql.Rows) error, suffix ...string) error {
	return func(q, col string, args []any, scan func(*sql.Rows) error, suffix ...string) error {
		m := ""
		if col != "" {
			var where func(string) string
			var extra []any
			m, where, extra = tx.scopeOf(s, len(args)+1)
			q, args = q+where(col), append(args, extra...)
		}
		q = strings.ReplaceAll(q, "{m}", m)
		for _, x := range suffix {
			q += x
		}
		rows, err := tx.query(q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	}
}

// maxScoped is the most products a snapshot names in its queries.
const maxScoped = 5000

// withComponents returns ids with the components of any bundle among them.
func (tx *Tx) withComponents(ids []int64) ([]int64, error) {
	seen := make(map[int64]bool, len(ids))
	out := make([]int64, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	for _, part := range chunks(out) {
		in, args := inList(tx.d, 1, part)
		comps, err := scanIDs(tx.query(`SELECT component_id FROM bundle_components WHERE bundle_id `+in, args...))
		if err != nil {
			return nil, err
		}
		for _, id := range comps {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	return out, nil
}

func itoa(i int) string { return strconv.Itoa(i) }
