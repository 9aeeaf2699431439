// Package engine holds allot's allocation rules (spec section 3) as pure
// functions over plain values: given the stock, the allocations and what
// orders have committed and consumed, it returns the quantity every channel
// may show for every SKU and bundle, and explains each one. It does no I/O
// and reads no clock: the time is part of the State.
package engine

import (
	"cmp"
	"slices"
	"time"

	"github.com/allot/allot"
)

// State is everything the rules need. Build it, then ask it questions; it
// indexes itself on the first question, so do not change it afterwards.
type State struct {
	Now         time.Time
	Channels    map[string]*Channel
	SKUs        map[string]*SKU
	Allocations []*Allocation

	indexed bool
	onSKU   map[string][]*Allocation // active allocations with a line for the SKU, in serving order
	allSKUs []*Allocation            // active allocations for every SKU, in serving order
}

// Channel is what the rules need of a channel.
type Channel struct {
	Code string
	// Warehouses feed the channel, in order. The store resolves "all" to
	// the merchant's warehouses, so an empty list means none.
	Warehouses []string
	Rules      allot.ChannelRules
}

// SKU is what the rules need of a product or a bundle.
type SKU struct {
	Code       string
	Stock      map[string]Level // per warehouse code
	Components []allot.Component
	Rules      map[string]allot.ChannelRules // per channel code
}

// Level is the stock of one SKU in one warehouse.
type Level struct {
	InWarehouse int
	Damaged     int
	// Committed is the units of counted, open order lines (and live holds)
	// assigned to this warehouse and not yet shipped.
	Committed int
}

// Sellable is what is physically there and not damaged.
func (l Level) Sellable() int { return l.InWarehouse - l.Damaged }

// Available is what is sellable and not committed to an order, never below 0.
func (l Level) Available() int { return max(0, l.Sellable()-l.Committed) }

// Backordered is what orders have committed beyond what is sellable.
func (l Level) Backordered() int { return max(0, l.Committed-max(0, l.Sellable())) }

// Allocation is what the rules need of an allocation.
type Allocation struct {
	ID       int64
	Name     string
	Purpose  allot.Purpose
	Priority int
	// Seq orders allocations of equal priority: creation order.
	Seq      int64
	Channels map[string]allot.Rule
	Lines    map[string]int
	AllSKUs  *int // one quantity for every SKU, instead of Lines
	// Consumed is, per SKU, the units of its channels' order lines (and
	// live holds) placed while it was active and not cancelled.
	Consumed map[string]int
	StartsAt *time.Time
	EndsAt   *time.Time
}

// ActiveAt reports whether a is in force at t: started, not ended.
func (a *Allocation) ActiveAt(t time.Time) bool {
	if a.StartsAt != nil && t.Before(*a.StartsAt) {
		return false
	}
	return a.EndsAt == nil || t.Before(*a.EndsAt)
}

// Quantity is the line quantity of a for sku, and whether a covers sku.
func (a *Allocation) Quantity(sku string) (int, bool) {
	if a.AllSKUs != nil {
		return *a.AllSKUs, true
	}
	q, ok := a.Lines[sku]
	return q, ok
}

// Remaining is the line quantity minus what was consumed; it may be negative
// when imported orders sold beyond it.
func (a *Allocation) Remaining(sku string) int {
	q, _ := a.Quantity(sku)
	return q - a.Consumed[sku]
}

// Rem is Remaining, never below 0: what the allocation still stands for.
func (a *Allocation) Rem(sku string) int { return max(0, a.Remaining(sku)) }

// Covers reports whether a applies to the (channel, sku) pair.
func (a *Allocation) Covers(channel, sku string) bool {
	if _, ok := a.Channels[channel]; !ok {
		return false
	}
	_, ok := a.Quantity(sku)
	return ok
}

func (st *State) index() {
	if st.indexed {
		return
	}
	st.indexed = true
	active := make([]*Allocation, 0, len(st.Allocations))
	for _, a := range st.Allocations {
		if a.ActiveAt(st.Now) {
			active = append(active, a)
		}
	}
	slices.SortStableFunc(active, servingOrder)
	st.onSKU = make(map[string][]*Allocation)
	for _, a := range active {
		if a.AllSKUs != nil {
			st.allSKUs = append(st.allSKUs, a)
			continue
		}
		for sku := range a.Lines {
			st.onSKU[sku] = append(st.onSKU[sku], a)
		}
	}
}

// servingOrder is the order in which reserves are served from the stock:
// priority (smallest first), then creation.
func servingOrder(a, b *Allocation) int {
	if c := cmp.Compare(a.Priority, b.Priority); c != 0 {
		return c
	}
	return cmp.Compare(a.Seq, b.Seq)
}

// ActiveOn returns the allocations active on sku, in serving order.
func (st *State) ActiveOn(sku string) []*Allocation {
	st.index()
	lines := st.onSKU[sku]
	if len(st.allSKUs) == 0 {
		return lines
	}
	if len(lines) == 0 {
		return st.allSKUs
	}
	merged := slices.Concat(lines, st.allSKUs)
	slices.SortStableFunc(merged, servingOrder)
	return merged
}

// Covering returns the active allocation that covers (channel, sku), if
// any. The store keeps at most one; should there be more, the first in
// serving order wins.
func (st *State) Covering(channel, sku string) *Allocation {
	return covering(st.ActiveOn(sku), channel)
}

// covering is Covering among active, the active allocations of a SKU.
func covering(active []*Allocation, channel string) *Allocation {
	for _, a := range active {
		if _, ok := a.Channels[channel]; ok {
			return a
		}
	}
	return nil
}

// Available is A(c, s): the available units of sku over the warehouses that
// feed channel.
func (st *State) Available(channel, sku string) int {
	c, s := st.Channels[channel], st.SKUs[sku]
	if c == nil || s == nil {
		return 0
	}
	return available(c, s)
}

// available is A(c, s) of a channel and SKU at hand: a recompute of every
// quantity looked each up again by its code, a third of its time.
func available(c *Channel, s *SKU) int {
	a := 0
	for _, w := range c.Warehouses {
		a += s.Stock[w].Available()
	}
	return a
}

// Published is Q(c, s): the quantity channel may show of sku (a product or
// a bundle), after allocations and channel rules. Never negative.
func (st *State) Published(channel, sku string) int {
	return st.compute(channel, sku, nil)
}

// Sellable is what a placed order or hold on channel may take of each SKU:
// its published quantity. It is the same number, named for its use.
func (st *State) Sellable(channel, sku string) int { return st.Published(channel, sku) }

func (st *State) compute(channel, sku string, ex *explainer) int {
	s := st.SKUs[sku]
	c := st.Channels[channel]
	if s == nil || c == nil {
		ex.add(Term{Kind: "unknown", Quantity: 0})
		return 0
	}
	if len(s.Components) > 0 {
		return st.bundle(c, s, ex)
	}
	return st.product(c, s, ex)
}

func (st *State) product(c *Channel, s *SKU, ex *explainer) int {
	A := available(c, s)
	var q int
	active := st.ActiveOn(s.Code) // once: Covering and pool both want them
	x := covering(active, c.Code)
	switch {
	case x == nil:
		q = pool(active, c.Code, s.Code, A, ex)
	case x.Channels[c.Code] == allot.FollowAllocation:
		q = x.Rem(s.Code)
		ex.allocation(x, s.Code)
	case x.Purpose == allot.Reserve:
		q = st.held(x, s.Code, A, ex)
	default: // presell, use_available
		rem := x.Rem(s.Code)
		shared := pool(active, c.Code, s.Code, A, nil)
		q = max(rem, shared)
		ex.presellUseAvailable(x, s.Code, shared)
	}
	return applyRules(s.Rules[c.Code].Over(c.Rules), q, ex)
}

// pool is what a channel sees of A without an allocation of its own: A
// minus what every active reserve (of active, the SKU's) not including it
// still stands for.
func pool(active []*Allocation, channel, sku string, A int, ex *explainer) int {
	ex.add(Term{Kind: "available", Quantity: A})
	left := A
	for _, r := range active {
		if r.Purpose != allot.Reserve {
			continue
		}
		if _, in := r.Channels[channel]; in {
			continue
		}
		rem := r.Rem(sku)
		left -= rem
		ex.add(Term{Kind: "reserve", Allocation: r.ID, Name: r.Name, Quantity: -rem})
	}
	if left < 0 {
		ex.add(Term{Kind: "floor", Quantity: -left})
	}
	return max(0, left)
}

// held serves every active reserve on sku from A, in serving order, each
// taking what it still stands for or what is left; it returns what r got.
func (st *State) held(r *Allocation, sku string, A int, ex *explainer) int {
	left := A
	ex.allocation(r, sku)
	ex.add(Term{Kind: "available", Quantity: A})
	for _, o := range st.ActiveOn(sku) {
		if o.Purpose != allot.Reserve {
			continue
		}
		take := min(o.Rem(sku), left)
		if o == r {
			if cut := r.Rem(sku) - take; cut > 0 {
				ex.add(Term{Kind: "cut", Allocation: r.ID, Name: r.Name, Quantity: -cut})
			}
			return take
		}
		left -= take
		ex.add(Term{Kind: "served_first", Allocation: o.ID, Name: o.Name, Quantity: -take})
	}
	return 0 // r is not active on sku: Covering never returns such an r
}

// bundle publishes the smallest number of whole bundles its components'
// published quantities make; then only the bundle's own pair rules apply,
// since the channel's rules already shaped each component.
func (st *State) bundle(c *Channel, s *SKU, ex *explainer) int {
	q := -1
	for _, comp := range s.Components {
		cq := st.compute(c.Code, comp.SKU, nil)
		n := cq / max(1, comp.Quantity)
		ex.add(Term{Kind: "component", Name: comp.SKU, Value: comp.Quantity, Quantity: n})
		if q < 0 || n < q {
			q = n
		}
	}
	return applyRules(s.Rules[c.Code], max(0, q), ex)
}

// applyRules shapes q with a channel's rules: percent (rounded down), then
// zero_at, then max. The result is never negative.
func applyRules(r allot.ChannelRules, q int, ex *explainer) int {
	q = max(0, q)
	if r.Percent != nil {
		q = q * *r.Percent / 100
		ex.add(Term{Kind: "percent", Value: *r.Percent, Quantity: q})
	}
	if r.ZeroAt != nil && q <= *r.ZeroAt {
		q = 0
		ex.add(Term{Kind: "zero_at", Value: *r.ZeroAt, Quantity: q})
	}
	if r.Max != nil && q > *r.Max {
		q = *r.Max
		ex.add(Term{Kind: "max", Value: *r.Max, Quantity: q})
	}
	return max(0, q)
}

// Shortfalls checks a demand on channel, summed per SKU of products (bundles
// already expanded into their components), against what the channel may
// sell: the SKUs that do not fit, in the order of skus.
func (st *State) Shortfalls(channel string, skus []string, demand map[string]int) []allot.Shortfall {
	var out []allot.Shortfall
	for _, sku := range skus {
		if sellable := st.Sellable(channel, sku); demand[sku] > sellable {
			out = append(out, allot.Shortfall{SKU: sku, Requested: demand[sku], Sellable: sellable})
		}
	}
	return out
}

// Exceeds reports the SKUs of demand that exceed what channel publishes:
// an imported order with any is flagged oversold.
func (st *State) Exceeds(channel string, demand map[string]int) bool {
	for sku, n := range demand {
		if n > st.Published(channel, sku) {
			return true
		}
	}
	return false
}

// AssignWarehouse picks the warehouse an order on channel ships from: the
// first of the channel's warehouses whose available stock covers every
// SKU of the demand, else the first one; "" when the channel has none.
func (st *State) AssignWarehouse(channel string, demand map[string]int) string {
	c := st.Channels[channel]
	if c == nil || len(c.Warehouses) == 0 {
		return ""
	}
	for _, w := range c.Warehouses {
		fits := true
		for sku, n := range demand {
			s := st.SKUs[sku]
			if s == nil || s.Stock[w].Available() < n {
				fits = false
				break
			}
		}
		if fits {
			return w
		}
	}
	return c.Warehouses[0]
}

// Cut reports, for a use_available reserve r, how much of what it stands for
// on sku the stock could not serve for channel (0 when none). The readiness
// checks warn about such cuts.
func (st *State) Cut(r *Allocation, channel, sku string) int {
	return r.Rem(sku) - st.held(r, sku, st.Available(channel, sku), nil)
}
