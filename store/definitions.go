package store

import (
	"database/sql"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/engine"
)

// A group of orders reads, before it locks its products, what orders do not
// change: channels, warehouses, allocations, and of its products their SKU,
// bundles, allocation lines and pair rules. They change seldom, and reading
// them took ten of a group's 27 statements. So they are kept in the
// process between transactions, per merchant, for as long as the merchant's
// definitions version is unchanged: every transaction that writes one of
// the tables they come from adds one to it as it commits (see noteWrite and
// flush), and a transaction that uses the kept definitions reads the
// version first. What it then uses is at least as new as what its reads
// would have seen at that moment, which is what reading them itself gives
// on PostgreSQL's read-committed transactions: each statement sees what
// was committed when it ran.

// definitionTables are the tables the kept definitions are read from. A
// product's insert is not a change: the kept products are looked up by id,
// and a new product is one not kept yet.
var definitionTables = map[string]bool{
	"channels": true, "channel_warehouses": true, "warehouses": true, "products": true, "bundle_components": true,
	"allocations": true, "allocation_channels": true, "allocation_lines": true, "pair_rules": true,
}

// endedSlack is how long kept definitions keep an allocation after it
// ended: a transaction whose clock is that much older than the moment they
// were read does not use them.
const endedSlack = time.Minute

// definitionsCache holds each merchant's definitions at its latest version
// seen.
type definitionsCache struct {
	mu sync.Mutex
	m  map[int64]*definitions
}

func (c *definitionsCache) get(merchant int64) *definitions {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[merchant]
}

// put keeps d unless definitions of its version or newer are kept
// already (read meanwhile by another transaction, with the products it
// has added since), and returns those of d's version to use: d, or the
// ones kept of the same version.
func (c *definitionsCache) put(merchant int64, d *definitions) *definitions {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.m[merchant]; old != nil && old.version >= d.version {
		if old.version == d.version {
			return old
		}
		return d
	}
	if c.m == nil {
		c.m = map[int64]*definitions{}
	}
	c.m[merchant] = d
	return d
}

// definitions are one merchant's definitions at one version. The
// merchant-wide part is read whole; products are added as transactions
// need them. Nothing in them changes once read: transactions share them.
type definitions struct {
	version int64
	from    time.Time // allocations that ended before from are not kept

	channels    []ChannelRow
	channelCode map[int64]string // channel id → code
	warehouses  warehouses
	allocations []keptAllocation

	mu       sync.Mutex
	products map[int64]*keptProduct
	bySKU    map[string]ProductRef
}

type keptAllocation struct {
	id               int64
	name             string
	purpose          allot.Purpose
	priority         int
	allSKUs          *int
	startsAt, endsAt *time.Time
	channels         map[string]allot.Rule
}

type keptProduct struct {
	ref        ProductRef
	components []keptComponent // a bundle's
	bundles    []int64         // the bundles it is part of
	lines      []keptLine      // allocation lines of kept allocations
	rules      map[int64]allot.ChannelRules
}

type keptComponent struct {
	id       int64
	sku      string
	quantity int
}

type keptLine struct {
	allocation int64
	quantity   int
}

// KeepDefinitions makes the transaction use the merchant's kept
// definitions (reading them if they are not kept at the current version):
// its Channels, Warehouses, ProductRefs, BundlesOf and scoped
// SnapshotDefinitions read from them, until it writes one of their tables.
func (tx *Tx) KeepDefinitions() error {
	if tx.defsChanged || tx.M == 0 {
		return nil
	}
	var version int64
	err := tx.row(`SELECT version FROM definition_versions WHERE merchant_id = $1`, tx.M).Scan(&version)
	if err != nil && !isNoRows(err) {
		return err
	}
	d := tx.db.defs.get(tx.M)
	if d == nil || d.version != version {
		if d, err = tx.readDefinitions(version); err != nil {
			return err
		}
		d = tx.db.defs.put(tx.M, d)
	}
	if tx.Now.Before(d.from) {
		return nil // older than they are: they may lack an allocation that ended since
	}
	tx.defs = d
	tx.channelsRead, tx.warehousesRead = d.channels, &d.warehouses
	return nil
}

// readDefinitions reads the merchant-wide part of the definitions.
func (tx *Tx) readDefinitions(version int64) (*definitions, error) {
	d := &definitions{version: version, from: tx.Now.Add(-endedSlack), products: map[int64]*keptProduct{},
		bySKU: map[string]ProductRef{}}
	var err error
	if d.channels, err = tx.Channels(); err != nil {
		return nil, err
	}
	if d.warehouses.ws, d.warehouses.ids, err = tx.Warehouses(); err != nil {
		return nil, err
	}
	d.channelCode = make(map[int64]string, len(d.channels))
	for _, c := range d.channels {
		d.channelCode[c.ID] = c.Code
	}
	if d.allocations, err = tx.readAllocations(d.from, d.channelCode); err != nil {
		return nil, err
	}
	return d, nil
}

// readAllocations reads the merchant's allocations not ended at t, in
// creation order, with the rule of each of their channels (channelCode:
// channel id → code). On PostgreSQL each statement of a read-committed
// transaction sees its own snapshot, so a channel row may name an
// allocation the first query did not see: it is skipped, and the commit
// that made it marks the outbox again.
func (tx *Tx) readAllocations(t time.Time, channelCode map[int64]string) ([]keptAllocation, error) {
	rows, err := tx.query(`SELECT id, name, purpose, priority, all_skus_quantity, starts_at, ends_at FROM allocations
		WHERE merchant_id = $1 AND (ends_at IS NULL OR ends_at > $2) ORDER BY id`, tx.M, micros(t))
	if err != nil {
		return nil, err
	}
	var out []keptAllocation
	index := map[int64]int{}
	for rows.Next() {
		a := keptAllocation{channels: map[string]allot.Rule{}}
		var purpose string
		var all, starts, ends sql.NullInt64
		if err := rows.Scan(&a.id, &a.name, &purpose, &a.priority, &all, &starts, &ends); err != nil {
			rows.Close()
			return nil, err
		}
		a.purpose, a.allSKUs, a.startsAt, a.endsAt = allot.Purpose(purpose), intPtr(all), timePtr(starts), timePtr(ends)
		index[a.id] = len(out)
		out = append(out, a)
	}
	if err := closeRows(rows); err != nil || len(out) == 0 {
		return out, err
	}
	rows, err = tx.query(`SELECT allocation_id, channel_id, rule FROM allocation_channels WHERE allocation_id IN (
		SELECT id FROM allocations WHERE merchant_id = $1 AND (ends_at IS NULL OR ends_at > $2))`, tx.M, micros(t))
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id, cid int64
		var rule string
		if err := rows.Scan(&id, &cid, &rule); err != nil {
			rows.Close()
			return nil, err
		}
		if i, ok := index[id]; ok {
			out[i].channels[channelCode[cid]] = allot.Rule(rule)
		}
	}
	return out, closeRows(rows)
}

// allocation is what the rules engine needs of a, with nothing consumed
// yet and no lines: the snapshot adds those of its products.
func (a keptAllocation) allocation() *engine.Allocation {
	return &engine.Allocation{ID: a.id, Seq: a.id, Name: a.name, Purpose: a.purpose, Priority: a.priority,
		Channels: maps.Clone(a.channels), Lines: map[string]int{}, Consumed: map[string]int{}, AllSKUs: a.allSKUs,
		StartsAt: a.startsAt, EndsAt: a.endsAt}
}

// keptProducts returns the kept definitions of these products, reading
// those not kept yet; a product that does not exist is absent.
func (tx *Tx) keptProducts(ids []int64) (map[int64]*keptProduct, error) {
	d := tx.defs
	out := make(map[int64]*keptProduct, len(ids))
	var missing []int64
	d.mu.Lock()
	for _, id := range ids {
		if p, ok := d.products[id]; ok {
			out[id] = p
		} else {
			missing = append(missing, id)
		}
	}
	d.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	slices.Sort(missing)
	missing = slices.Compact(missing)
	read, err := tx.readProducts(missing)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, p := range read {
		if kept, ok := d.products[id]; ok {
			p = kept // read meanwhile by another transaction: one copy
		} else {
			d.products[id] = p
			d.bySKU[p.ref.SKU] = p.ref
		}
		out[id] = p
	}
	return out, nil
}

// readProducts reads the definitions of products by id.
func (tx *Tx) readProducts(ids []int64) (map[int64]*keptProduct, error) {
	out := make(map[int64]*keptProduct, len(ids))
	var bundles []int64
	kept := make(map[int64]bool, len(tx.defs.allocations))
	for _, a := range tx.defs.allocations {
		kept[a.id] = true
	}
	each := func(q string, part []int64, args []any, scan func(*sql.Rows) error) error {
		in, extra := inList(tx.d, len(args)+1, part)
		rows, err := tx.query(strings.ReplaceAll(q, "{in}", in), append(args, extra...)...)
		if err != nil {
			return err
		}
		for rows.Next() {
			if err := scan(rows); err != nil {
				rows.Close()
				return err
			}
		}
		return closeRows(rows)
	}
	for _, part := range chunks(ids) {
		// +merchant_id: see snapshotQueries.
		err := each(`SELECT id, sku, is_bundle FROM products WHERE +merchant_id = $1 AND id {in}`, part, []any{tx.M},
			func(r *sql.Rows) error {
				p := &keptProduct{}
				if err := r.Scan(&p.ref.ID, &p.ref.SKU, &p.ref.Bundle); err != nil {
					return err
				}
				out[p.ref.ID] = p
				if p.ref.Bundle {
					bundles = append(bundles, p.ref.ID)
				}
				return nil
			})
		if err != nil {
			return nil, err
		}
		err = each(`SELECT component_id, bundle_id FROM bundle_components WHERE component_id {in}`, part, nil, func(r *sql.Rows) error {
			var id, bundle int64
			if err := r.Scan(&id, &bundle); err != nil {
				return err
			}
			if p := out[id]; p != nil {
				p.bundles = append(p.bundles, bundle)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		// The lines of every allocation of these products, ended ones too
		// (a product has few): kept are those of the kept allocations. A
		// statement of one table plans in a third of the time of one that
		// asks for the allocations too.
		err = each(`SELECT allocation_id, product_id, quantity FROM allocation_lines WHERE product_id {in}`, part, nil,
			func(r *sql.Rows) error {
				var aid, id int64
				var q int
				if err := r.Scan(&aid, &id, &q); err != nil {
					return err
				}
				if p := out[id]; p != nil && kept[aid] {
					p.lines = append(p.lines, keptLine{aid, q})
				}
				return nil
			})
		if err != nil {
			return nil, err
		}
		err = each(`SELECT channel_id, product_id, percent, zero_at, max_qty FROM pair_rules WHERE +merchant_id = $1 AND product_id {in}`,
			part, []any{tx.M}, func(r *sql.Rows) error {
				var cid, id int64
				var pc, z, m sql.NullInt64
				if err := r.Scan(&cid, &id, &pc, &z, &m); err != nil {
					return err
				}
				if p := out[id]; p != nil {
					if p.rules == nil {
						p.rules = map[int64]allot.ChannelRules{}
					}
					p.rules[cid] = allot.ChannelRules{Percent: intPtr(pc), ZeroAt: intPtr(z), Max: intPtr(m)}
				}
				return nil
			})
		if err != nil {
			return nil, err
		}
	}
	for _, part := range chunks(bundles) {
		err := each(`SELECT b.bundle_id, b.component_id, p.sku, b.quantity FROM bundle_components b
			JOIN products p ON p.id = b.component_id WHERE b.bundle_id {in} ORDER BY b.bundle_id, p.sku`, part, nil,
			func(r *sql.Rows) error {
				var bundle int64
				var c keptComponent
				if err := r.Scan(&bundle, &c.id, &c.sku, &c.quantity); err != nil {
					return err
				}
				out[bundle].components = append(out[bundle].components, c)
				return nil
			})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// keptRefs is ProductRefs from the kept definitions: the SKUs found there,
// and those to look up.
func (d *definitions) keptRefs(skus []string) (found map[string]ProductRef, missing []string) {
	found = make(map[string]ProductRef, len(skus))
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, sku := range skus {
		if r, ok := d.bySKU[sku]; ok {
			found[sku] = r
		} else {
			missing = append(missing, sku)
		}
	}
	return found, missing
}

// keepRefs keeps SKUs looked up: a product's SKU, id and kind do not change
// while the version does not.
func (d *definitions) keepRefs(refs map[string]ProductRef) {
	d.mu.Lock()
	defer d.mu.Unlock()
	maps.Copy(d.bySKU, refs)
}

// keptBundlesOf is BundlesOf from the kept definitions.
func (tx *Tx) keptBundlesOf(ids []int64) ([]int64, error) {
	ps, err := tx.keptProducts(ids)
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, p := range ps {
		out = append(out, p.bundles...)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// keptSnapshot is SnapshotDefinitions of a few products from the kept
// definitions: the same snapshot, without reading them.
func (tx *Tx) keptSnapshot(s *Snapshot, productIDs []int64) error {
	d, st := tx.defs, s.State
	// The products and the components of the bundles among them.
	ps, err := tx.keptProducts(productIDs)
	if err != nil {
		return err
	}
	var more []int64
	for _, p := range ps {
		for _, c := range p.components {
			if _, ok := ps[c.id]; !ok {
				more = append(more, c.id)
			}
		}
	}
	if len(more) > 0 {
		comps, err := tx.keptProducts(more)
		if err != nil {
			return err
		}
		maps.Copy(ps, comps)
	}
	ids := make([]int64, 0, len(productIDs)+len(more))
	seen := make(map[int64]bool, cap(ids))
	for _, id := range slices.Concat(productIDs, more) {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	s.scoped, s.scope = true, ids
	if len(ids) == 0 {
		s.empty = true
		return nil
	}
	for _, id := range ids {
		if p := ps[id]; p != nil {
			s.SKUOf[id], s.ProductOf[p.ref.SKU] = p.ref.SKU, id
			st.SKUs[p.ref.SKU] = &engine.SKU{Code: p.ref.SKU, Stock: map[string]engine.Level{}}
		}
	}
	byID := map[int64]*engine.Allocation{}
	for _, k := range d.allocations {
		if k.endsAt != nil && !k.endsAt.After(tx.Now) {
			continue
		}
		a := k.allocation()
		byID[a.ID] = a
		st.Allocations = append(st.Allocations, a)
	}
	for _, id := range ids {
		p := ps[id]
		if p == nil {
			continue
		}
		sku := st.SKUs[p.ref.SKU]
		for _, c := range p.components {
			sku.Components = append(sku.Components, allot.Component{SKU: c.sku, Quantity: c.quantity})
		}
		for _, l := range p.lines {
			if a := byID[l.allocation]; a != nil {
				a.Lines[p.ref.SKU] = l.quantity
			}
		}
		for cid, r := range p.rules {
			if sku.Rules == nil {
				sku.Rules = map[string]allot.ChannelRules{}
			}
			sku.Rules[d.channelCode[cid]] = r
		}
	}
	s.allocByID = byID
	return nil
}
