package store

import (
	"database/sql"
	"strings"
	"time"
)

// ProductMatch is a product or bundle found by SearchProducts.
type ProductMatch struct {
	ID     int64
	SKU    string
	Name   string
	Bundle bool
}

// SearchProducts lists, by SKU, the products and bundles whose SKU or name
// contains query (any case; empty: all), skipping offset and returning at
// most limit, with how many match in all. The web page pages through
// thousands of products this way, one page at a time.
func (tx *Tx) SearchProducts(query string, offset, limit int) ([]ProductMatch, int, error) {
	where := `WHERE merchant_id = $1`
	args := []any{tx.M}
	if query != "" {
		// LIKE's own wildcards in the query are taken literally.
		esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(strings.ToLower(query))
		where += ` AND (LOWER(sku) LIKE $2 ESCAPE '\' OR LOWER(name) LIKE $2 ESCAPE '\')`
		args = append(args, "%"+esc+"%")
	}
	var total int
	if err := tx.row(`SELECT COUNT(*) FROM products `+where, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := tx.query(`SELECT id, sku, name, is_bundle FROM products `+where+` ORDER BY sku LIMIT `+itoa(max(limit, 0))+
		` OFFSET `+itoa(max(offset, 0)), args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []ProductMatch
	for rows.Next() {
		var p ProductMatch
		if err := rows.Scan(&p.ID, &p.SKU, &p.Name, &p.Bundle); err != nil {
			return nil, 0, err
		}
		out = append(out, p)
	}
	return out, total, rows.Err()
}

// Unpushed is a listing whose newest quantity the channel has not yet
// confirmed: a push waits for it.
type Unpushed struct {
	Channel    string
	ExternalID string
	SKU        string
	Quantity   int // the quantity waiting to be pushed
	Attempts   int // failed attempts so far
	LastError  string
	Since      time.Time // when the oldest change still unpushed was made
}

// UnpushedOf lists the pending pushes of the listings of these products.
func (tx *Tx) UnpushedOf(productIDs []int64) ([]Unpushed, error) {
	var out []Unpushed
	for _, part := range chunks(productIDs) {
		in, args := inList(tx.d, 2, part)
		rows, err := tx.query(`SELECT c.code, l.external_id, p.sku, pen.quantity, pen.attempts, pen.last_error, pen.first_at
			FROM sync_pending pen JOIN listings l ON l.id = pen.listing_id JOIN channels c ON c.id = pen.channel_id
			JOIN products p ON p.id = l.product_id
			WHERE pen.merchant_id = $1 AND NOT pen.done AND l.product_id `+in+` ORDER BY c.code, l.external_id`, append([]any{tx.M}, args...)...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var u Unpushed
			var since int64
			if err := rows.Scan(&u.Channel, &u.ExternalID, &u.SKU, &u.Quantity, &u.Attempts, &u.LastError, &since); err != nil {
				rows.Close()
				return nil, err
			}
			u.Since = fromMicros(since)
			out = append(out, u)
		}
		if err := closeRows(rows); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// OversoldKey is a (channel, SKU) pair.
type OversoldKey struct{ Channel, SKU string }

// OversoldOf counts, per channel and SKU of these products, the orders not
// yet fully shipped or cancelled that were flagged oversold: the ones an
// operations manager still has to deal with.
func (tx *Tx) OversoldOf(productIDs []int64) (map[OversoldKey]int, error) {
	out := map[OversoldKey]int{}
	for _, part := range chunks(productIDs) {
		in, args := inList(tx.d, 2, part)
		rows, err := tx.query(`SELECT c.code, p.sku, COUNT(DISTINCT o.id) FROM orders o
			JOIN channels c ON c.id = o.channel_id JOIN order_units u ON u.order_id = o.id JOIN products p ON p.id = u.product_id
			WHERE o.merchant_id = $1 AND o.oversold = TRUE AND o.state IN ('open', 'partially_shipped') AND u.product_id `+in+`
			GROUP BY c.code, p.sku`, append([]any{tx.M}, args...)...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var k OversoldKey
			var n int
			if err := rows.Scan(&k.Channel, &k.SKU, &n); err != nil {
				rows.Close()
				return nil, err
			}
			out[k] += n
		}
		if err := closeRows(rows); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// PublicationEntry is one line of the publication log: a quantity a
// channel was sent for a listing, and what came of it.
type PublicationEntry struct {
	At         time.Time
	Channel    string
	ExternalID string
	SKU        string
	Quantity   int
	Outcome    string // confirmed, error, drift
	Detail     string
}

// PublicationLogFilter selects publication log entries: of one product's
// listings, of one channel, or both (0: any).
type PublicationLogFilter struct {
	ProductID int64
	ChannelID int64
	Since     time.Time
	Limit     int // 0: 500
}

// PublicationLog lists publication log entries, newest first.
func (tx *Tx) PublicationLog(f PublicationLogFilter) ([]PublicationEntry, error) {
	q := `SELECT g.at, c.code, l.external_id, COALESCE(p.sku, ''), g.quantity, g.outcome, g.detail
		FROM publication_log g JOIN listings l ON l.id = g.listing_id JOIN channels c ON c.id = g.channel_id
		LEFT JOIN products p ON p.id = l.product_id WHERE g.merchant_id = $1`
	args := []any{tx.M}
	if f.ProductID != 0 {
		args = append(args, f.ProductID)
		q += ` AND l.product_id = $` + itoa(len(args))
	}
	if f.ChannelID != 0 {
		args = append(args, f.ChannelID)
		q += ` AND g.channel_id = $` + itoa(len(args))
	}
	if !f.Since.IsZero() {
		args = append(args, micros(f.Since))
		q += ` AND g.at >= $` + itoa(len(args))
	}
	if f.Limit <= 0 {
		f.Limit = 500
	}
	rows, err := tx.query(q+` ORDER BY g.id DESC LIMIT `+itoa(f.Limit), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []PublicationEntry
	for rows.Next() {
		var e PublicationEntry
		var at int64
		var sku sql.NullString
		if err := rows.Scan(&at, &e.Channel, &e.ExternalID, &sku, &e.Quantity, &e.Outcome, &e.Detail); err != nil {
			return nil, err
		}
		e.At, e.SKU = fromMicros(at), sku.String
		out = append(out, e)
	}
	return out, rows.Err()
}
