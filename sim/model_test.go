package sim_test

import (
	"slices"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/service"
)

// model is what allot should hold after the acknowledged changes: the
// facts, never a figure allot derives (those are recomputed from allot's
// own orders, or checked against what it published at the instant).
type model struct {
	countUnpaid map[string]bool
	listings    map[string]string // mkt's listings → SKU ("" while unlinked)
	stock       map[[2]string]*stockRow
	orders      map[[2]string]*order // by channel and external id
	orderKeys   [][2]string          // in the order they came
	holds       map[int64]*holdM
	holdOrder   []int64
	allocs      map[int64]*alloc
	allocOrder  []int64
	chanOrders  []*chanOrder // what mkt sold, version by version
	network     []*delivery  // webhooks on their way
	delivered   map[string]bool
}

func newModel() *model {
	m := &model{countUnpaid: map[string]bool{"b2b": true}, listings: map[string]string{"M0": "s0", "M1": "s1", "M2": "s2", "M3": ""},
		stock: map[[2]string]*stockRow{}, orders: map[[2]string]*order{}, holds: map[int64]*holdM{}, allocs: map[int64]*alloc{},
		delivered: map[string]bool{}}
	for _, sku := range skus {
		for j, wh := range warehouses {
			m.stock[[2]string{sku, wh}] = &stockRow{in: 8 - 4*j, changed: t0.Add(-time.Hour)}
		}
	}
	return m
}

type stockRow struct {
	in, damaged int
	changed     time.Time // the newest report, shipment or receipt applied
}

func (m *model) stockRow(sku, wh string) *stockRow {
	k := [2]string{sku, wh}
	if m.stock[k] == nil {
		m.stock[k] = &stockRow{}
	}
	return m.stock[k]
}

func (m *model) listingSKU(listing string) string { return m.listings[listing] }

type order struct {
	id            int64
	channel, ext  string
	kind          allot.OrderKind
	payment       allot.Payment
	placedPayment allot.Payment // as placed, to place it again
	request       []allot.Line  // as placed or imported
	lines         []mline
	warehouse     string
	co            *chanOrder // mkt's order, when it came by webhook
	fromHold      bool
}

type mline struct {
	sku, listing          string
	q, shipped, cancelled int
}

func (o *order) open(sku string) int {
	n := 0
	for _, l := range o.lines {
		if l.sku == sku {
			n += l.q - l.shipped - l.cancelled
		}
	}
	return n
}

// take marks units shipped or cancelled as allot does: all open units
// (req nil), or as many as each request line asks from the lines of its
// SKU in order. It returns the units moved by SKU.
func (o *order) take(req []allot.Line, verb string) map[string]int {
	moved := map[string]int{}
	mark := func(i, n int) {
		if verb == "ship" {
			o.lines[i].shipped += n
		} else {
			o.lines[i].cancelled += n
		}
		moved[o.lines[i].sku] += n
	}
	if req == nil {
		for i, l := range o.lines {
			if n := l.q - l.shipped - l.cancelled; n > 0 {
				mark(i, n)
			}
		}
	}
	for _, r := range req {
		want := r.Quantity
		for i, l := range o.lines {
			if l.sku == r.SKU && want > 0 {
				n := min(want, l.q-l.shipped-l.cancelled)
				mark(i, n)
				want -= n
			}
		}
	}
	return moved
}

// addOrder records an order allot acknowledged. With checkAlloc, it
// checks the allocation each line consumed: the one covering its channel
// and SKU now.
func (m *model) addOrder(w *world, got allot.Order, request []allot.Line, kind allot.OrderKind, checkAlloc bool) *order {
	o := &order{id: got.ID, channel: got.Channel, ext: got.ExternalID, kind: kind, payment: got.Payment, placedPayment: got.Payment,
		request: request, warehouse: got.Warehouse}
	for i, l := range request {
		o.lines = append(o.lines, mline{sku: l.SKU, listing: l.Listing, q: l.Quantity})
		if !checkAlloc || i >= len(got.Lines) {
			continue
		}
		var want, have int64
		if a := m.covering(got.Channel, l.SKU); a != nil {
			want = a.id
		}
		if got.Lines[i].Allocation != nil {
			have = *got.Lines[i].Allocation
		}
		if have != want {
			w.failf("order %s line %d (%s on %s) consumed allocation %d; the one covering it is %d", got.ExternalID, i, l.SKU,
				got.Channel, have, want)
		}
	}
	key := [2]string{got.Channel, got.ExternalID}
	if m.orders[key] != nil {
		w.failf("order %s/%s acknowledged twice as new", got.Channel, got.ExternalID)
	}
	m.orders[key] = o
	m.orderKeys = append(m.orderKeys, key)
	return o
}

func (m *model) pickOrder(w *world, ok func(*order) bool) *order {
	var keys [][2]string
	for _, k := range m.orderKeys {
		if ok(m.orders[k]) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	return m.orders[pick(w, keys)]
}

type holdM struct {
	id      int64
	channel string
	lines   []allot.Line
	expires time.Time
	state   string // "" (live until it expires), "released", "confirmed"
}

type alloc struct {
	id       int64
	name     string
	purpose  allot.Purpose
	channels map[string]allot.Rule
	lines    map[string]int
	all      int // the quantity of every SKU, -1 for lines
	ended    bool
}

func newAlloc(p service.AllocationParams) *alloc {
	a := &alloc{name: p.Name, purpose: p.Purpose, channels: map[string]allot.Rule{}, lines: map[string]int{}, all: -1}
	for _, c := range p.Channels {
		a.channels[c.Channel] = c.Rule
	}
	for _, l := range p.Lines {
		a.lines[l.SKU] = l.Quantity
	}
	if p.AllSKUs != nil {
		a.all = p.AllSKUs.Quantity
	}
	return a
}

func (a *alloc) covers(sku string) bool {
	_, ok := a.lines[sku]
	return a.all >= 0 || ok
}

// conflict returns the active allocation (other than self) that shares a
// channel and a SKU with a, if any.
func (m *model) conflict(a *alloc, self int64) *alloc {
	for _, id := range m.allocOrder {
		b := m.allocs[id]
		if b.ended || b.id == self {
			continue
		}
		shared := false
		for c := range a.channels {
			if _, ok := b.channels[c]; ok {
				shared = true
			}
		}
		if !shared {
			continue
		}
		if a.all >= 0 || b.all >= 0 {
			return b
		}
		for sku := range a.lines {
			if b.covers(sku) {
				return b
			}
		}
	}
	return nil
}

// covering is the active allocation that covers channel and SKU.
func (m *model) covering(channel, sku string) *alloc {
	for _, id := range m.allocOrder {
		a := m.allocs[id]
		if _, ok := a.channels[channel]; ok && !a.ended && a.covers(sku) {
			return a
		}
	}
	return nil
}

func (m *model) pickAlloc(w *world, ok func(*alloc) bool) *alloc {
	var ids []int64
	for _, id := range m.allocOrder {
		if a := m.allocs[id]; !a.ended && ok(a) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	return m.allocs[pick(w, ids)]
}

// chanOrder is an order sold on mkt, with each version the platform made
// of it; applied is the newest version allot received (-1: none yet).
type chanOrder struct {
	ext      string
	versions []version
	applied  int
}

type version struct {
	lines     []allot.Line
	payment   allot.Payment
	cancelled bool
	at        time.Time // the platform's updated_at
}

func (c *chanOrder) last() version { return c.versions[len(c.versions)-1] }

// add records a new version, later than every other.
func (c *chanOrder) add(w *world, v version) {
	v.at = w.now
	if len(c.versions) > 0 && !v.at.After(c.last().at) {
		v.at = c.last().at.Add(time.Millisecond)
	}
	v.lines = slices.Clone(v.lines)
	c.versions = append(c.versions, v)
}

// delivery is one webhook delivery of a version of mkt's order.
type delivery struct {
	id    string
	co    *chanOrder
	v     int
	again bool // it will be delivered twice
}
