package store

import (
	"database/sql"
	"fmt"
	"time"

	"github.com/allot/allot"
)

// AllocationChannel is a channel of an allocation as stored.
type AllocationChannel struct {
	ChannelID int64
	Rule      allot.Rule
}

// AllocationLine is a line of an allocation as stored.
type AllocationLine struct {
	ProductID int64
	Quantity  int
}

// CreateAllocation stores a new allocation; a.AllSKUs or lines say what it
// covers.
func (tx *Tx) CreateAllocation(a allot.Allocation, channels []AllocationChannel, lines []AllocationLine) (int64, error) {
	var all any
	if a.AllSKUs != nil {
		all = int64(a.AllSKUs.Quantity)
	}
	var inbound any
	if a.Inbound != nil {
		inbound = *a.Inbound
	}
	now := micros(tx.Now)
	var id int64
	err := tx.row(`INSERT INTO allocations (merchant_id, name, note, purpose, priority, all_skus_quantity, starts_at, ends_at,
		inbound_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id`,
		tx.M, a.Name, a.Note, string(a.Purpose), a.Priority, all, nullTime(a.StartsAt), nullTime(a.EndsAt), inbound, now).Scan(&id)
	if err != nil {
		return 0, err
	}
	for _, c := range channels {
		if _, err := tx.exec(`INSERT INTO allocation_channels (allocation_id, channel_id, rule) VALUES ($1, $2, $3)`,
			id, c.ChannelID, string(c.Rule)); err != nil {
			return 0, err
		}
	}
	for _, l := range lines {
		if err := tx.SetAllocationLine(id, l.ProductID, l.Quantity); err != nil {
			return 0, err
		}
	}
	return id, nil
}

// SetAllocationLine sets the quantity of one line, adding it if new; what
// the line consumed is kept.
func (tx *Tx) SetAllocationLine(id, productID int64, quantity int) error {
	_, err := tx.exec(`INSERT INTO allocation_lines (allocation_id, product_id, quantity) VALUES ($1, $2, $3)
		ON CONFLICT (allocation_id, product_id) DO UPDATE SET quantity = excluded.quantity`, id, productID, quantity)
	return err
}

// UpdateAllocation changes an allocation's own fields.
func (tx *Tx) UpdateAllocation(a allot.Allocation) error {
	var all any
	if a.AllSKUs != nil {
		all = int64(a.AllSKUs.Quantity)
	}
	_, err := tx.exec(`UPDATE allocations SET name = $1, note = $2, priority = $3, all_skus_quantity = $4, starts_at = $5,
		ends_at = $6, updated_at = $7 WHERE id = $8 AND merchant_id = $9`,
		a.Name, a.Note, a.Priority, all, nullTime(a.StartsAt), nullTime(a.EndsAt), micros(tx.Now), a.ID, tx.M)
	return err
}

// AddConsumed adds delta units to what an allocation consumed of a product.
func (tx *Tx) AddConsumed(allocationID, productID int64, delta int) error {
	if delta == 0 {
		return nil
	}
	_, err := tx.exec(`INSERT INTO allocation_usage (allocation_id, product_id, consumed) VALUES ($1, $2, $3)
		ON CONFLICT (allocation_id, product_id) DO UPDATE SET consumed = allocation_usage.consumed + excluded.consumed`,
		allocationID, productID, int64(delta))
	return err
}

// AllocationRow is an allocation as stored, with its ids.
type AllocationRow struct {
	allot.Allocation
	Channels []AllocationChannel
	Lines    map[int64]int // product id → quantity
}

// Allocation reads one allocation with its channels, lines and what each
// line consumed; NotFound if it is not the merchant's.
func (tx *Tx) Allocation(id int64) (AllocationRow, error) {
	rows, err := tx.allocations(`AND a.id = $2`, id)
	if err != nil {
		return AllocationRow{}, err
	}
	if len(rows) == 0 {
		return AllocationRow{}, allot.Errorf(allot.NotFound, "allocation %d not found", id)
	}
	return rows[0], nil
}

// Allocations lists the merchant's allocations, newest first; with current,
// only those not yet ended.
func (tx *Tx) Allocations(current bool) ([]AllocationRow, error) {
	if current {
		return tx.allocations(`AND (a.ends_at IS NULL OR a.ends_at > $2)`, micros(tx.Now))
	}
	return tx.allocations("")
}

func (tx *Tx) allocations(where string, args ...any) ([]AllocationRow, error) {
	rows, err := tx.query(`SELECT a.id, a.name, a.note, a.purpose, a.priority, a.all_skus_quantity, a.starts_at, a.ends_at,
		a.inbound_id, a.created_at FROM allocations a WHERE a.merchant_id = $1 `+where+` ORDER BY a.id DESC`,
		append([]any{tx.M}, args...)...)
	if err != nil {
		return nil, err
	}
	var out []AllocationRow
	index := map[int64]int{}
	for rows.Next() {
		var r AllocationRow
		var purpose string
		var all, starts, ends, inbound sql.NullInt64
		var created int64
		if err := rows.Scan(&r.ID, &r.Name, &r.Note, &purpose, &r.Priority, &all, &starts, &ends, &inbound, &created); err != nil {
			rows.Close()
			return nil, err
		}
		r.Purpose = allot.Purpose(purpose)
		if all.Valid {
			r.AllSKUs = &allot.AllSKUs{Quantity: int(all.Int64)}
		}
		r.StartsAt, r.EndsAt = timePtr(starts), timePtr(ends)
		if inbound.Valid {
			r.Inbound = &inbound.Int64
		}
		r.CreatedAt = fromMicros(created)
		r.Active = (r.StartsAt == nil || !tx.Now.Before(*r.StartsAt)) && (r.EndsAt == nil || tx.Now.Before(*r.EndsAt))
		r.Lines = map[int64]int{}
		index[r.ID] = len(out)
		out = append(out, r)
	}
	if err := closeRows(rows); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return out, nil
	}
	ids := make([]int64, len(out))
	for i, r := range out {
		ids[i] = r.ID
	}
	for _, part := range chunks(ids) {
		in, args := inList(tx.d, 1, part)
		rows, err := tx.query(`SELECT ac.allocation_id, ac.channel_id, c.code, ac.rule FROM allocation_channels ac
			JOIN channels c ON c.id = ac.channel_id WHERE ac.allocation_id `+in+` ORDER BY ac.allocation_id, c.id`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id int64
			var c AllocationChannel
			var code, rule string
			if err := rows.Scan(&id, &c.ChannelID, &code, &rule); err != nil {
				rows.Close()
				return nil, err
			}
			c.Rule = allot.Rule(rule)
			r := &out[index[id]]
			r.Channels = append(r.Channels, c)
			r.Allocation.Channels = append(r.Allocation.Channels, allot.AllocationChannel{Channel: code, Rule: c.Rule})
		}
		if err := closeRows(rows); err != nil {
			return nil, err
		}
		// Lines, and for all-SKU allocations the SKUs they consumed.
		rows, err = tx.query(`SELECT x.allocation_id, x.product_id, p.sku, x.quantity, COALESCE(u.consumed, 0) FROM (
				SELECT allocation_id, product_id, quantity FROM allocation_lines WHERE allocation_id `+in+`
				UNION ALL
				SELECT allocation_id, product_id, NULL FROM allocation_usage WHERE allocation_id `+in+`
					AND NOT EXISTS (SELECT 1 FROM allocation_lines l WHERE l.allocation_id = allocation_usage.allocation_id
						AND l.product_id = allocation_usage.product_id)
			) x JOIN products p ON p.id = x.product_id
			LEFT JOIN allocation_usage u ON u.allocation_id = x.allocation_id AND u.product_id = x.product_id
			ORDER BY x.allocation_id, p.sku`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id, pid int64
			var l allot.AllocationLine
			var q sql.NullInt64
			if err := rows.Scan(&id, &pid, &l.SKU, &q, &l.Consumed); err != nil {
				rows.Close()
				return nil, err
			}
			r := &out[index[id]]
			switch {
			case q.Valid:
				l.Quantity = int(q.Int64)
				r.Lines[pid] = l.Quantity
			case r.AllSKUs != nil:
				l.Quantity = r.AllSKUs.Quantity
			default:
				continue // usage of a line since removed: nothing to show
			}
			l.Remaining = l.Quantity - l.Consumed
			r.Allocation.Lines = append(r.Allocation.Lines, l)
		}
		if err := closeRows(rows); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Conflict is an active or future allocation in the way of a new one.
type Conflict struct {
	ID              int64
	Name, Channel   string
	SKU             string // "" when the one in the way covers every SKU
	AllSKUs, Exists bool
}

// FindConflict returns an allocation, other than except, that covers one
// of channels for one of products (all: any product) during a window that
// overlaps [startsAt, endsAt), and is not ended.
func (tx *Tx) FindConflict(except int64, channels []int64, products []int64, all bool, startsAt, endsAt *time.Time) (Conflict, error) {
	if len(channels) == 0 {
		return Conflict{}, nil
	}
	chIn, chArgs := inList(tx.d, 8, channels)
	base := `SELECT a.id, a.name, c.code, COALESCE(p.sku, ''), a.all_skus_quantity IS NOT NULL
		FROM allocations a JOIN allocation_channels ac ON ac.allocation_id = a.id JOIN channels c ON c.id = ac.channel_id
		LEFT JOIN allocation_lines al ON al.allocation_id = a.id LEFT JOIN products p ON p.id = al.product_id
		WHERE a.merchant_id = $1 AND a.id <> $2 AND (a.ends_at IS NULL OR a.ends_at > $3)
		AND ($4 = 0 OR a.starts_at IS NULL OR a.starts_at < $5)
		AND ($6 = 0 OR a.ends_at IS NULL OR a.ends_at > $7)
		AND ac.channel_id ` + chIn
	var endsFlag, startsFlag int
	var endsV, startsV int64
	if endsAt != nil {
		endsFlag, endsV = 1, micros(*endsAt)
	}
	if startsAt != nil {
		startsFlag, startsV = 1, micros(*startsAt)
	}
	args := append([]any{tx.M, except, micros(tx.Now), endsFlag, endsV, startsFlag, startsV}, chArgs...)
	try := func(q string, extra []any) (Conflict, error) {
		var c Conflict
		err := tx.row(q+` ORDER BY a.id LIMIT 1`, append(args, extra...)...).Scan(&c.ID, &c.Name, &c.Channel, &c.SKU, &c.AllSKUs)
		if isNoRows(err) {
			return Conflict{}, nil
		}
		c.Exists = err == nil
		if c.AllSKUs {
			c.SKU = ""
		}
		return c, err
	}
	if all {
		return try(base, nil)
	}
	if c, err := try(base+` AND a.all_skus_quantity IS NOT NULL`, nil); err != nil || c.Exists {
		return c, err
	}
	for _, part := range chunks(products) {
		in, pArgs := inList(tx.d, 8+len(chArgs), part)
		if c, err := try(base+` AND al.product_id `+in, pArgs); err != nil || c.Exists {
			return c, err
		}
	}
	return Conflict{}, nil
}

// Describe says which allocation is in the way, for an error message.
func (c Conflict) Describe() string {
	what := fmt.Sprintf("SKU %q", c.SKU)
	if c.SKU == "" {
		what = "every SKU"
	}
	return fmt.Sprintf("allocation %d %q already covers channel %q for %s", c.ID, c.Name, c.Channel, what)
}

// AllocationsOfInbound lists the allocations tied to an inbound shipment.
func (tx *Tx) AllocationsOfInbound(inboundID int64) ([]int64, error) {
	return scanIDs(tx.query(`SELECT id FROM allocations WHERE merchant_id = $1 AND inbound_id = $2`, tx.M, inboundID))
}

// CoveringAllocation returns the id of the allocation active now that covers
// (channel, product), 0 if none.
func (tx *Tx) CoveringAllocation(channelID, productID int64) (int64, error) {
	var id int64
	now := micros(tx.Now)
	err := tx.row(`SELECT a.id FROM allocations a JOIN allocation_channels ac ON ac.allocation_id = a.id
		WHERE a.merchant_id = $1 AND ac.channel_id = $2 AND (a.starts_at IS NULL OR a.starts_at <= $3)
		AND (a.ends_at IS NULL OR a.ends_at > $3)
		AND (a.all_skus_quantity IS NOT NULL OR EXISTS (SELECT 1 FROM allocation_lines l WHERE l.allocation_id = a.id AND l.product_id = $4))
		ORDER BY a.priority, a.id LIMIT 1`, tx.M, channelID, now, productID).Scan(&id)
	if isNoRows(err) {
		return 0, nil
	}
	return id, err
}

// AddConsumedMany is AddConsumed for many (allocation, product) keys, many
// rows a statement.
func (tx *Tx) AddConsumedMany(ds []Delta) error {
	rows := make([][]any, len(ds))
	for i, d := range ds {
		rows[i] = []any{d.Key[0], d.Key[1], int64(d.N)}
	}
	return tx.insertRows(`INSERT INTO allocation_usage (allocation_id, product_id, consumed) VALUES `, rows,
		` ON CONFLICT (allocation_id, product_id) DO UPDATE SET consumed = allocation_usage.consumed + excluded.consumed`)
}
