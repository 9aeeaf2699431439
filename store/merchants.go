package store

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/allot/allot"
)

// CreateMerchant creates a merchant; Conflict if the code is taken.
func (tx *Tx) CreateMerchant(code, name string) (int64, error) {
	var n int
	if err := tx.row(`SELECT COUNT(*) FROM merchants WHERE code = $1`, code).Scan(&n); err != nil {
		return 0, err
	}
	if n > 0 {
		return 0, allot.Errorf(allot.Conflict, "merchant %q exists", code)
	}
	var id int64
	err := tx.row(`INSERT INTO merchants (code, name, created_at) VALUES ($1, $2, $3) RETURNING id`, code, name, micros(tx.Now)).Scan(&id)
	return id, err
}

// MerchantID looks a merchant up by code.
func (tx *Tx) MerchantID(code string) (int64, error) {
	var id int64
	err := tx.row(`SELECT id FROM merchants WHERE code = $1`, code).Scan(&id)
	if isNoRows(err) {
		return 0, notFound("merchant", code)
	}
	return id, err
}

// AddToken stores the hash of a new API token of merchant m.
func (tx *Tx) AddToken(m int64, name, hash string) error {
	_, err := tx.exec(`INSERT INTO tokens (merchant_id, name, hash, created_at) VALUES ($1, $2, $3, $4)`, m, name, hash, micros(tx.Now))
	return err
}

// Merchants counts the merchants.
func (db *DB) Merchants(ctx context.Context) (int, error) {
	var n int
	err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM merchants`).Scan(&n)
	return n, err
}

// MerchantCodes lists every merchant's id by code.
func (db *DB) MerchantCodes(ctx context.Context) (map[string]int64, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT id, code FROM merchants ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var id int64
		var code string
		if err := rows.Scan(&id, &code); err != nil {
			return nil, err
		}
		out[code] = id
	}
	return out, rows.Err()
}

// TokenOwner returns the merchant and token name of a token hash. The hash
// found is compared again in constant time, so that no timing tells how
// much of a guessed hash matched.
func (db *DB) TokenOwner(ctx context.Context, hash string) (merchant int64, name string, ok bool, err error) {
	var stored string
	err = db.read.QueryRowContext(ctx, `SELECT merchant_id, name, hash FROM tokens WHERE hash = $1`, hash).Scan(&merchant, &name, &stored)
	if err == sql.ErrNoRows {
		return 0, "", false, nil
	}
	if err != nil {
		return 0, "", false, err
	}
	return merchant, name, subtle.ConstantTimeCompare([]byte(stored), []byte(hash)) == 1, nil
}

// HistoryFilter selects history entries.
type HistoryFilter struct {
	SKU, Channel string
	Since        time.Time
	Before       int64 // entry id, for paging back
	Limit        int
}

// History lists history entries, newest first.
func (tx *Tx) History(f HistoryFilter) ([]allot.HistoryEntry, error) {
	q := `SELECT id, at, actor, action, COALESCE(sku, ''), COALESCE(channel, ''), summary, detail FROM history WHERE merchant_id = $1`
	args := []any{tx.M}
	add := func(cond string, v any) {
		args = append(args, v)
		q += " AND " + cond + " $" + itoa(len(args))
	}
	if f.SKU != "" {
		add("sku =", f.SKU)
	}
	if f.Channel != "" {
		add("channel =", f.Channel)
	}
	if !f.Since.IsZero() {
		add("at >=", micros(f.Since))
	}
	if f.Before > 0 {
		add("id <", f.Before)
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	rows, err := tx.query(q+` ORDER BY id DESC LIMIT `+itoa(f.Limit), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []allot.HistoryEntry
	for rows.Next() {
		var h allot.HistoryEntry
		var at int64
		var detail string
		if err := rows.Scan(&h.ID, &at, &h.Actor, &h.Action, &h.SKU, &h.Channel, &h.Summary, &detail); err != nil {
			return nil, err
		}
		h.At = fromMicros(at)
		if detail != "" && detail != "{}" && detail != "null" {
			json.Unmarshal([]byte(detail), &h.Detail)
		}
		out = append(out, h)
	}
	return out, rows.Err()
}
