package service_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/allot/allot"
	"github.com/allot/allot/allottest"
	"github.com/allot/allot/service"
	"github.com/allot/allot/store"
)

// This file checks the service against the spec (sections 2 to 4) in two
// ways: a property test that runs random sequences of operations through
// the real service on a real SQLite file and compares every published
// quantity and stock row with a deliberately naive reference model, and a
// few examples for behaviours the random runs make hard to see.
//
// Where the spec is silent the reference follows the implementation:
//
//   - An order is assigned to the first of its channel's warehouses whose
//     available stock covers every SKU of the order, else to the first one.
//     A later version of an imported order with other lines is assigned
//     again, at that moment, while its previous version still holds its
//     units; a version that only changes the payment keeps the assignment.
//   - "Placed while X was active" is read as: X was in force when the order
//     (or its current lines) reached allot. An unpaid order that is paid
//     later consumes the allocation that was in force when it arrived.
//   - An order counts when it is paid, or unpaid with terms on a channel
//     whose count_unpaid is on, and not wholly cancelled. While it counts,
//     its open units are committed and its units not cancelled (shipped
//     ones included) are consumed.
//   - Shipping lowers in_warehouse (never below 0) even for an order that
//     does not count: the units left the warehouse. The stock row is marked
//     changed at the shipment's time, so a report older than that is
//     ignored. A report applied sets the row's time to its as_of.
//   - Shipping may leave in_warehouse below damaged; sellable is then
//     negative. backordered counts committed units beyond what is sellable,
//     and a negative sellable means nothing is sellable, not that more is
//     backordered: backordered = max(0, committed − max(0, sellable)).
//   - An allocation covers a (channel, SKU) pair from the moment it is
//     created (or its starts_at, if later) until its ends_at; ending it sets
//     ends_at to now. Two allocations conflict when they share a channel and
//     a SKU (or one covers every SKU) and their windows overlap, unless the
//     older one has already ended.
//   - A placed order is checked against what its channel publishes whatever
//     its payment, even if, unpaid, it will not count.
//   - Re-sending the last version of an imported order changes nothing, even
//     if the order was cancelled or shipped since. A version whose
//     updated_at is older than the one applied is ignored. A version with
//     other lines is refused (conflict) once a line has shipped or been
//     cancelled. The import may also update a placed order: the channel's
//     later version of it. Placing the same order again returns the first.
//   - A stock report as of the very time of the last change applies.

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// env is a real service on a fresh SQLite file, one merchant, and a clock
// the test moves.
type env struct {
	ctx context.Context
	svc *service.Service
	who service.Actor
	now time.Time
}

var dbSeq atomic.Int64

// newEnv opens and migrates a fresh database of the engine (a SQLite file
// in dir, or a PostgreSQL schema of its own); cleanup closes and removes it.
func newEnv(tb rapid.TB, engine, dir string, cleanup func(func())) *env {
	tb.Helper()
	ctx := context.Background()
	path := filepath.Join(dir, fmt.Sprintf("allot-%d.db", dbSeq.Add(1)))
	drop := func() {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			os.Remove(path + suffix)
		}
	}
	if engine == "postgres" {
		var err error
		if path, drop, err = allottest.PostgresSchema(); err != nil {
			tb.Fatalf("%v", err)
		}
	}
	db, err := store.Open(ctx, path)
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	cleanup(func() {
		db.Close()
		drop()
	})
	if err := db.Migrate(ctx); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	e := &env{ctx: ctx, now: t0}
	e.svc = service.New(db)
	e.svc.Now = func() time.Time { return e.now }
	id, _, err := e.svc.CreateMerchant(ctx, "m", "Merchant", "test_token_0123456789")
	if err != nil {
		tb.Fatalf("create merchant: %v", err)
	}
	e.who = service.Actor{Merchant: id, Name: "test"}
	return e
}

func testEnv(t *testing.T) *env {
	return newEnv(t, "sqlite", t.TempDir(), t.Cleanup)
}

// must turns a call's error into a test failure: must(f())(tb).
func must[V any](v V, err error) func(rapid.TB) V {
	return func(tb rapid.TB) V {
		tb.Helper()
		if err != nil {
			tb.Fatalf("unexpected error: %v", err)
		}
		return v
	}
}

func (e *env) product(tb rapid.TB, sku string, comps ...allot.Component) {
	tb.Helper()
	if _, _, err := e.svc.PutProduct(e.ctx, e.who, allot.Product{SKU: sku, Name: sku, Components: comps}); err != nil {
		tb.Fatalf("put product %s: %v", sku, err)
	}
}

func (e *env) warehouse(tb rapid.TB, code string) {
	tb.Helper()
	if _, err := e.svc.PutWarehouse(e.ctx, e.who, allot.Warehouse{Code: code}); err != nil {
		tb.Fatalf("put warehouse %s: %v", code, err)
	}
}

func (e *env) channel(tb rapid.TB, code string, p allot.Platform, countUnpaid bool, warehouses ...string) {
	tb.Helper()
	c := allot.Channel{Code: code, Platform: p, CountUnpaid: countUnpaid, Warehouses: warehouses}
	if _, _, err := e.svc.PutChannel(e.ctx, e.who, c); err != nil {
		tb.Fatalf("put channel %s: %v", code, err)
	}
}

func (e *env) report(tb rapid.TB, w, sku string, in, damaged int, asOf time.Time) service.StockResult {
	tb.Helper()
	return must(e.svc.ReportStock(e.ctx, e.who, allot.StockReport{Warehouse: w, SKU: sku, InWarehouse: in, Damaged: damaged, AsOf: asOf}))(tb)
}

// quantities reads what every channel publishes of every SKU and bundle.
func (e *env) quantities(tb rapid.TB) map[string]map[string]int {
	tb.Helper()
	return must(e.svc.Quantities(e.ctx, e.who, nil))(tb)
}

func (e *env) published(tb rapid.TB, channel, sku string) int {
	tb.Helper()
	return e.quantities(tb)[sku][channel]
}

// stock reads every stock row, by (SKU, warehouse).
func (e *env) stock(tb rapid.TB) map[[2]string]allot.Stock {
	tb.Helper()
	out := map[[2]string]allot.Stock{}
	for _, s := range must(e.svc.ListStock(e.ctx, e.who, ""))(tb) {
		out[[2]string{s.SKU, s.Warehouse}] = s
	}
	return out
}

// remaining reads, for every allocation not yet ended, the remaining
// units of each line it shows.
func (e *env) remaining(tb rapid.TB) map[int64]map[string]int {
	tb.Helper()
	out := map[int64]map[string]int{}
	for _, a := range must(e.svc.ListAllocations(e.ctx, e.who, true))(tb) {
		out[a.ID] = map[string]int{}
		for _, l := range a.Lines {
			out[a.ID][l.SKU] = l.Remaining
		}
	}
	return out
}

func code(err error) string {
	if err == nil {
		return ""
	}
	var e *allot.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return "internal: " + err.Error()
}

// ---------------------------------------------------------------------
// The reference model. It keeps the facts (stock reports, orders,
// allocations) and computes every derived figure from scratch, with the
// spec's formulas written out plainly. It shares no code with package
// engine.

type refModel struct {
	now        time.Time
	warehouses []string // in creation order: "all warehouses"
	products   []string
	bundles    map[string][]allot.Component
	channels   []*refChannel
	stock      map[[2]string]*refStock // (SKU, warehouse)
	allocs     []*refAlloc             // in creation order
	orders     []*refOrder
}

type refChannel struct {
	code        string
	warehouses  []string // resolved: never empty
	countUnpaid bool
}

type refStock struct {
	in, damaged int
	changedAt   time.Time // the newest report's as_of or shipment's time
}

type refAlloc struct {
	id       int64
	purpose  allot.Purpose
	rules    map[string]allot.Rule // channel → rule
	lines    map[string]int
	all      *int
	priority int
	created  time.Time
	starts   *time.Time
	ends     *time.Time
}

type refOrder struct {
	channel, ext string
	placed       bool
	payment      allot.Payment
	lines        []refLine
	warehouse    string
	// arrived is when the order's current lines reached allot: the
	// allocations in force then are the ones it consumes.
	arrived time.Time
	// last is the last version placed or imported, to send it again.
	last            service.OrderParams
	sourceUpdatedAt *time.Time
}

type refLine struct {
	sku                          string // as ordered: a product or a bundle
	quantity, shipped, cancelled int
}

func (l refLine) open() int { return l.quantity - l.shipped - l.cancelled }

// units is what one unit of an ordered SKU takes: itself, or a bundle's
// components.
func (m *refModel) units(sku string) []allot.Component {
	if comps, ok := m.bundles[sku]; ok {
		return comps
	}
	return []allot.Component{{SKU: sku, Quantity: 1}}
}

func (m *refModel) channel(code string) *refChannel {
	for _, c := range m.channels {
		if c.code == code {
			return c
		}
	}
	panic("unknown channel " + code)
}

func (m *refModel) stockOf(sku, w string) refStock {
	if s := m.stock[[2]string{sku, w}]; s != nil {
		return *s
	}
	return refStock{}
}

func (m *refModel) stockRow(sku, w string) *refStock {
	k := [2]string{sku, w}
	if m.stock[k] == nil {
		m.stock[k] = &refStock{}
	}
	return m.stock[k]
}

func (m *refModel) allCancelled(o *refOrder) bool {
	for _, l := range o.lines {
		if l.cancelled < l.quantity {
			return false
		}
	}
	return true
}

// counts: paid orders always; unpaid with payment terms when the channel
// counts unpaid orders; never a wholly cancelled one.
func (m *refModel) counts(o *refOrder) bool {
	if m.allCancelled(o) {
		return false
	}
	return o.payment == allot.Paid || (o.payment == allot.Terms && m.channel(o.channel).countUnpaid)
}

// committed = units of open order lines assigned to the warehouse and not
// yet shipped, of orders that count.
func (m *refModel) committed(sku, w string) int {
	n := 0
	for _, o := range m.orders {
		if !m.counts(o) || o.warehouse != w {
			continue
		}
		for _, l := range o.lines {
			for _, u := range m.units(l.sku) {
				if u.SKU == sku {
					n += l.open() * u.Quantity
				}
			}
		}
	}
	return n
}

func (m *refModel) sellable(sku, w string) int {
	s := m.stockOf(sku, w)
	return s.in - s.damaged
}

func (m *refModel) available(sku, w string) int {
	return max(0, m.sellable(sku, w)-m.committed(sku, w))
}

func (m *refModel) backordered(sku, w string) int {
	return max(0, m.committed(sku, w)-max(0, m.sellable(sku, w)))
}

// channelAvailable is A(c, s): available summed over the warehouses that
// feed c.
func (m *refModel) channelAvailable(c, sku string) int {
	a := 0
	for _, w := range m.channel(c).warehouses {
		a += m.available(sku, w)
	}
	return a
}

// inForceAt says whether allocation x was in force at t: created, started,
// not ended.
func (x *refAlloc) inForceAt(t time.Time) bool {
	if t.Before(x.created) {
		return false
	}
	if x.starts != nil && t.Before(*x.starts) {
		return false
	}
	return x.ends == nil || t.Before(*x.ends)
}

func (x *refAlloc) coversSKU(sku string) bool {
	if x.all != nil {
		return true
	}
	_, ok := x.lines[sku]
	return ok
}

func (x *refAlloc) quantity(sku string) int {
	if x.all != nil {
		return *x.all
	}
	return x.lines[sku]
}

// allocationAt is the allocation that covered (channel, SKU) at t; the
// spec says there is at most one.
func (m *refModel) allocationAt(tb rapid.TB, channel, sku string, t time.Time) *refAlloc {
	var found *refAlloc
	for _, x := range m.allocs {
		if _, in := x.rules[channel]; !in || !x.coversSKU(sku) || !x.inForceAt(t) {
			continue
		}
		if found != nil {
			tb.Fatalf("(%s, %s) is covered by two allocations at %s: %d and %d", channel, sku, t, found.id, x.id)
		}
		found = x
	}
	return found
}

// remaining(X, s) = the line's quantity − the units of order lines from X's
// channels for s, placed while X was in force, and not cancelled (of orders
// that count).
func (m *refModel) remaining(tb rapid.TB, x *refAlloc, sku string) int {
	used := 0
	for _, o := range m.orders {
		if _, in := x.rules[o.channel]; !in || !m.counts(o) || !x.coversSKU(sku) || !x.inForceAt(o.arrived) {
			continue
		}
		for _, l := range o.lines {
			for _, u := range m.units(l.sku) {
				if u.SKU == sku {
					used += (l.quantity - l.cancelled) * u.Quantity
				}
			}
		}
	}
	return x.quantity(sku) - used
}

func (m *refModel) rem(tb rapid.TB, x *refAlloc, sku string) int {
	return max(0, m.remaining(tb, x, sku))
}

// activeReserves lists the reserves in force now on sku, by priority
// (smallest first), then creation.
func (m *refModel) activeReserves(sku string) []*refAlloc {
	var out []*refAlloc
	for _, x := range m.allocs {
		if x.purpose == allot.Reserve && x.coversSKU(sku) && x.inForceAt(m.now) {
			out = append(out, x)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].priority < out[j].priority })
	return out
}

// pool(c, s) = max(0, A − Σ rem(R, s)) over the active reserves on s that
// do not include c.
func (m *refModel) pool(tb rapid.TB, c, sku string) int {
	left := m.channelAvailable(c, sku)
	for _, r := range m.activeReserves(sku) {
		if _, in := r.rules[c]; !in {
			left -= m.rem(tb, r, sku)
		}
	}
	return max(0, left)
}

// held(R, s): every active reserve on s, whatever its rules, is served from
// A(c, s) in order, each taking min(rem, what is left).
func (m *refModel) held(tb rapid.TB, r *refAlloc, c, sku string) int {
	left := m.channelAvailable(c, sku)
	for _, x := range m.activeReserves(sku) {
		take := min(m.rem(tb, x, sku), left)
		if x == r {
			return take
		}
		left -= take
	}
	tb.Fatalf("reserve %d is not active on %s", r.id, sku)
	return 0
}

// published is Q(c, s), the table of section 3; a bundle publishes the
// smallest number of whole bundles its components' quantities make.
func (m *refModel) published(tb rapid.TB, c, sku string) int {
	if comps, ok := m.bundles[sku]; ok {
		q := -1
		for _, comp := range comps {
			n := m.published(tb, c, comp.SKU) / comp.Quantity
			if q < 0 || n < q {
				q = n
			}
		}
		return max(0, q)
	}
	x := m.allocationAt(tb, c, sku, m.now)
	switch {
	case x == nil:
		return m.pool(tb, c, sku)
	case x.purpose == allot.Reserve && x.rules[c] == allot.FollowAllocation:
		return m.rem(tb, x, sku)
	case x.purpose == allot.Reserve:
		return m.held(tb, x, c, sku)
	case x.rules[c] == allot.FollowAllocation:
		return m.rem(tb, x, sku)
	default:
		return max(m.rem(tb, x, sku), m.pool(tb, c, sku))
	}
}

// publishedCase names the row of the table that gives Q(c, s), for the
// outcome counts.
func (m *refModel) publishedCase(tb rapid.TB, c, sku string, q int) string {
	if _, ok := m.bundles[sku]; ok {
		return fmt.Sprintf("bundle, positive %v", q > 0)
	}
	x := m.allocationAt(tb, c, sku, m.now)
	switch {
	case x == nil:
		return fmt.Sprintf("no allocation, positive %v", q > 0)
	case x.purpose == allot.Reserve && x.rules[c] == allot.UseAvailable && q < m.rem(tb, x, sku):
		return "reserve use_available, cut"
	case x.purpose == allot.Presell && x.rules[c] == allot.UseAvailable && q > m.rem(tb, x, sku):
		return "presell use_available, pool wins"
	}
	return fmt.Sprintf("%s %s", x.purpose, x.rules[c])
}

// demand sums an order's units not cancelled per product SKU.
func (m *refModel) demand(lines []refLine) map[string]int {
	d := map[string]int{}
	for _, l := range lines {
		for _, u := range m.units(l.sku) {
			d[u.SKU] += (l.quantity - l.cancelled) * u.Quantity
		}
	}
	return d
}

// assign picks the first of the channel's warehouses whose available stock
// covers every SKU of the order, else the first one.
func (m *refModel) assign(channel string, lines []refLine) string {
	ws := m.channel(channel).warehouses
	d := m.demand(lines)
	for _, w := range ws {
		fits := true
		for sku, n := range d {
			if m.available(sku, w) < n {
				fits = false
			}
		}
		if fits {
			return w
		}
	}
	return ws[0]
}

// conflict says whether a new allocation would share a (channel, SKU) pair
// with one not yet ended during an overlapping window.
func (m *refModel) conflict(p service.AllocationParams) bool {
	for _, y := range m.allocs {
		if y.ends != nil && !y.ends.After(m.now) {
			continue // ended
		}
		shared := false
		for _, c := range p.Channels {
			if _, in := y.rules[c.Channel]; in {
				shared = true
			}
		}
		if !shared {
			continue
		}
		overlap := p.AllSKUs != nil || y.all != nil
		for _, l := range p.Lines {
			if _, in := y.lines[l.SKU]; in {
				overlap = true
			}
		}
		if !overlap {
			continue
		}
		if (p.EndsAt == nil || y.starts == nil || y.starts.Before(*p.EndsAt)) &&
			(p.StartsAt == nil || y.ends == nil || y.ends.After(*p.StartsAt)) {
			return true
		}
	}
	return false
}

func toRefLines(lines []allot.Line) []refLine {
	out := make([]refLine, len(lines))
	for i, l := range lines {
		out[i] = refLine{sku: l.SKU, quantity: l.Quantity}
	}
	return out
}

func sameLines(a []refLine, b []allot.Line) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].sku != b[i].SKU || a[i].quantity != b[i].Quantity {
			return false
		}
	}
	return true
}

// ---------------------------------------------------------------------
// The property test.

// run is one random sequence: the environment, the model, a counter for
// fresh external ids, and the outcomes met.
type run struct {
	e      *env
	m      *refModel
	orders int
	checks int            // comparisons made, to rotate the narrower reads
	seen   map[string]int // outcomes met, reported with -v
}

// saw counts an outcome, so that -v shows what the random runs exercised.
func (r *run) saw(outcome string) { r.seen[outcome]++ }

// It runs on every storage engine: the same random sequences must give the
// same answers on SQLite and PostgreSQL.
func TestRandomOperationsMatchTheSpecReference(t *testing.T) {
	t.Parallel()
	allottest.Each(t, func(t *testing.T, engine string) { randomOperations(t, engine) })
}

func randomOperations(t *testing.T, engine string) {
	dir := t.TempDir()
	seen := map[string]int{}
	defer func() {
		keys := make([]string, 0, len(seen))
		for k := range seen {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&b, "\n  %-40s %d", k, seen[k])
		}
		t.Logf("outcomes:%s", b.String())
	}()
	rapid.Check(t, func(rt *rapid.T) {
		r := setup(rt, engine, dir, seen)
		steps := rapid.IntRange(1, 40).Draw(rt, "steps")
		for i := 0; i < steps; i++ {
			r.e.now = r.e.now.Add(rapid.SampledFrom([]time.Duration{time.Second, time.Minute, 10 * time.Minute, time.Hour}).Draw(rt, "wait"))
			r.m.now = r.e.now
			op := rapid.SampledFrom([]string{"report", "report", "allocate", "allocate", "end", "patch",
				"import", "import", "reimport", "reimport", "place", "place", "place", "cancel", "cancel", "ship", "ship"}).Draw(rt, "op")
			switch op {
			case "report":
				r.report(rt)
			case "allocate":
				r.allocate(rt)
			case "end":
				r.end(rt)
			case "patch":
				r.patch(rt)
			case "import":
				r.importNew(rt)
			case "reimport":
				r.reimport(rt)
			case "place":
				r.place(rt)
			case "cancel":
				r.progress(rt, "cancel")
			case "ship":
				r.progress(rt, "ship")
			}
			r.compare(rt)
		}
	})
}

// setup builds a merchant with 2–3 SKUs, maybe a bundle, 1–2 warehouses and
// three channels (b2b counts unpaid orders with terms), each fed by a
// drawn list of warehouses, and some initial stock.
func setup(rt *rapid.T, engine, dir string, seen map[string]int) *run {
	e := newEnv(rt, engine, dir, rt.Cleanup)
	m := &refModel{now: e.now, bundles: map[string][]allot.Component{}, stock: map[[2]string]*refStock{}}
	r := &run{e: e, m: m, seen: seen}
	for _, w := range []string{"w1", "w2"}[:rapid.IntRange(1, 2).Draw(rt, "warehouses")] {
		e.warehouse(rt, w)
		m.warehouses = append(m.warehouses, w)
	}
	for _, sku := range []string{"a", "b", "c"}[:rapid.IntRange(2, 3).Draw(rt, "skus")] {
		e.product(rt, sku)
		m.products = append(m.products, sku)
	}
	if rapid.Bool().Draw(rt, "bundle") {
		comps := []allot.Component{{SKU: "a", Quantity: rapid.IntRange(1, 2).Draw(rt, "kit.a")}, {SKU: "b", Quantity: 1}}
		e.product(rt, "kit", comps...)
		m.bundles["kit"] = comps
	}
	feeds := [][]string{nil}
	if len(m.warehouses) == 2 {
		feeds = [][]string{nil, {"w1"}, {"w2"}, {"w1", "w2"}, {"w2", "w1"}}
	}
	for _, c := range []struct {
		code        string
		platform    allot.Platform
		countUnpaid bool
	}{{"web", allot.Generic, false}, {"b2b", allot.API, true}, {"manual", allot.Manual, false}} {
		ws := rapid.SampledFrom(feeds).Draw(rt, c.code+".warehouses")
		e.channel(rt, c.code, c.platform, c.countUnpaid, ws...)
		resolved := ws
		if len(ws) == 0 {
			resolved = m.warehouses
		}
		m.channels = append(m.channels, &refChannel{code: c.code, warehouses: resolved, countUnpaid: c.countUnpaid})
	}
	for _, sku := range m.products {
		for _, w := range m.warehouses {
			if n := rapid.IntRange(0, 20).Draw(rt, "stock."+sku+"."+w); n > 0 {
				e.report(rt, w, sku, n, 0, e.now)
				*m.stockRow(sku, w) = refStock{in: n, changedAt: e.now}
			}
		}
	}
	r.compare(rt)
	return r
}

func (r *run) channelCodes() []string {
	out := make([]string, len(r.m.channels))
	for i, c := range r.m.channels {
		out[i] = c.code
	}
	return out
}

func (r *run) sellables() []string {
	out := slices.Clone(r.m.products)
	for b := range r.m.bundles {
		out = append(out, b)
	}
	slices.Sort(out)
	return out
}

// report sends a stock report, sometimes as of an older time; the model
// says whether it applies.
func (r *run) report(rt *rapid.T) {
	w := rapid.SampledFrom(r.m.warehouses).Draw(rt, "w")
	sku := rapid.SampledFrom(r.m.products).Draw(rt, "sku")
	in := rapid.IntRange(0, 25).Draw(rt, "in_warehouse")
	damaged := 0
	if rapid.IntRange(0, 3).Draw(rt, "has_damaged") == 0 {
		damaged = rapid.IntRange(0, in).Draw(rt, "damaged")
	}
	asOf := r.e.now
	if rapid.Bool().Draw(rt, "old") {
		asOf = asOf.Add(-rapid.SampledFrom([]time.Duration{time.Second, 5 * time.Minute, time.Hour, 4 * time.Hour}).Draw(rt, "age"))
	}
	rt.Logf("report %s/%s in %d damaged %d as of %s", w, sku, in, damaged, asOf.Format(time.TimeOnly))
	res := r.e.report(rt, w, sku, in, damaged, asOf)
	row := r.m.stockRow(sku, w)
	applies := !asOf.Before(row.changedAt)
	if res.Applied != applies {
		rt.Fatalf("report as of %s on a row changed at %s: applied %v, want %v", asOf, row.changedAt, res.Applied, applies)
	}
	if applies {
		row.in, row.damaged, row.changedAt = in, damaged, asOf
		r.saw("report applied")
	} else {
		r.saw("report ignored: older than the last change")
	}
}

func (r *run) drawDuration(rt *rapid.T, label string) time.Duration {
	return rapid.SampledFrom([]time.Duration{time.Minute, 20 * time.Minute, time.Hour, 3 * time.Hour}).Draw(rt, label)
}

// allocate creates a reserve or a presell; the model predicts whether it
// conflicts with one in force or to come.
func (r *run) allocate(rt *rapid.T) {
	p := service.AllocationParams{Purpose: rapid.SampledFrom([]allot.Purpose{allot.Reserve, allot.Presell}).Draw(rt, "purpose")}
	least := 1
	if p.Purpose == allot.Reserve {
		least = 0 // a reserve with no channel: a pure safety margin
	}
	chs := rapid.SliceOfNDistinct(rapid.SampledFrom(r.channelCodes()), least, 2, func(s string) string { return s }).Draw(rt, "channels")
	for _, c := range chs {
		rule := rapid.SampledFrom([]allot.Rule{allot.FollowAllocation, allot.UseAvailable}).Draw(rt, "rule."+c)
		p.Channels = append(p.Channels, allot.AllocationChannel{Channel: c, Rule: rule})
	}
	if rapid.IntRange(0, 4).Draw(rt, "all_skus") == 0 {
		p.AllSKUs = &allot.AllSKUs{Quantity: rapid.IntRange(0, 12).Draw(rt, "all.quantity")}
	} else {
		skus := rapid.SliceOfNDistinct(rapid.SampledFrom(r.m.products), 1, len(r.m.products), func(s string) string { return s }).Draw(rt, "lines")
		for _, s := range skus {
			p.Lines = append(p.Lines, allot.Line{SKU: s, Quantity: rapid.IntRange(0, 12).Draw(rt, "quantity."+s)})
		}
	}
	p.Priority = rapid.IntRange(0, 2).Draw(rt, "priority")
	switch rapid.IntRange(0, 5).Draw(rt, "window") {
	case 4: // starts later, maybe ends
		s := r.e.now.Add(r.drawDuration(rt, "starts_in"))
		p.StartsAt = &s
		if rapid.Bool().Draw(rt, "ends") {
			e := s.Add(r.drawDuration(rt, "lasts"))
			p.EndsAt = &e
		}
	case 5: // started already, ends later
		s := r.e.now.Add(-r.drawDuration(rt, "started_ago"))
		e := r.e.now.Add(r.drawDuration(rt, "ends_in"))
		p.StartsAt, p.EndsAt = &s, &e
	}
	conflict := r.m.conflict(p)
	a, err := r.e.svc.CreateAllocation(r.e.ctx, r.e.who, p)
	rt.Logf("allocate %s %v lines %v all %v priority %d window %v–%v: id %d err %v",
		p.Purpose, p.Channels, p.Lines, p.AllSKUs, p.Priority, p.StartsAt, p.EndsAt, a.ID, err)
	switch {
	case conflict && code(err) == allot.Conflict:
		r.saw("allocation refused: conflict")
		return
	case conflict:
		rt.Fatalf("allocation accepted (err %v) although it conflicts with one in force or to come", err)
	case err != nil:
		rt.Fatalf("allocation refused: %v", err)
	}
	x := &refAlloc{id: a.ID, purpose: p.Purpose, rules: map[string]allot.Rule{}, lines: map[string]int{},
		priority: p.Priority, created: r.e.now, starts: p.StartsAt, ends: p.EndsAt}
	for _, c := range p.Channels {
		x.rules[c.Channel] = c.Rule
	}
	for _, l := range p.Lines {
		x.lines[l.SKU] = l.Quantity
	}
	if p.AllSKUs != nil {
		q := p.AllSKUs.Quantity
		x.all = &q
	}
	r.m.allocs = append(r.m.allocs, x)
	r.saw(fmt.Sprintf("allocation created: %s, %d channels", p.Purpose, len(p.Channels)))
	if p.StartsAt != nil {
		r.saw("allocation created: with a window")
	}
	if p.AllSKUs != nil {
		r.saw("allocation created: all SKUs")
	}
}

func (r *run) pickAllocation(rt *rapid.T, current bool) *refAlloc {
	var xs []*refAlloc
	for _, x := range r.m.allocs {
		if !current || x.ends == nil || x.ends.After(r.e.now) {
			xs = append(xs, x)
		}
	}
	if len(xs) == 0 {
		return nil
	}
	return xs[rapid.IntRange(0, len(xs)-1).Draw(rt, "allocation")]
}

// end ends an allocation now; ending one already ended changes nothing.
func (r *run) end(rt *rapid.T) {
	x := r.pickAllocation(rt, false)
	if x == nil {
		return
	}
	rt.Logf("end allocation %d", x.id)
	must(r.e.svc.EndAllocation(r.e.ctx, r.e.who, x.id))(rt)
	if x.ends != nil && !x.ends.After(r.e.now) {
		r.saw("allocation ended again")
		return
	}
	r.saw("allocation ended")
	now := r.e.now
	x.ends = &now
	if x.starts != nil && x.starts.After(now) {
		x.starts = &now
	}
}

// patch changes the quantity of a line of an allocation not yet ended;
// what the line consumed is kept.
func (r *run) patch(rt *rapid.T) {
	x := r.pickAllocation(rt, true)
	if x == nil {
		return
	}
	q := rapid.IntRange(0, 12).Draw(rt, "new_quantity")
	var p service.AllocationPatch
	if x.all != nil {
		p.AllSKUs = &allot.AllSKUs{Quantity: q}
		x.all = &q
	} else {
		skus := make([]string, 0, len(x.lines))
		for s := range x.lines {
			skus = append(skus, s)
		}
		sort.Strings(skus)
		sku := rapid.SampledFrom(skus).Draw(rt, "patch.sku")
		p.Lines = []allot.Line{{SKU: sku, Quantity: q}}
		x.lines[sku] = q
	}
	rt.Logf("patch allocation %d: lines %v all %v", x.id, p.Lines, p.AllSKUs)
	must(r.e.svc.PatchAllocation(r.e.ctx, r.e.who, x.id, p))(rt)
	r.saw("allocation patched")
}

func (r *run) drawLines(rt *rapid.T) []allot.Line {
	skus := rapid.SliceOfNDistinct(rapid.SampledFrom(r.sellables()), 1, 2, func(s string) string { return s }).Draw(rt, "order.skus")
	lines := make([]allot.Line, len(skus))
	for i, s := range skus {
		lines[i] = allot.Line{SKU: s, Quantity: rapid.IntRange(1, 4).Draw(rt, "order.quantity."+s)}
	}
	return lines
}

func (r *run) drawPayment(rt *rapid.T, label string) allot.Payment {
	return rapid.SampledFrom([]allot.Payment{allot.Paid, allot.Paid, allot.Terms, allot.Unpaid}).Draw(rt, label)
}

// importNew imports a new order: always accepted, flagged oversold when
// it counts and some SKU exceeds what its channel published.
func (r *run) importNew(rt *rapid.T) {
	r.orders++
	p := service.OrderParams{Channel: rapid.SampledFrom(r.channelCodes()).Draw(rt, "channel"), ExternalID: fmt.Sprintf("i%d", r.orders),
		Lines: r.drawLines(rt), Payment: r.drawPayment(rt, "payment")}
	if rapid.Bool().Draw(rt, "updated_at") {
		u := r.e.now
		p.UpdatedAt = &u
	}
	p.Cancelled = rapid.IntRange(0, 9).Draw(rt, "cancelled") == 0
	before := r.e.quantities(rt)
	rt.Logf("import %s/%s %v %s cancelled %v", p.Channel, p.ExternalID, p.Lines, p.Payment, p.Cancelled)
	got, created, err := r.e.svc.ImportOrder(r.e.ctx, r.e.who, p)
	if err != nil || !created {
		rt.Fatalf("import: created %v, err %v", created, err)
	}
	o := &refOrder{channel: p.Channel, ext: p.ExternalID, payment: p.Payment, lines: toRefLines(p.Lines),
		arrived: r.e.now, last: p, sourceUpdatedAt: p.UpdatedAt}
	if p.Cancelled {
		for i := range o.lines {
			o.lines[i].cancelled = o.lines[i].quantity
		}
	}
	o.warehouse = r.m.assign(p.Channel, o.lines)
	oversold := false
	if r.m.counts(o) {
		for sku, n := range r.m.demand(o.lines) {
			if n > before[sku][p.Channel] {
				oversold = true
			}
		}
	}
	if got.Oversold != oversold {
		rt.Fatalf("import %s: oversold %v, want %v (published before: %v)", p.ExternalID, got.Oversold, oversold, before)
	}
	r.m.orders = append(r.m.orders, o)
	r.saw(fmt.Sprintf("import: counts %v, oversold %v", r.m.counts(o), oversold))
	r.checkOrder(rt, o)
}

func (r *run) pickOrder(rt *rapid.T, filter func(*refOrder) bool) *refOrder {
	var os []*refOrder
	for _, o := range r.m.orders {
		if filter(o) {
			os = append(os, o)
		}
	}
	if len(os) == 0 {
		return nil
	}
	return os[rapid.IntRange(0, len(os)-1).Draw(rt, "order")]
}

// reimport sends an order again through the import: the same version
// (which must change nothing), a version with another payment, other lines
// or a cancellation, or a version older than the one applied (ignored).
// A placed order may be updated that way too: the channel's later version
// of it.
func (r *run) reimport(rt *rapid.T) {
	o := r.pickOrder(rt, func(o *refOrder) bool { return !o.placed || rapid.IntRange(0, 3).Draw(rt, "placed too") == 0 })
	if o == nil {
		return
	}
	p := o.last
	p.Lines = slices.Clone(p.Lines)
	variant := rapid.SampledFrom([]string{"same", "same", "payment", "lines", "cancel", "older"}).Draw(rt, "variant")
	later := func() {
		if rapid.Bool().Draw(rt, "updated_at") {
			u := r.e.now
			p.UpdatedAt = &u
		} else {
			p.UpdatedAt = nil
		}
	}
	switch variant {
	case "payment":
		p.Payment = r.drawPayment(rt, "new_payment")
		later()
	case "lines":
		p.Lines = r.drawLines(rt)
		p.Cancelled = false
		later()
	case "cancel":
		p.Cancelled = true
		later()
	case "older":
		if o.sourceUpdatedAt == nil {
			return
		}
		u := o.sourceUpdatedAt.Add(-time.Second)
		p.UpdatedAt = &u
		p.Payment = r.drawPayment(rt, "old_payment")
		p.Lines = r.drawLines(rt)
	}
	beforeQ, beforeS := r.e.quantities(rt), r.e.stock(rt)
	rt.Logf("reimport (%s) %s/%s %v %s cancelled %v updated %v", variant, p.Channel, p.ExternalID, p.Lines, p.Payment, p.Cancelled, p.UpdatedAt)
	_, created, err := r.e.svc.ImportOrder(r.e.ctx, r.e.who, p)
	if created {
		rt.Fatalf("reimport of %s created a new order", p.ExternalID)
	}

	// The model of a later version.
	linesChanged := !sameLines(o.lines, p.Lines)
	ignored := (p.UpdatedAt != nil && o.sourceUpdatedAt != nil && p.UpdatedAt.Before(*o.sourceUpdatedAt)) ||
		(!linesChanged && p.Payment == o.payment && p.Cancelled == r.m.allCancelled(o))
	progressed := false
	for _, l := range o.lines {
		progressed = progressed || l.shipped > 0 || l.cancelled > 0
	}
	switch {
	case ignored:
		if err != nil {
			rt.Fatalf("reimport of an identical or older version: %v", err)
		}
	case linesChanged && progressed:
		if code(err) != allot.Conflict {
			rt.Fatalf("new lines for an order with shipped or cancelled lines: err %v, want conflict", err)
		}
		ignored = true
	case err != nil:
		rt.Fatalf("reimport: %v", err)
	}
	if ignored || variant == "same" {
		r.saw("reimport changing nothing: " + variant)
		afterQ, afterS := r.e.quantities(rt), r.e.stock(rt)
		if diff := diffQuantities(beforeQ, afterQ); diff != "" {
			rt.Fatalf("re-importing %s (%s) changed the quantities: %s", p.ExternalID, variant, diff)
		}
		if diff := diffStock(beforeS, afterS); diff != "" {
			rt.Fatalf("re-importing %s (%s) changed the stock: %s", p.ExternalID, variant, diff)
		}
		if ignored {
			return
		}
	}
	r.saw("reimport applied: " + variant)
	lines := o.lines
	if linesChanged {
		lines = toRefLines(p.Lines)
	} else {
		lines = slices.Clone(lines)
	}
	if p.Cancelled {
		for i := range lines {
			lines[i].cancelled += lines[i].open()
		}
	}
	if linesChanged {
		// Assigned now, while the previous version still holds its units.
		o.warehouse = r.m.assign(o.channel, lines)
		o.arrived = r.e.now
	}
	o.lines, o.payment, o.last = lines, p.Payment, p
	if p.UpdatedAt != nil {
		o.sourceUpdatedAt = p.UpdatedAt
	}
	r.checkOrder(rt, o)
}

// place places a checked order (sometimes sending an earlier one again):
// accepted exactly when every SKU's demand fits what the channel published
// just before.
func (r *run) place(rt *rapid.T) {
	if prev := r.pickOrder(rt, func(o *refOrder) bool { return o.placed }); prev != nil && rapid.IntRange(0, 5).Draw(rt, "again") == 0 {
		beforeQ := r.e.quantities(rt)
		again := service.OrderParams{Channel: prev.channel, ExternalID: prev.ext, Lines: prev.last.Lines, Payment: prev.last.Payment}
		_, created, err := r.e.svc.PlaceOrder(r.e.ctx, r.e.who, again)
		rt.Logf("place %s again: created %v err %v", prev.ext, created, err)
		if err != nil || created {
			rt.Fatalf("placing %s again: created %v, err %v; want the first order", prev.ext, created, err)
		}
		if diff := diffQuantities(beforeQ, r.e.quantities(rt)); diff != "" {
			rt.Fatalf("placing %s again changed the quantities: %s", prev.ext, diff)
		}
		r.saw("place: the same order again")
		return
	}
	r.orders++
	p := service.OrderParams{Channel: rapid.SampledFrom(r.channelCodes()).Draw(rt, "channel"), ExternalID: fmt.Sprintf("p%d", r.orders),
		Lines: r.drawLines(rt), Payment: r.drawPayment(rt, "payment")}
	before := r.e.quantities(rt)
	lines := toRefLines(p.Lines)
	demand := r.m.demand(lines)
	var short []string
	for sku, n := range demand {
		if n > before[sku][p.Channel] {
			short = append(short, sku)
		}
	}
	sort.Strings(short)
	_, created, err := r.e.svc.PlaceOrder(r.e.ctx, r.e.who, p)
	rt.Logf("place %s/%s %v %s: demand %v, published before %v, err %v", p.Channel, p.ExternalID, p.Lines, p.Payment, demand, before, err)
	if len(short) > 0 {
		var e *allot.Error
		if !errors.As(err, &e) || e.Code != allot.InsufficientStock {
			rt.Fatalf("placed order with %v beyond what %s published: err %v, want insufficient_stock", short, p.Channel, err)
		}
		var named []string
		for _, s := range e.Shortfall {
			named = append(named, s.SKU)
			if s.Requested != demand[s.SKU] || s.Sellable != before[s.SKU][p.Channel] {
				rt.Fatalf("shortfall %+v: want requested %d, sellable %d", s, demand[s.SKU], before[s.SKU][p.Channel])
			}
		}
		sort.Strings(named)
		if !slices.Equal(named, short) {
			rt.Fatalf("shortfall names %v, want %v", named, short)
		}
		r.saw("place: refused, insufficient stock")
		return
	}
	if err != nil || !created {
		rt.Fatalf("placed order that fits (demand %v, published %v): created %v, err %v", demand, before, created, err)
	}
	o := &refOrder{channel: p.Channel, ext: p.ExternalID, placed: true, payment: p.Payment, lines: lines, arrived: r.e.now, last: p}
	o.warehouse = r.m.assign(p.Channel, lines)
	r.saw("place: accepted")
	if o.warehouse != r.m.channel(o.channel).warehouses[0] {
		r.saw("order assigned to a later warehouse")
	}
	r.m.orders = append(r.m.orders, o)
	r.checkOrder(rt, o)
}

// progress cancels or ships an order, whole or one line in part. A
// cancellation must give back exactly what the line took: its committed
// units in its warehouse, and to the allocation each unit consumed.
func (r *run) progress(rt *rapid.T, verb string) {
	o := r.pickOrder(rt, func(*refOrder) bool { return true })
	if o == nil {
		return
	}
	moved := make([]int, len(o.lines))
	var req []allot.Line
	var open []int
	for i, l := range o.lines {
		if l.open() > 0 {
			open = append(open, i)
		}
	}
	if len(open) == 0 || rapid.Bool().Draw(rt, verb+".whole") {
		for i, l := range o.lines {
			moved[i] = l.open()
		}
	} else {
		i := rapid.SampledFrom(open).Draw(rt, verb+".line")
		n := rapid.IntRange(1, o.lines[i].open()).Draw(rt, verb+".quantity")
		moved[i] = n
		req = []allot.Line{{SKU: o.lines[i].sku, Quantity: n}}
	}
	counted := r.m.counts(o)
	total := 0
	for _, n := range moved {
		total += n
	}
	r.saw(fmt.Sprintf("%s: whole %v, counted %v, moves units %v", verb, req == nil, counted, total > 0))
	beforeS, beforeR := r.e.stock(rt), r.e.remaining(rt)
	rt.Logf("%s %s/%s %v (moves %v)", verb, o.channel, o.ext, req, moved)
	var err error
	if verb == "cancel" {
		_, err = r.e.svc.CancelOrder(r.e.ctx, r.e.who, o.channel, o.ext, req)
	} else {
		_, err = r.e.svc.ShipOrder(r.e.ctx, r.e.who, o.channel, o.ext, req)
	}
	if err != nil {
		rt.Fatalf("%s: %v", verb, err)
	}

	// What the model expects the move to give back: committed units per
	// SKU in the order's warehouse, and consumed units per (allocation, SKU).
	committed := map[string]int{}
	consumed := map[int64]map[string]int{}
	for i, l := range o.lines {
		for _, u := range r.m.units(l.sku) {
			if counted {
				committed[u.SKU] += moved[i] * u.Quantity
			}
			if x := r.m.allocationAt(rt, o.channel, u.SKU, o.arrived); x != nil && counted && verb == "cancel" && moved[i] > 0 {
				r.saw("cancel: gives back to an allocation")
				if consumed[x.id] == nil {
					consumed[x.id] = map[string]int{}
				}
				consumed[x.id][u.SKU] += moved[i] * u.Quantity
			}
		}
	}
	for i := range o.lines {
		if verb == "cancel" {
			o.lines[i].cancelled += moved[i]
			continue
		}
		if moved[i] == 0 {
			continue
		}
		o.lines[i].shipped += moved[i]
		for _, u := range r.m.units(o.lines[i].sku) {
			row := r.m.stockRow(u.SKU, o.warehouse)
			if row.in < moved[i]*u.Quantity {
				r.saw("ship: more than in_warehouse")
			} else if row.in-moved[i]*u.Quantity < row.damaged {
				r.saw("ship: in_warehouse below damaged")
			}
			row.in = max(0, row.in-moved[i]*u.Quantity)
			if row.changedAt.Before(r.e.now) {
				row.changedAt = r.e.now
			}
		}
	}

	afterS, afterR := r.e.stock(rt), r.e.remaining(rt)
	for _, sku := range r.m.products {
		k := [2]string{sku, o.warehouse}
		if got := beforeS[k].Committed - afterS[k].Committed; got != committed[sku] {
			rt.Fatalf("%s of %s: committed %s in %s dropped by %d, want %d", verb, o.ext, sku, o.warehouse, got, committed[sku])
		}
	}
	for id, lines := range beforeR {
		if afterR[id] == nil {
			continue // ended meanwhile
		}
		for sku, rem := range lines {
			if got := afterR[id][sku] - rem; got != consumed[id][sku] {
				rt.Fatalf("%s of %s: allocation %d's remaining for %s rose by %d, want %d", verb, o.ext, id, sku, got, consumed[id][sku])
			}
		}
	}
	r.checkOrder(rt, o)
}

// checkOrder compares an order as the service reports it with the model:
// progress of each line, its warehouse, whether it counts, and the
// allocation each line consumed.
func (r *run) checkOrder(rt *rapid.T, o *refOrder) {
	got := must(r.e.svc.GetOrder(r.e.ctx, r.e.who, o.channel, o.ext))(rt)
	if got.Warehouse != o.warehouse || got.Counts != r.m.counts(o) || got.Payment != o.payment || len(got.Lines) != len(o.lines) {
		rt.Fatalf("order %s: warehouse %q counts %v payment %s lines %d; want %q, %v, %s, %d",
			o.ext, got.Warehouse, got.Counts, got.Payment, len(got.Lines), o.warehouse, r.m.counts(o), o.payment, len(o.lines))
	}
	for i, l := range o.lines {
		g := got.Lines[i]
		if g.SKU != l.sku || g.Quantity != l.quantity || g.Shipped != l.shipped || g.Cancelled != l.cancelled {
			rt.Fatalf("order %s line %d: %+v, want %+v", o.ext, i, g, l)
		}
		// The service shows the first allocation among the line's units,
		// in SKU order.
		units := slices.Clone(r.m.units(l.sku))
		sort.Slice(units, func(a, b int) bool { return units[a].SKU < units[b].SKU })
		var want int64
		for _, u := range units {
			if x := r.m.allocationAt(rt, o.channel, u.SKU, o.arrived); x != nil {
				want = x.id
				break
			}
		}
		var gotID int64
		if g.Allocation != nil {
			gotID = *g.Allocation
		}
		if gotID != want {
			rt.Fatalf("order %s line %d consumed allocation %d, want %d", o.ext, i, gotID, want)
		}
	}
}

// compare checks, after every step, every published quantity, every stock
// row and what every allocation not yet ended has remaining against the
// reference model.
func (r *run) compare(rt *rapid.T) {
	m := r.m
	q := r.e.quantities(rt)
	for sku, row := range q {
		for c, n := range row {
			if n < 0 {
				rt.Fatalf("%s publishes %d of %s", c, n, sku)
			}
		}
	}
	for _, sku := range r.sellables() {
		for _, c := range r.channelCodes() {
			want := m.published(rt, c, sku)
			r.saw("published: " + m.publishedCase(rt, c, sku, want))
			if got, ok := q[sku][c]; !ok || got != want {
				ex, _ := r.e.svc.Explain(r.e.ctx, r.e.who, c, sku)
				rt.Fatalf("%s publishes %d of %s, the reference %d (service: %s)", c, got, sku, want, ex.Text)
			}
		}
	}

	// The narrower reads (one SKU, which also reads its components; one
	// channel) build their own snapshot: they must agree too. One of each
	// per step, in turn, keeps the test fast.
	r.checks++
	skus, channels := r.sellables(), r.channelCodes()
	one := skus[r.checks%len(skus)]
	for c, n := range must(r.e.svc.Quantities(r.e.ctx, r.e.who, []string{one}))(rt)[one] {
		if want := m.published(rt, c, one); n != want {
			rt.Fatalf("quantities of %s alone: %s publishes %d, the reference %d", one, c, n, want)
		}
	}
	c := channels[r.checks%len(channels)]
	for _, cq := range must(r.e.svc.ChannelQuantities(r.e.ctx, r.e.who, c))(rt) {
		if want := m.published(rt, c, cq.SKU); cq.Quantity != want {
			rt.Fatalf("quantities of channel %s: %d of %s, the reference %d", c, cq.Quantity, cq.SKU, want)
		}
	}

	stock := r.e.stock(rt)
	for _, sku := range m.products {
		for _, w := range m.warehouses {
			got := stock[[2]string{sku, w}]
			s := m.stockOf(sku, w)
			want := allot.Stock{InWarehouse: s.in, Damaged: s.damaged, Committed: m.committed(sku, w),
				Available: m.available(sku, w), Backordered: m.backordered(sku, w)}
			if got.InWarehouse != want.InWarehouse || got.Damaged != want.Damaged || got.Committed != want.Committed ||
				got.Available != want.Available || got.Backordered != want.Backordered {
				rt.Fatalf("stock %s in %s: in_warehouse %d damaged %d committed %d available %d backordered %d; "+
					"the reference %d, %d, %d, %d, %d", sku, w, got.InWarehouse, got.Damaged, got.Committed, got.Available, got.Backordered,
					want.InWarehouse, want.Damaged, want.Committed, want.Available, want.Backordered)
			}
		}
	}
	rems := r.e.remaining(rt)
	current := 0
	for _, x := range m.allocs {
		if x.ends != nil && !x.ends.After(m.now) {
			continue
		}
		current++
		got, ok := rems[x.id]
		if !ok {
			rt.Fatalf("allocation %d is not listed as current", x.id)
		}
		for _, sku := range m.products {
			if !x.coversSKU(sku) {
				continue
			}
			want := m.remaining(rt, x, sku)
			n, shown := got[sku]
			if !shown && (x.all == nil || want != x.quantity(sku)) {
				rt.Fatalf("allocation %d shows no line for %s; the reference has %d remaining", x.id, sku, want)
			}
			if shown && n != want {
				rt.Fatalf("allocation %d has %d remaining of %s, the reference %d", x.id, n, sku, want)
			}
		}
	}
	if current != len(rems) {
		rt.Fatalf("%d allocations listed as current, the reference has %d", len(rems), current)
	}
}

func diffQuantities(a, b map[string]map[string]int) string {
	var out []string
	for sku, row := range a {
		for c, n := range row {
			if b[sku][c] != n {
				out = append(out, fmt.Sprintf("%s/%s %d → %d", c, sku, n, b[sku][c]))
			}
		}
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

func diffStock(a, b map[[2]string]allot.Stock) string {
	var out []string
	for k, s := range a {
		t := b[k]
		if s.InWarehouse != t.InWarehouse || s.Committed != t.Committed || s.Available != t.Available || s.Backordered != t.Backordered {
			out = append(out, fmt.Sprintf("%s/%s %+v → %+v", k[1], k[0], s, t))
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, fmt.Sprintf("%s/%s new row", k[1], k[0]))
		}
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// ---------------------------------------------------------------------
// Examples of what the random runs make hard to see.

// shop is a merchant with one warehouse w1, products a and b, a bundle kit
// (2 × a + 1 × b), and channels web, b2b (counts unpaid orders with terms)
// and manual, all fed by w1.
func shop(t *testing.T) *env {
	return shopOn(t, "sqlite")
}

// shopOn is shop on a database of the engine.
func shopOn(t *testing.T, engine string) *env {
	e := newEnv(t, engine, t.TempDir(), t.Cleanup)
	e.warehouse(t, "w1")
	e.product(t, "a")
	e.product(t, "b")
	e.product(t, "kit", allot.Component{SKU: "a", Quantity: 2}, allot.Component{SKU: "b", Quantity: 1})
	e.channel(t, "web", allot.Generic, false)
	e.channel(t, "b2b", allot.API, true)
	e.channel(t, "manual", allot.Manual, false)
	return e
}

func (e *env) importOrder(t *testing.T, channel, ext string, payment allot.Payment, lines ...allot.Line) allot.Order {
	t.Helper()
	o, _, err := e.svc.ImportOrder(e.ctx, e.who, service.OrderParams{Channel: channel, ExternalID: ext, Lines: lines, Payment: payment})
	if err != nil {
		t.Fatalf("import %s: %v", ext, err)
	}
	return o
}

func (e *env) stockRowOf(t *testing.T, sku, w string) allot.Stock {
	t.Helper()
	return e.stock(t)[[2]string{sku, w}]
}

func (e *env) allocation(t *testing.T, p service.AllocationParams) int64 {
	t.Helper()
	a, err := e.svc.CreateAllocation(e.ctx, e.who, p)
	if err != nil {
		t.Fatalf("create allocation: %v", err)
	}
	return a.ID
}

func (e *env) remainingOf(t *testing.T, id int64, sku string) int {
	t.Helper()
	a := must(e.svc.GetAllocation(e.ctx, e.who, id))(t)
	for _, l := range a.Lines {
		if l.SKU == sku {
			return l.Remaining
		}
	}
	t.Fatalf("allocation %d has no line for %s", id, sku)
	return 0
}

func TestStockReportOlderThanAShipmentIsIgnored(t *testing.T) {
	t.Parallel()
	e := shop(t)
	e.report(t, "w1", "a", 10, 0, t0)
	e.importOrder(t, "web", "o1", allot.Paid, allot.Line{SKU: "a", Quantity: 4})
	e.now = t0.Add(time.Hour)
	must(e.svc.ShipOrder(e.ctx, e.who, "web", "o1", nil))(t)
	if s := e.stockRowOf(t, "a", "w1"); s.InWarehouse != 6 || s.Committed != 0 {
		t.Fatalf("after shipping 4 of 10: in_warehouse %d committed %d, want 6 and 0", s.InWarehouse, s.Committed)
	}

	// Counted before the shipment, this report would bring the 4 units back.
	e.now = t0.Add(2 * time.Hour)
	if res := e.report(t, "w1", "a", 10, 0, t0.Add(30*time.Minute)); res.Applied {
		t.Fatalf("a report as of before the shipment was applied")
	}
	if got := e.published(t, "web", "a"); got != 6 {
		t.Fatalf("web publishes %d of a after a stale report, want 6", got)
	}

	// A report after the shipment is the truth again.
	if res := e.report(t, "w1", "a", 5, 0, t0.Add(90*time.Minute)); !res.Applied {
		t.Fatalf("a report as of after the shipment was ignored: %s", res.Reason)
	}
	if got := e.published(t, "web", "a"); got != 5 {
		t.Fatalf("web publishes %d of a, want 5", got)
	}
}

func TestStockReportOlderThanTheNewestReportIsIgnored(t *testing.T) {
	t.Parallel()
	e := shop(t)
	e.now = t0.Add(time.Hour)
	e.report(t, "w1", "a", 7, 0, t0.Add(time.Hour))
	if res := e.report(t, "w1", "a", 3, 0, t0); res.Applied {
		t.Fatalf("an older report was applied")
	}
	if res := e.report(t, "w1", "a", 3, 0, t0.Add(time.Hour)); !res.Applied {
		t.Fatalf("a report as of the same time as the last one was ignored: %s", res.Reason)
	}
	if got := e.published(t, "web", "a"); got != 3 {
		t.Fatalf("web publishes %d of a, want 3", got)
	}
}

func TestCancellationGivesUnitsBackToTheAllocationTheLineConsumed(t *testing.T) {
	t.Parallel()
	e := shop(t)
	e.report(t, "w1", "a", 50, 0, t0)
	first := e.allocation(t, service.AllocationParams{Purpose: allot.Reserve,
		Channels: []allot.AllocationChannel{{Channel: "b2b", Rule: allot.FollowAllocation}}, Lines: []allot.Line{{SKU: "a", Quantity: 10}}})
	e.importOrder(t, "b2b", "o1", allot.Paid, allot.Line{SKU: "a", Quantity: 4})
	if got := e.remainingOf(t, first, "a"); got != 6 {
		t.Fatalf("first reserve has %d remaining after an order of 4, want 6", got)
	}

	// A new reserve replaces the first; the order still belongs to the first.
	e.now = t0.Add(time.Minute)
	must(e.svc.EndAllocation(e.ctx, e.who, first))(t)
	second := e.allocation(t, service.AllocationParams{Purpose: allot.Reserve,
		Channels: []allot.AllocationChannel{{Channel: "b2b", Rule: allot.FollowAllocation}}, Lines: []allot.Line{{SKU: "a", Quantity: 10}}})
	e.now = t0.Add(2 * time.Minute)
	committed := e.stockRowOf(t, "a", "w1").Committed
	must(e.svc.CancelOrder(e.ctx, e.who, "b2b", "o1", []allot.Line{{SKU: "a", Quantity: 3}}))(t)

	if got := committed - e.stockRowOf(t, "a", "w1").Committed; got != 3 {
		t.Fatalf("cancelling 3 units lowered committed by %d", got)
	}
	if got := e.remainingOf(t, first, "a"); got != 9 {
		t.Fatalf("first reserve has %d remaining after 3 of its 4 units were cancelled, want 9", got)
	}
	if got := e.remainingOf(t, second, "a"); got != 10 {
		t.Fatalf("second reserve has %d remaining; the cancellation is not its to take, want 10", got)
	}
	if got := e.published(t, "b2b", "a"); got != 10 {
		t.Fatalf("b2b publishes %d of a, want the second reserve's 10", got)
	}
}

func TestImportingTheSameOrderTwiceEqualsImportingItOnce(t *testing.T) {
	t.Parallel()
	e := shop(t)
	e.report(t, "w1", "a", 10, 0, t0)
	e.report(t, "w1", "b", 10, 0, t0)
	lines := []allot.Line{{SKU: "kit", Quantity: 2}, {SKU: "a", Quantity: 1}}
	e.importOrder(t, "web", "o1", allot.Paid, lines...)
	q, s := e.quantities(t), e.stock(t)
	if s[[2]string{"a", "w1"}].Committed != 5 || s[[2]string{"b", "w1"}].Committed != 2 {
		t.Fatalf("committed after the import: %+v", s)
	}

	e.now = t0.Add(time.Minute)
	_, created, err := e.svc.ImportOrder(e.ctx, e.who, service.OrderParams{Channel: "web", ExternalID: "o1", Lines: lines, Payment: allot.Paid})
	if err != nil || created {
		t.Fatalf("second import: created %v, err %v", created, err)
	}
	if diff := diffQuantities(q, e.quantities(t)); diff != "" {
		t.Fatalf("the second import changed the quantities: %s", diff)
	}
	if diff := diffStock(s, e.stock(t)); diff != "" {
		t.Fatalf("the second import changed the stock: %s", diff)
	}

	// A later version that is not paid any more gives its units back.
	e.importOrder(t, "web", "o1", allot.Unpaid, lines...)
	if got := e.published(t, "web", "a"); got != 10 {
		t.Fatalf("web publishes %d of a once the order is unpaid, want 10", got)
	}
}

func TestTermsOrderCountsOnlyOnAChannelThatCountsUnpaidOrders(t *testing.T) {
	t.Parallel()
	e := shop(t)
	e.report(t, "w1", "a", 10, 0, t0)
	if o := e.importOrder(t, "web", "o1", allot.Terms, allot.Line{SKU: "a", Quantity: 3}); o.Counts {
		t.Fatalf("a terms order counts on web, which does not count unpaid orders")
	}
	if o := e.importOrder(t, "b2b", "o2", allot.Terms, allot.Line{SKU: "a", Quantity: 4}); !o.Counts {
		t.Fatalf("a terms order does not count on b2b, which counts unpaid orders")
	}
	if o := e.importOrder(t, "b2b", "o3", allot.Unpaid, allot.Line{SKU: "a", Quantity: 2}); o.Counts {
		t.Fatalf("an unpaid order without terms counts")
	}
	if s := e.stockRowOf(t, "a", "w1"); s.Committed != 4 || s.Available != 6 {
		t.Fatalf("committed %d available %d, want 4 and 6", s.Committed, s.Available)
	}
}

func TestPlacedOrderChecksABundleAndItsComponentTogether(t *testing.T) {
	t.Parallel()
	e := shop(t)
	e.report(t, "w1", "a", 3, 0, t0)
	e.report(t, "w1", "b", 5, 0, t0)

	// One kit takes 2 a, the line 2 more: 4 a, where 3 are published.
	_, _, err := e.svc.PlaceOrder(e.ctx, e.who, service.OrderParams{Channel: "manual", ExternalID: "p1",
		Lines: []allot.Line{{SKU: "kit", Quantity: 1}, {SKU: "a", Quantity: 2}}})
	var ae *allot.Error
	if !errors.As(err, &ae) || ae.Code != allot.InsufficientStock {
		t.Fatalf("placing 4 a against 3: err %v, want insufficient_stock", err)
	}
	if want := []allot.Shortfall{{SKU: "a", Requested: 4, Sellable: 3}}; !slices.Equal(ae.Shortfall, want) {
		t.Fatalf("shortfall %+v, want %+v", ae.Shortfall, want)
	}
	if s := e.stockRowOf(t, "a", "w1"); s.Committed != 0 {
		t.Fatalf("a refused order committed %d units", s.Committed)
	}

	if _, _, err := e.svc.PlaceOrder(e.ctx, e.who, service.OrderParams{Channel: "manual", ExternalID: "p2",
		Lines: []allot.Line{{SKU: "kit", Quantity: 1}, {SKU: "a", Quantity: 1}}}); err != nil {
		t.Fatalf("placing 3 a against 3: %v", err)
	}
	if got := e.published(t, "web", "kit"); got != 0 {
		t.Fatalf("web publishes %d kits once every a is taken, want 0", got)
	}
}

// The spec does not say which allocation an order consumes when it starts
// to count after it arrived; allot takes the one in force when it arrived.
func TestOrderPaidLaterConsumesTheAllocationInForceWhenItArrived(t *testing.T) {
	t.Parallel()
	e := shop(t)
	presell := func() int64 {
		return e.allocation(t, service.AllocationParams{Purpose: allot.Presell,
			Channels: []allot.AllocationChannel{{Channel: "web", Rule: allot.FollowAllocation}}, Lines: []allot.Line{{SKU: "a", Quantity: 5}}})
	}
	first := presell()
	e.importOrder(t, "web", "o1", allot.Unpaid, allot.Line{SKU: "a", Quantity: 2})
	if got := e.remainingOf(t, first, "a"); got != 5 {
		t.Fatalf("an unpaid order consumed %d of the presell", 5-got)
	}
	e.now = t0.Add(time.Minute)
	must(e.svc.EndAllocation(e.ctx, e.who, first))(t)
	second := presell()

	e.now = t0.Add(2 * time.Minute)
	e.importOrder(t, "web", "o1", allot.Paid, allot.Line{SKU: "a", Quantity: 2})
	if got := e.remainingOf(t, first, "a"); got != 3 {
		t.Fatalf("first presell has %d remaining once the order is paid, want 3", got)
	}
	if got := e.published(t, "web", "a"); got != 5 {
		t.Fatalf("web publishes %d of a, want the second presell's untouched 5 (second is %d)", got, second)
	}
}

// Shipping can leave in_warehouse below damaged when the warehouse shipped
// units it had counted as damaged; nothing is then sellable, and nothing is
// backordered once the order has left.
func TestShippingBelowDamagedLeavesNothingSellableAndNoBackorder(t *testing.T) {
	t.Parallel()
	e := shop(t)
	e.report(t, "w1", "a", 5, 3, t0)
	o := e.importOrder(t, "web", "o1", allot.Paid, allot.Line{SKU: "a", Quantity: 4})
	if !o.Oversold {
		t.Fatalf("an order of 4 where 2 were published is not flagged oversold")
	}
	if s := e.stockRowOf(t, "a", "w1"); s.Backordered != 2 || s.Available != 0 {
		t.Fatalf("before shipping: backordered %d available %d, want 2 and 0", s.Backordered, s.Available)
	}
	e.now = t0.Add(time.Hour)
	must(e.svc.ShipOrder(e.ctx, e.who, "web", "o1", nil))(t)
	s := e.stockRowOf(t, "a", "w1")
	if s.InWarehouse != 1 || s.Committed != 0 || s.Available != 0 || s.Backordered != 0 {
		t.Fatalf("after shipping: %+v, want in_warehouse 1, committed, available and backordered 0", s)
	}
	if got := e.published(t, "web", "a"); got != 0 {
		t.Fatalf("web publishes %d of a, want 0", got)
	}
}
