package store

import (
	"database/sql"
	"time"
)

// WarehouseReports says how fresh a warehouse's stock reports are.
type WarehouseReports struct {
	Code       string
	LastReport *time.Time
	// NeverReported counts the products the warehouse never reported;
	// Examples names a few of them.
	NeverReported int
	Examples      []string
}

// Reports reads the freshness of a warehouse's stock reports.
func (tx *Tx) Reports(warehouseID int64, code string) (WarehouseReports, error) {
	r := WarehouseReports{Code: code}
	var last sql.NullInt64
	if err := tx.row(`SELECT MAX(as_of) FROM stock WHERE warehouse_id = $1 AND merchant_id = $2`, warehouseID, tx.M).Scan(&last); err != nil {
		return r, err
	}
	r.LastReport = timePtr(last)
	never := `FROM products p WHERE p.merchant_id = $1 AND p.is_bundle = FALSE AND NOT EXISTS (
		SELECT 1 FROM stock s WHERE s.product_id = p.id AND s.warehouse_id = $2 AND s.as_of IS NOT NULL)`
	if err := tx.row(`SELECT COUNT(*) `+never, tx.M, warehouseID).Scan(&r.NeverReported); err != nil {
		return r, err
	}
	if r.NeverReported == 0 {
		return r, nil
	}
	rows, err := tx.query(`SELECT p.sku `+never+` ORDER BY p.sku LIMIT 10`, tx.M, warehouseID)
	if err != nil {
		return r, err
	}
	defer rows.Close()
	for rows.Next() {
		var sku string
		if err := rows.Scan(&sku); err != nil {
			return r, err
		}
		r.Examples = append(r.Examples, sku)
	}
	return r, rows.Err()
}

// ChannelOrders says how a channel's orders are synchronised.
type ChannelOrders struct {
	LastOrder      *time.Time
	NeedsAttention int
	Examples       []string // external ids of orders needing attention
}

// OrdersOf reads the order synchronisation of a channel.
func (tx *Tx) OrdersOf(channelID int64) (ChannelOrders, error) {
	var c ChannelOrders
	var last sql.NullInt64
	var attention sql.NullInt64
	err := tx.row(`SELECT MAX(created_at), SUM(CASE WHEN needs_attention THEN 1 ELSE 0 END) FROM orders
		WHERE channel_id = $1 AND merchant_id = $2 AND kind <> 'hold'`, channelID, tx.M).Scan(&last, &attention)
	if err != nil {
		return c, err
	}
	c.LastOrder, c.NeedsAttention = timePtr(last), int(attention.Int64)
	if c.NeedsAttention == 0 {
		return c, nil
	}
	rows, err := tx.query(`SELECT external_id FROM orders WHERE channel_id = $1 AND merchant_id = $2 AND needs_attention = TRUE
		ORDER BY id LIMIT 10`, channelID, tx.M)
	if err != nil {
		return c, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return c, err
		}
		c.Examples = append(c.Examples, id)
	}
	return c, rows.Err()
}

// UnlistedProducts counts the products and bundles with no listing on a
// channel, and names a few.
func (tx *Tx) UnlistedProducts(channelID int64) (int, []string, error) {
	from := `FROM products p WHERE p.merchant_id = $1 AND NOT EXISTS (
		SELECT 1 FROM listings l WHERE l.product_id = p.id AND l.channel_id = $2)`
	var n int
	if err := tx.row(`SELECT COUNT(*) `+from, tx.M, channelID).Scan(&n); err != nil || n == 0 {
		return n, nil, err
	}
	rows, err := tx.query(`SELECT p.sku `+from+` ORDER BY p.sku LIMIT 10`, tx.M, channelID)
	if err != nil {
		return n, nil, err
	}
	defer rows.Close()
	var skus []string
	for rows.Next() {
		var sku string
		if err := rows.Scan(&sku); err != nil {
			return n, nil, err
		}
		skus = append(skus, sku)
	}
	return n, skus, rows.Err()
}

// InboundBySKU sums the units still expected, per SKU, and per SKU for
// each open shipment.
func (tx *Tx) InboundBySKU() (map[string]int, map[int64]map[string]int, error) {
	rows, err := tx.query(`SELECT i.id, p.sku, l.quantity FROM inbound_lines l JOIN inbounds i ON i.id = l.inbound_id
		JOIN products p ON p.id = l.product_id WHERE i.merchant_id = $1 AND i.received_at IS NULL`, tx.M)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	total := map[string]int{}
	per := map[int64]map[string]int{}
	for rows.Next() {
		var id int64
		var sku string
		var q int
		if err := rows.Scan(&id, &sku, &q); err != nil {
			return nil, nil, err
		}
		total[sku] += q
		if per[id] == nil {
			per[id] = map[string]int{}
		}
		per[id][sku] += q
	}
	return total, per, rows.Err()
}
