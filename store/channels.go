package store

import (
	"database/sql"
	"encoding/json"
	"slices"

	"github.com/allot/allot"
)

// ChannelRow is a channel as stored.
type ChannelRow struct {
	ID int64
	allot.Channel
	// AllWarehouses: fed by every warehouse of the merchant, in creation
	// order, including those created later.
	AllWarehouses bool
	WarehouseIDs  []int64
}

// PutChannel creates or updates a channel. warehouseIDs are in order; nil
// means all warehouses.
func (tx *Tx) PutChannel(c allot.Channel, warehouseIDs []int64) (id int64, created bool, err error) {
	settings, err := json.Marshal(c.Settings)
	if err != nil {
		return 0, false, err
	}
	if c.Settings == nil {
		settings = []byte("{}")
	}
	now := micros(tx.Now)
	all := warehouseIDs == nil
	err = tx.row(`SELECT id FROM channels WHERE merchant_id = $1 AND code = $2`, tx.M, c.Code).Scan(&id)
	switch {
	case isNoRows(err):
		created = true
		err = tx.row(`INSERT INTO channels (merchant_id, code, name, platform, count_unpaid, all_warehouses, settings, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id`,
			tx.M, c.Code, c.Name, string(c.Platform), c.CountUnpaid, all, string(settings), now).Scan(&id)
	case err == nil:
		_, err = tx.exec(`UPDATE channels SET name = $1, platform = $2, count_unpaid = $3, all_warehouses = $4, settings = $5,
			updated_at = $6 WHERE id = $7`, c.Name, string(c.Platform), c.CountUnpaid, all, string(settings), now, id)
	}
	if err != nil {
		return 0, false, err
	}
	if _, err := tx.exec(`DELETE FROM channel_warehouses WHERE channel_id = $1`, id); err != nil {
		return 0, false, err
	}
	for i, w := range warehouseIDs {
		if _, err := tx.exec(`INSERT INTO channel_warehouses (channel_id, warehouse_id, position) VALUES ($1, $2, $3)`, id, w, i); err != nil {
			return 0, false, err
		}
	}
	return id, created, nil
}

// Channel reads one channel; NotFound if unknown.
func (tx *Tx) Channel(code string) (ChannelRow, error) {
	cs, err := tx.channels(`AND code = $2`, code)
	if err != nil {
		return ChannelRow{}, err
	}
	if len(cs) == 0 {
		return ChannelRow{}, notFound("channel", code)
	}
	return cs[0], nil
}

// Channels lists the merchant's channels in creation order.
func (tx *Tx) Channels() ([]ChannelRow, error) {
	if tx.channelsRead == nil {
		cs, err := tx.channels("")
		if err != nil || cs == nil {
			return cs, err
		}
		tx.channelsRead = cs
	}
	return slices.Clone(tx.channelsRead), nil
}

func (tx *Tx) channels(where string, args ...any) ([]ChannelRow, error) {
	rows, err := tx.query(`SELECT id, code, name, platform, count_unpaid, all_warehouses, settings, rule_percent, rule_zero_at, rule_max
		FROM channels WHERE merchant_id = $1 `+where+` ORDER BY id`, append([]any{tx.M}, args...)...)
	if err != nil {
		return nil, err
	}
	var out []ChannelRow
	for rows.Next() {
		var c ChannelRow
		var settings string
		var platform string
		var p, z, m sql.NullInt64
		if err := rows.Scan(&c.ID, &c.Code, &c.Name, &platform, &c.CountUnpaid, &c.AllWarehouses, &settings, &p, &z, &m); err != nil {
			rows.Close()
			return nil, err
		}
		c.Platform = allot.Platform(platform)
		c.Rules = allot.ChannelRules{Percent: intPtr(p), ZeroAt: intPtr(z), Max: intPtr(m)}
		if err := json.Unmarshal([]byte(settings), &c.Settings); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, c)
	}
	if err := closeRows(rows); err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].AllWarehouses {
			out[i].Warehouses = []string{}
			continue
		}
		rows, err := tx.query(`SELECT w.id, w.code FROM channel_warehouses cw JOIN warehouses w ON w.id = cw.warehouse_id
			WHERE cw.channel_id = $1 ORDER BY cw.position`, out[i].ID)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id int64
			var code string
			if err := rows.Scan(&id, &code); err != nil {
				rows.Close()
				return nil, err
			}
			out[i].WarehouseIDs = append(out[i].WarehouseIDs, id)
			out[i].Warehouses = append(out[i].Warehouses, code)
		}
		if err := closeRows(rows); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// SetChannelRules replaces a channel's own rules.
func (tx *Tx) SetChannelRules(channelID int64, r allot.ChannelRules) error {
	_, err := tx.exec(`UPDATE channels SET rule_percent = $1, rule_zero_at = $2, rule_max = $3, updated_at = $4 WHERE id = $5`,
		nullInt(r.Percent), nullInt(r.ZeroAt), nullInt(r.Max), micros(tx.Now), channelID)
	return err
}

// PairRules reads the rules of one (channel, product) pair.
func (tx *Tx) PairRules(channelID, productID int64) (allot.ChannelRules, error) {
	var p, z, m sql.NullInt64
	err := tx.row(`SELECT percent, zero_at, max_qty FROM pair_rules WHERE channel_id = $1 AND product_id = $2`,
		channelID, productID).Scan(&p, &z, &m)
	if isNoRows(err) {
		return allot.ChannelRules{}, nil
	}
	return allot.ChannelRules{Percent: intPtr(p), ZeroAt: intPtr(z), Max: intPtr(m)}, err
}

// SetPairRules replaces the rules of one (channel, product) pair; empty
// rules remove the pair's row.
func (tx *Tx) SetPairRules(channelID, productID int64, r allot.ChannelRules) error {
	if r.Empty() {
		_, err := tx.exec(`DELETE FROM pair_rules WHERE channel_id = $1 AND product_id = $2`, channelID, productID)
		return err
	}
	_, err := tx.exec(`INSERT INTO pair_rules (channel_id, product_id, merchant_id, percent, zero_at, max_qty)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (channel_id, product_id) DO UPDATE SET
		percent = excluded.percent, zero_at = excluded.zero_at, max_qty = excluded.max_qty`,
		channelID, productID, tx.M, nullInt(r.Percent), nullInt(r.ZeroAt), nullInt(r.Max))
	return err
}

// ListingRow is a listing as stored.
type ListingRow struct {
	ID        int64
	ProductID *int64
	Bundle    bool
	allot.Listing
}

// Listing reads one listing; found is false if the channel never mentioned it.
func (tx *Tx) Listing(channelID int64, externalID string) (ListingRow, bool, error) {
	ls, err := tx.listings(`AND l.channel_id = $2 AND l.external_id = $3`, channelID, externalID)
	if err != nil || len(ls) == 0 {
		return ListingRow{}, false, err
	}
	return ls[0], true, nil
}

// Listings lists a channel's listings by external id.
func (tx *Tx) Listings(channelID int64) ([]ListingRow, error) {
	return tx.listings(`AND l.channel_id = $2`, channelID)
}

// AllListings lists every listing of the merchant.
func (tx *Tx) AllListings() ([]ListingRow, error) { return tx.listings("") }

func (tx *Tx) listings(where string, args ...any) ([]ListingRow, error) {
	rows, err := tx.query(`SELECT l.id, c.code, l.external_id, l.product_id, COALESCE(p.sku, ''), COALESCE(p.is_bundle, FALSE), l.enabled
		FROM listings l JOIN channels c ON c.id = l.channel_id LEFT JOIN products p ON p.id = l.product_id
		WHERE l.merchant_id = $1 `+where+` ORDER BY c.id, l.external_id`, append([]any{tx.M}, args...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ListingRow
	for rows.Next() {
		var l ListingRow
		var pid sql.NullInt64
		if err := rows.Scan(&l.ID, &l.Channel, &l.ExternalID, &pid, &l.SKU, &l.Bundle, &l.Enabled); err != nil {
			return nil, err
		}
		if pid.Valid {
			l.ProductID = &pid.Int64
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// PutListing creates or updates a listing; productID nil unlinks it.
func (tx *Tx) PutListing(channelID int64, externalID string, productID *int64, enabled bool) error {
	now := micros(tx.Now)
	var pid any
	if productID != nil {
		pid = *productID
	}
	_, err := tx.exec(`INSERT INTO listings (merchant_id, channel_id, external_id, product_id, enabled, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (channel_id, external_id) DO UPDATE SET
		product_id = excluded.product_id, enabled = excluded.enabled, updated_at = excluded.updated_at`,
		tx.M, channelID, externalID, pid, enabled, now)
	return err
}

// NoteListing records a listing a channel mentioned (in an order) that allot
// did not know, unlinked, so that it shows up as a listing to link.
func (tx *Tx) NoteListing(channelID int64, externalID string) error {
	_, err := tx.exec(`INSERT INTO listings (merchant_id, channel_id, external_id, enabled, created_at, updated_at)
		VALUES ($1, $2, $3, TRUE, $4, $4) ON CONFLICT (channel_id, external_id) DO NOTHING`,
		tx.M, channelID, externalID, micros(tx.Now))
	return err
}

// ListingsByExternal reads a channel's listings by external id; the ones
// the channel never mentioned are absent.
func (tx *Tx) ListingsByExternal(channelID int64, ids []string) (map[string]ListingRow, error) {
	out := make(map[string]ListingRow, len(ids))
	for _, part := range chunks(ids) {
		in, args := inList(tx.d, 3, part)
		ls, err := tx.listings(`AND l.channel_id = $2 AND l.external_id `+in, append([]any{channelID}, args...)...)
		if err != nil {
			return nil, err
		}
		for _, l := range ls {
			out[l.ExternalID] = l
		}
	}
	return out, nil
}

// ListingUpsert is one listing to create or change.
type ListingUpsert struct {
	ChannelID  int64
	ExternalID string
	ProductID  *int64
	Enabled    bool
}

// PutListings creates or changes many listings, many rows a statement. A
// listing must appear once.
func (tx *Tx) PutListings(ls []ListingUpsert) error {
	now := micros(tx.Now)
	rows := make([][]any, len(ls))
	for i, l := range ls {
		var pid any
		if l.ProductID != nil {
			pid = *l.ProductID
		}
		rows[i] = []any{tx.M, l.ChannelID, l.ExternalID, pid, l.Enabled, now, now}
	}
	return tx.insertRows(`INSERT INTO listings (merchant_id, channel_id, external_id, product_id, enabled, created_at, updated_at) VALUES `,
		rows, ` ON CONFLICT (channel_id, external_id) DO UPDATE SET product_id = excluded.product_id, enabled = excluded.enabled,
			updated_at = excluded.updated_at`)
}
