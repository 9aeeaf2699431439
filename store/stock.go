package store

import (
	"database/sql"
	"slices"
	"time"

	"github.com/allot/allot"
)

// PutWarehouse creates or renames a warehouse.
func (tx *Tx) PutWarehouse(w allot.Warehouse) (id int64, created bool, err error) {
	err = tx.row(`SELECT id FROM warehouses WHERE merchant_id = $1 AND code = $2`, tx.M, w.Code).Scan(&id)
	if isNoRows(err) {
		err = tx.row(`INSERT INTO warehouses (merchant_id, code, name, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
			tx.M, w.Code, w.Name, micros(tx.Now)).Scan(&id)
		return id, true, err
	}
	if err != nil {
		return 0, false, err
	}
	_, err = tx.exec(`UPDATE warehouses SET name = $1 WHERE id = $2`, w.Name, id)
	return id, false, err
}

// WarehouseID looks up a warehouse by code; NotFound if unknown.
func (tx *Tx) WarehouseID(code string) (int64, error) {
	var id int64
	err := tx.row(`SELECT id FROM warehouses WHERE merchant_id = $1 AND code = $2`, tx.M, code).Scan(&id)
	if isNoRows(err) {
		return 0, notFound("warehouse", code)
	}
	return id, err
}

// Warehouses lists the merchant's warehouses in creation order, which is
// the order of "all warehouses" for a channel.
func (tx *Tx) Warehouses() ([]allot.Warehouse, []int64, error) {
	if w := tx.warehousesRead; w != nil {
		return slices.Clone(w.ws), slices.Clone(w.ids), nil
	}
	ws, ids, err := tx.readWarehouses()
	if err == nil {
		tx.warehousesRead = &warehouses{ws: ws, ids: ids}
	}
	return slices.Clone(ws), slices.Clone(ids), err
}

func (tx *Tx) readWarehouses() ([]allot.Warehouse, []int64, error) {
	rows, err := tx.query(`SELECT id, code, name FROM warehouses WHERE merchant_id = $1 ORDER BY id`, tx.M)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var ws []allot.Warehouse
	var ids []int64
	for rows.Next() {
		var w allot.Warehouse
		var id int64
		if err := rows.Scan(&id, &w.Code, &w.Name); err != nil {
			return nil, nil, err
		}
		ws = append(ws, w)
		ids = append(ids, id)
	}
	return ws, ids, rows.Err()
}

// StockRow is the stored stock of one product in one warehouse.
type StockRow struct {
	InWarehouse, Damaged, Committed int
	AsOf                            *time.Time
	ChangedAt                       time.Time
}

// Stock reads one stock row; the zero row if none was ever written.
func (tx *Tx) Stock(productID, warehouseID int64) (StockRow, error) {
	var r StockRow
	var asOf sql.NullInt64
	var changed int64
	err := tx.row(`SELECT in_warehouse, damaged, committed, as_of, changed_at FROM stock WHERE product_id = $1 AND warehouse_id = $2`,
		productID, warehouseID).Scan(&r.InWarehouse, &r.Damaged, &r.Committed, &asOf, &changed)
	if isNoRows(err) {
		return r, nil
	}
	r.AsOf, r.ChangedAt = timePtr(asOf), fromMicros(changed)
	return r, err
}

// ReportStock stores a warehouse's report; the caller has checked that it
// is not older than the row's ChangedAt.
func (tx *Tx) ReportStock(productID, warehouseID int64, inWarehouse, damaged int, asOf time.Time) error {
	_, err := tx.exec(`INSERT INTO stock (product_id, warehouse_id, merchant_id, in_warehouse, damaged, as_of, changed_at)
		VALUES ($1, $2, $3, $4, $5, $6, $6)
		ON CONFLICT (product_id, warehouse_id) DO UPDATE SET in_warehouse = excluded.in_warehouse,
			damaged = excluded.damaged, as_of = excluded.as_of, changed_at = excluded.changed_at`,
		productID, warehouseID, tx.M, inWarehouse, damaged, micros(asOf))
	return err
}

// MoveStock adds delta units to in_warehouse (a receipt; a shipment when
// negative; never below 0) and marks the row changed now, so that reports
// older than the move are ignored.
func (tx *Tx) MoveStock(productID, warehouseID int64, delta int) error {
	now := micros(tx.Now)
	_, err := tx.exec(`INSERT INTO stock (product_id, warehouse_id, merchant_id, in_warehouse, changed_at)
		VALUES ($1, $2, $3, $6, $5)
		ON CONFLICT (product_id, warehouse_id) DO UPDATE SET
			in_warehouse = CASE WHEN stock.in_warehouse + $4 < 0 THEN 0 ELSE stock.in_warehouse + $4 END,
			changed_at = CASE WHEN stock.changed_at < $5 THEN $5 ELSE stock.changed_at END`,
		productID, warehouseID, tx.M, int64(delta), now, int64(max(0, delta)))
	return err
}

// AddCommitted adds delta to the committed counter of a product in a
// warehouse.
func (tx *Tx) AddCommitted(productID, warehouseID int64, delta int) error {
	if delta == 0 {
		return nil
	}
	_, err := tx.exec(`INSERT INTO stock (product_id, warehouse_id, merchant_id, committed) VALUES ($1, $2, $3, $4)
		ON CONFLICT (product_id, warehouse_id) DO UPDATE SET committed = stock.committed + excluded.committed`,
		productID, warehouseID, tx.M, int64(delta))
	return err
}

// StockList lists stored stock rows, optionally for one SKU.
func (tx *Tx) StockList(sku string) ([]allot.Stock, error) {
	q := `SELECT w.code, p.sku, s.in_warehouse, s.damaged, s.committed, s.as_of, s.changed_at
		FROM stock s JOIN products p ON p.id = s.product_id JOIN warehouses w ON w.id = s.warehouse_id
		WHERE s.merchant_id = $1`
	args := []any{tx.M}
	if sku != "" {
		q += ` AND p.sku = $2`
		args = append(args, sku)
	}
	rows, err := tx.query(q+` ORDER BY p.sku, w.id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []allot.Stock
	for rows.Next() {
		var s allot.Stock
		var asOf sql.NullInt64
		var changed int64
		if err := rows.Scan(&s.Warehouse, &s.SKU, &s.InWarehouse, &s.Damaged, &s.Committed, &asOf, &changed); err != nil {
			return nil, err
		}
		if asOf.Valid {
			s.AsOf = fromMicros(asOf.Int64)
		}
		s.ChangedAt = fromMicros(changed)
		out = append(out, s)
	}
	return out, rows.Err()
}

// InboundLine is one line of an inbound shipment as stored.
type InboundLine struct {
	ProductID int64
	SKU       string
	Quantity  int
}

// CreateInbound records an expected shipment.
func (tx *Tx) CreateInbound(warehouseID int64, expectedAt *time.Time, lines []InboundLine) (int64, error) {
	var id int64
	err := tx.row(`INSERT INTO inbounds (merchant_id, warehouse_id, expected_at, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		tx.M, warehouseID, nullTime(expectedAt), micros(tx.Now)).Scan(&id)
	if err != nil {
		return 0, err
	}
	for _, l := range lines {
		if _, err := tx.exec(`INSERT INTO inbound_lines (inbound_id, product_id, quantity) VALUES ($1, $2, $3)`,
			id, l.ProductID, l.Quantity); err != nil {
			return 0, err
		}
	}
	return id, nil
}

// Inbound reads a shipment with its warehouse id and lines.
func (tx *Tx) Inbound(id int64) (allot.Inbound, int64, []InboundLine, error) {
	var in allot.Inbound
	var warehouseID int64
	var expected, received sql.NullInt64
	err := tx.row(`SELECT i.id, w.code, i.warehouse_id, i.expected_at, i.received_at FROM inbounds i
		JOIN warehouses w ON w.id = i.warehouse_id WHERE i.merchant_id = $1 AND i.id = $2`, tx.M, id).
		Scan(&in.ID, &in.Warehouse, &warehouseID, &expected, &received)
	if isNoRows(err) {
		return in, 0, nil, allot.Errorf(allot.NotFound, "inbound %d not found", id)
	}
	if err != nil {
		return in, 0, nil, err
	}
	in.ExpectedAt, in.ReceivedAt = timePtr(expected), timePtr(received)
	in.Received = received.Valid
	rows, err := tx.query(`SELECT l.product_id, p.sku, l.quantity FROM inbound_lines l JOIN products p ON p.id = l.product_id
		WHERE l.inbound_id = $1 ORDER BY p.sku`, id)
	if err != nil {
		return in, 0, nil, err
	}
	defer rows.Close()
	var lines []InboundLine
	for rows.Next() {
		var l InboundLine
		if err := rows.Scan(&l.ProductID, &l.SKU, &l.Quantity); err != nil {
			return in, 0, nil, err
		}
		lines = append(lines, l)
		in.Lines = append(in.Lines, allot.Line{SKU: l.SKU, Quantity: l.Quantity})
	}
	return in, warehouseID, lines, rows.Err()
}

// MarkInboundReceived records that a shipment arrived now.
func (tx *Tx) MarkInboundReceived(id int64) error {
	_, err := tx.exec(`UPDATE inbounds SET received_at = $1 WHERE id = $2 AND merchant_id = $3`, micros(tx.Now), id, tx.M)
	return err
}

// InboundIDs lists the merchant's shipments, newest first; open only if asked.
func (tx *Tx) InboundIDs(openOnly bool) ([]int64, error) {
	q := `SELECT id FROM inbounds WHERE merchant_id = $1`
	if openOnly {
		q += ` AND received_at IS NULL`
	}
	return scanIDs(tx.query(q+` ORDER BY id DESC`, tx.M))
}

// StockKey names a stock row: a product in a warehouse.
type StockKey struct{ Product, Warehouse int64 }

// StockRows reads the stored stock of the given products, every
// warehouse; rows never written are absent.
func (tx *Tx) StockRows(productIDs []int64) (map[StockKey]StockRow, error) {
	out := make(map[StockKey]StockRow, len(productIDs))
	if len(productIDs) > maxScoped {
		// Past a few thousand products, the merchant's rows are read once
		// and those not asked for dropped.
		wanted := make(map[int64]bool, len(productIDs))
		for _, id := range productIDs {
			wanted[id] = true
		}
		return out, tx.scanStock(out, wanted, `merchant_id = $1`, tx.M)
	}
	for _, part := range chunks(productIDs) {
		// By the primary key: +merchant_id keeps the planners off the
		// merchant index.
		in, args := inList(tx.d, 2, part)
		if err := tx.scanStock(out, nil, `+merchant_id = $1 AND product_id `+in, append([]any{tx.M}, args...)...); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// scanStock adds to out the stock rows that match where, of the products
// wanted (nil: all).
func (tx *Tx) scanStock(out map[StockKey]StockRow, wanted map[int64]bool, where string, args ...any) error {
	rows, err := tx.query(`SELECT product_id, warehouse_id, in_warehouse, damaged, committed, as_of, changed_at FROM stock
		WHERE `+where, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k StockKey
		var r StockRow
		var asOf sql.NullInt64
		var changed int64
		if err := rows.Scan(&k.Product, &k.Warehouse, &r.InWarehouse, &r.Damaged, &r.Committed, &asOf, &changed); err != nil {
			return err
		}
		if wanted != nil && !wanted[k.Product] {
			continue
		}
		r.AsOf, r.ChangedAt = timePtr(asOf), fromMicros(changed)
		out[k] = r
	}
	return rows.Err()
}

// Report is one stock report to store.
type Report struct {
	StockKey
	InWarehouse, Damaged int
	AsOf                 time.Time
}

// ReportStockMany stores many reports, many rows a statement; the caller
// has dropped those older than their row's ChangedAt.
func (tx *Tx) ReportStockMany(reports []Report) error {
	rows := make([][]any, len(reports))
	for i, r := range reports {
		rows[i] = []any{r.Product, r.Warehouse, tx.M, r.InWarehouse, r.Damaged, micros(r.AsOf), micros(r.AsOf)}
	}
	return tx.insertRows(`INSERT INTO stock (product_id, warehouse_id, merchant_id, in_warehouse, damaged, as_of, changed_at) VALUES `,
		rows, ` ON CONFLICT (product_id, warehouse_id) DO UPDATE SET in_warehouse = excluded.in_warehouse,
			damaged = excluded.damaged, as_of = excluded.as_of, changed_at = excluded.changed_at`)
}

// Delta is a change to a counter: Key names the row, N is added.
type Delta struct {
	Key [2]int64
	N   int
}

// AddCommittedMany is AddCommitted for many (product, warehouse) keys,
// many rows a statement.
func (tx *Tx) AddCommittedMany(ds []Delta) error {
	rows := make([][]any, len(ds))
	for i, d := range ds {
		rows[i] = []any{d.Key[0], d.Key[1], tx.M, int64(d.N)}
	}
	return tx.insertRows(`INSERT INTO stock (product_id, warehouse_id, merchant_id, committed) VALUES `, rows,
		` ON CONFLICT (product_id, warehouse_id) DO UPDATE SET committed = stock.committed + excluded.committed`)
}
