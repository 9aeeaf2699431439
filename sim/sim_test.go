package sim_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/allottest"
	"github.com/allot/allot/service"
	"github.com/allot/allot/store"
	"github.com/allot/allot/syncer"
)

// The simulation runs the real service, store and synchronisation worker
// in one process. A seed draws everything else from a PCG source: which
// event comes next (stock reports, allocation changes, placed and imported
// orders, channel orders delivered by webhook duplicated, late and out of
// order, holds created, confirmed, released or left to expire, cancels,
// shipments, platform failures and edits, worker steps, restarts of the
// process), the clock, and what the platforms do with each call. After
// every step it checks the invariants of spec sections 3 to 5; at the end,
// and now and then in between, it heals the platforms, lets the worker do
// its rounds, and checks that every platform shows what allot publishes.
//
// A failing seed is printed with the steps that led to it and replays
// alone with
//
//	go test ./sim -run TestSimulation -sim.seed=N
//
// and -sim.seeds=100000 -sim.first=… runs a longer search.

var (
	flagSeed  = flag.Uint64("sim.seed", 0, "replay this seed alone, logging every step")
	flagSeeds = flag.Int("sim.seeds", 2000, "how many seeds to run")
	flagFirst = flag.Uint64("sim.first", 1, "the first seed to run")
	flagSteps = flag.Int("sim.steps", 20, "steps of each seed")
	flagPG    = flag.Int("sim.postgres", 25, "seeds to run on PostgreSQL too, when "+allottest.PostgresEnv+" is set")
	flagFails = flag.Int("sim.failures", 3, "stop after this many seeds failed")
)

// regressions are seeds that once found a bug: they run first, every time.
var regressions = []uint64{}

// t0 is when every simulation starts.
var t0 = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

func TestSimulation(t *testing.T) {
	if *flagSeed != 0 {
		for _, engine := range allottest.Engines() {
			t.Run(engine, func(t *testing.T) { runSeed(t, engine, "", *flagSeed, *flagSteps, true) })
		}
		return
	}
	seeds := slices.Clone(regressions)
	for i := range *flagSeeds {
		seeds = append(seeds, *flagFirst+uint64(i))
	}
	template := buildTemplate(t)
	var failed atomic.Int32
	start := time.Now()
	t.Run("sqlite", func(t *testing.T) {
		for _, seed := range seeds {
			t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
				t.Parallel()
				if failed.Load() >= int32(*flagFails) {
					t.Skipf("%d seeds failed already", *flagFails)
				}
				if !runSeed(t, "sqlite", template, seed, *flagSteps, false) {
					failed.Add(1)
				}
			})
		}
	})
	t.Logf("%d seeds of %d steps on SQLite in %v", len(seeds), *flagSteps, time.Since(start).Round(time.Millisecond))
	if os.Getenv(allottest.PostgresEnv) == "" || *flagPG == 0 {
		return
	}
	start = time.Now()
	t.Run("postgres", func(t *testing.T) {
		for _, seed := range seeds[:min(len(seeds), *flagPG)] {
			t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
				t.Parallel()
				runSeed(t, "postgres", "", seed, *flagSteps, false)
			})
		}
	})
	t.Logf("%d seeds on PostgreSQL in %v", min(len(seeds), *flagPG), time.Since(start).Round(time.Millisecond))
}

// buildTemplate makes, once, a SQLite file with the merchant and its
// catalogue (see setup); each seed starts from a copy of it.
func buildTemplate(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "template.db")
	w := &world{ctx: context.Background(), dsn: path, now: t0}
	if err := w.setup(); err != nil {
		t.Fatalf("template: %v", err)
	}
	w.close()
	return path
}

// runSeed runs one seed and reports whether it passed.
func runSeed(t *testing.T, engine, template string, seed uint64, steps int, trace bool) (ok bool) {
	w := &world{t: t, seed: seed, ctx: context.Background(), now: t0, trace: trace,
		rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	switch {
	case engine == "postgres":
		dsn, drop, err := allottest.PostgresSchema()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(drop)
		w.dsn = dsn
		if err := w.setup(); err != nil {
			t.Fatalf("setup: %v", err)
		}
	case template != "":
		w.dsn = filepath.Join(t.TempDir(), "allot.db")
		if err := copyFile(template, w.dsn); err != nil {
			t.Fatal(err)
		}
		if err := w.open(); err != nil {
			t.Fatal(err)
		}
	default:
		w.dsn = filepath.Join(t.TempDir(), "allot.db")
		if err := w.setup(); err != nil {
			t.Fatalf("setup: %v", err)
		}
	}
	w.model = newModel()
	w.platforms = newPlatforms(w)
	w.worker = w.newWorker()
	defer func() {
		w.close()
		if r := recover(); r != nil {
			v, isViolation := r.(violation)
			if !isViolation {
				v = violation(fmt.Sprintf("panic: %v", r))
			}
			t.Errorf("seed %d failed at step %d on %s: %s\n\nsteps:\n%s\nreplay: go test ./sim -run TestSimulation -sim.seed=%d",
				seed, w.step, engine, v, strings.Join(w.steps, "\n"), seed)
			ok = false
		}
	}()
	for w.step = 1; w.step <= steps; w.step++ {
		w.event()
		w.checkAll()
	}
	w.step = steps + 1
	w.settle()
	return true
}

// violation is what a broken invariant panics with; runSeed reports it.
type violation string

// world is one simulated allot: its database, service and worker, the
// platforms of its channels, the clock, and the model of what it should
// hold.
type world struct {
	t     *testing.T
	seed  uint64
	rng   *rand.Rand
	ctx   context.Context
	dsn   string
	now   time.Time
	trace bool

	db     *store.DB
	svc    *service.Service
	worker *syncer.Worker
	who    service.Actor
	gen    int // restarts so far

	platforms map[string]*platform
	model     *model
	step      int
	steps     []string
	nesting   int  // events running inside a platform's call
	seq       int  // for unique names
	changed   bool // since the last check: orders, stock, allocations or the clock
}

func (w *world) logf(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	w.steps = append(w.steps, s)
	if w.trace {
		w.t.Log(s)
	}
}

func (w *world) failf(format string, args ...any) {
	panic(violation(fmt.Sprintf(format, args...)))
}

// must fails the seed on an error nothing in the step should cause.
func (w *world) must(err error, what string) {
	if err != nil {
		w.failf("%s: unexpected error: %v", what, err)
	}
}

func (w *world) intn(n int) int            { return w.rng.IntN(n) }
func (w *world) chance(p float64) bool     { return w.rng.Float64() < p }
func (w *world) between(lo, hi int) int    { return lo + w.rng.IntN(hi-lo+1) }
func pick[T any](w *world, xs []T) T       { return xs[w.rng.IntN(len(xs))] }
func (w *world) name(prefix string) string { w.seq++; return fmt.Sprintf("%s%d", prefix, w.seq) }
func (w *world) duration(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(w.rng.Int64N(int64(hi-lo)+1))
}

// ---------------------------------------------------------------------
// The process: opening, closing, restarting.

var (
	skus       = []string{"s0", "s1", "s2", "s3"}
	warehouses = []string{"w1", "w2"}
	// The channels: two pushed by generic connectors (web compares the
	// previous quantity, mkt does not and sells through webhooks), an API
	// channel that counts orders with payment terms, the manual channel.
	pushChannels = []string{"mkt", "web"}
	sellChannels = []string{"web", "b2b", "manual"}
	allChannels  = []string{"web", "mkt", "b2b", "manual"}
)

// setup opens a fresh database and creates the merchant, its warehouses,
// products, channels, listings and first stock reports. Listing M3 of mkt
// stays unlinked: orders naming it wait in needs attention until an event
// links it.
func (w *world) setup() error {
	if err := w.open(); err != nil {
		return err
	}
	id, _, err := w.svc.CreateMerchant(w.ctx, "sim", "Simulated", "sim_token_0123456789abcdef")
	if err != nil {
		return err
	}
	w.who = service.Actor{Merchant: id, Name: "sim"}
	for _, code := range warehouses {
		if _, err := w.svc.PutWarehouse(w.ctx, w.who, allot.Warehouse{Code: code}); err != nil {
			return err
		}
	}
	for _, sku := range skus {
		if _, _, err := w.svc.PutProduct(w.ctx, w.who, allot.Product{SKU: sku, Name: sku}); err != nil {
			return err
		}
	}
	settings := func(code string) map[string]any {
		return map[string]any{"push_url": "sim://" + code, "secret": "sim-secret-" + code}
	}
	for _, c := range []allot.Channel{
		{Code: "web", Platform: allot.Generic, Warehouses: []string{"w1", "w2"}, Settings: settings("web")},
		{Code: "mkt", Platform: allot.Generic, Warehouses: []string{"w2", "w1"}, Settings: settings("mkt")},
		{Code: "b2b", Platform: allot.API, Warehouses: []string{"w1"}, CountUnpaid: true},
		{Code: "manual", Platform: allot.Manual},
	} {
		if _, _, err := w.svc.PutChannel(w.ctx, w.who, c); err != nil {
			return err
		}
	}
	for i, sku := range skus {
		if _, err := w.svc.PutListing(w.ctx, w.who, service.ListingParams{Channel: "web", ExternalID: fmt.Sprintf("W%d", i), SKU: sku}); err != nil {
			return err
		}
		if i < 3 {
			if _, err := w.svc.PutListing(w.ctx, w.who, service.ListingParams{Channel: "mkt", ExternalID: fmt.Sprintf("M%d", i), SKU: sku}); err != nil {
				return err
			}
		}
	}
	for _, sku := range skus {
		for j, wh := range warehouses {
			r := allot.StockReport{Warehouse: wh, SKU: sku, InWarehouse: 8 - 4*j, AsOf: t0.Add(-time.Hour)}
			if _, err := w.svc.ReportStock(w.ctx, w.who, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// open opens the database and starts a service on it.
func (w *world) open() error {
	db, err := store.Open(w.ctx, w.dsn)
	if err != nil {
		return err
	}
	if err := db.Migrate(w.ctx); err != nil {
		db.Close()
		return err
	}
	w.db = db
	w.svc = service.New(db)
	w.svc.Now = func() time.Time { return w.now }
	if w.who.Merchant == 0 {
		w.who = service.Actor{Merchant: 1, Name: "sim"}
	}
	return nil
}

func (w *world) newWorker() *syncer.Worker {
	return &syncer.Worker{DB: w.db, Service: w.svc, Now: func() time.Time { return w.now },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Owner: fmt.Sprintf("sim-%d", w.gen),
		Settle: 2 * time.Second, Lease: 20 * time.Second, Rand: rand.New(rand.NewPCG(w.seed, uint64(w.gen))), OneByOne: true,
		Connect: func(ch store.ChannelRow) (syncer.Connector, error) {
			p := w.platforms[ch.Code]
			if p == nil {
				return nil, fmt.Errorf("no platform %s", ch.Code)
			}
			return p, nil
		}}
}

func (w *world) close() {
	if w.svc != nil {
		w.svc.Close()
	}
	if w.db != nil {
		w.db.Close()
	}
	w.svc, w.db, w.worker = nil, nil, nil
}

// restart stops the process and starts another on the same database. A
// process killed while it pushed leaves its lease on the channel behind:
// the next one waits for it to expire.
func (w *world) restart() {
	left := ""
	if w.chance(0.3) {
		left = pick(w, pushChannels)
		err := w.db.Write(w.ctx, w.who.Merchant, "sim", w.now, func(tx *store.Tx) error {
			c, err := tx.Channel(left)
			if err != nil {
				return err
			}
			_, err = tx.AcquireLease(c.ID, w.worker.Owner, w.now.Add(w.worker.Lease))
			return err
		})
		w.must(err, "leave a lease")
	}
	w.logf("%d: restart (lease left on %q)", w.step, left)
	w.close()
	w.gen++
	w.must(w.open(), "reopen")
	w.worker = w.newWorker()
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o600)
}

func newPlatforms(w *world) map[string]*platform {
	return map[string]*platform{
		"web": {w: w, code: "web", compare: true, batch: 3, shown: map[string]int{}, version: map[string]int64{}},
		"mkt": {w: w, code: "mkt", batch: 2, shown: map[string]int{}, version: map[string]int64{}},
	}
}

// ---------------------------------------------------------------------
// Events.

type event struct {
	name   string
	weight int
	run    func(w *world)
	inside bool // may run while a platform's call is on its way
	// syncOnly: it changes nothing but the synchronisation's own state
	// (and the platforms), and does not move the clock.
	syncOnly bool
}

var events = []event{
	{"report", 10, (*world).report, true, false},
	{"place", 12, (*world).place, true, false},
	{"import", 7, (*world).importOrder, true, false},
	{"sell", 8, (*world).sell, true, false},
	{"deliver", 12, (*world).deliver, true, false},
	{"allocate", 5, (*world).allocate, true, false},
	{"patch", 3, (*world).patch, true, false},
	{"end", 2, (*world).end, true, false},
	{"hold", 5, (*world).hold, true, false},
	{"confirm", 3, (*world).confirm, true, false},
	{"release", 2, (*world).release, true, false},
	{"cancel", 4, (*world).cancel, true, false},
	{"ship", 4, (*world).ship, true, false},
	{"clock", 6, (*world).clock, false, false},
	{"fault", 5, (*world).fault, false, true},
	{"edit", 2, (*world).edit, false, true},
	{"plan", 4, (*world).plan, true, true},
	{"push", 4, (*world).push, false, true},
	{"round", 7, (*world).round, false, false},
	{"drift", 2, (*world).drift, true, true},
	{"resync", 1, (*world).resync, true, true},
	{"link", 1, (*world).link, true, false},
	{"terms", 1, (*world).terms, true, false},
	{"restart", 2, (*world).restart, false, false},
	{"settle", 1, (*world).settle, false, false},
}

var totalWeight = func() int {
	n := 0
	for _, e := range events {
		n += e.weight
	}
	return n
}()

func (w *world) event() {
	n := w.intn(totalWeight)
	for _, e := range events {
		if n -= e.weight; n < 0 {
			w.changed = w.changed || !e.syncOnly
			e.run(w)
			return
		}
	}
}

// interleave runs a few events while a platform's call is on its way, as
// another process or an API request would.
func (w *world) interleave(code string) {
	if w.nesting > 0 {
		return
	}
	w.nesting++
	defer func() { w.nesting-- }()
	w.changed = true
	var inside []event
	for _, e := range events {
		if e.inside {
			inside = append(inside, e)
		}
	}
	for range w.between(1, 3) {
		e := pick(w, inside)
		w.logf("  while %s's call is on its way, %s:", code, e.name)
		e.run(w)
	}
}

// published reads what every channel publishes of every SKU, and checks
// that none is negative.
func (w *world) published() map[string]map[string]int {
	qs, err := w.svc.Quantities(w.ctx, w.who, nil)
	w.must(err, "quantities")
	for sku, byChannel := range qs {
		for c, q := range byChannel {
			if q < 0 {
				w.failf("%s publishes %d of %s", c, q, sku)
			}
		}
	}
	return qs
}

func (w *world) drawLines() []allot.Line {
	lines := []allot.Line{{SKU: pick(w, skus), Quantity: w.between(1, 4)}}
	if w.chance(0.4) {
		lines = append(lines, allot.Line{SKU: pick(w, skus), Quantity: w.between(1, 3)})
	}
	return lines
}

func (w *world) drawPayment(terms bool) allot.Payment {
	switch n := w.intn(10); {
	case n < 7:
		return allot.Paid
	case n < 9 && terms:
		return allot.Terms
	}
	return allot.Unpaid
}

func demandOf(lines []allot.Line) map[string]int {
	d := map[string]int{}
	for _, l := range lines {
		d[l.SKU] += l.Quantity
	}
	return d
}

// checkSellable checks a placed order's or a hold's outcome against what
// its channel published just before: accepted only if every SKU fits,
// refused only if one does not, with the shortfall of each.
func (w *world) checkSellable(what, channel string, lines []allot.Line, before map[string]map[string]int, err error) bool {
	demand := demandOf(lines)
	fits := true
	for sku, n := range demand {
		if n > before[sku][channel] {
			fits = false
		}
	}
	switch {
	case err == nil && !fits:
		w.failf("%s of %v accepted on %s although it publishes %v: an oversell", what, demand, channel, column(before, channel))
	case err == nil:
		return true
	case allot.ErrorCode(err) != allot.InsufficientStock:
		w.failf("%s of %v on %s: unexpected error: %v", what, demand, channel, err)
	case fits:
		w.failf("%s of %v refused on %s although it publishes %v: %v", what, demand, channel, column(before, channel), err)
	}
	var e *allot.Error
	errors.As(err, &e)
	for _, s := range e.Shortfall {
		if s.Requested != demand[s.SKU] || s.Sellable != before[s.SKU][channel] {
			w.failf("%s on %s: shortfall %+v, but it asked %d and %d was published", what, channel, s, demand[s.SKU], before[s.SKU][channel])
		}
	}
	return false
}

func column(qs map[string]map[string]int, channel string) map[string]int {
	out := map[string]int{}
	for sku, byChannel := range qs {
		out[sku] = byChannel[channel]
	}
	return out
}

func (w *world) report() {
	r := allot.StockReport{Warehouse: pick(w, warehouses), SKU: pick(w, skus), InWarehouse: w.between(0, 20), AsOf: w.now}
	r.Damaged = w.between(0, min(3, r.InWarehouse))
	if w.chance(0.3) {
		r.AsOf = w.now.Add(-w.duration(0, 30*time.Minute))
	}
	row := w.model.stockRow(r.SKU, r.Warehouse)
	want := !r.AsOf.Before(row.changed)
	w.logf("%d: report %s/%s in %d damaged %d as of %s (applies: %v)", w.step, r.SKU, r.Warehouse, r.InWarehouse, r.Damaged,
		r.AsOf.Format(time.TimeOnly), want)
	res, err := w.svc.ReportStock(w.ctx, w.who, r)
	w.must(err, "report")
	if res.Applied != want {
		w.failf("report as of %s on a row changed at %s: applied %v, want %v", r.AsOf, row.changed, res.Applied, want)
	}
	if want {
		row.in, row.damaged, row.changed = r.InWarehouse, r.Damaged, r.AsOf
	}
}

func (w *world) place() {
	if o := w.model.pickOrder(w, func(o *order) bool { return o.kind == allot.Placed && o.ext[0] == 'P' }); o != nil && w.chance(0.15) {
		w.logf("%d: place %s on %s again", w.step, o.ext, o.channel)
		got, created, err := w.svc.PlaceOrder(w.ctx, w.who, service.OrderParams{Channel: o.channel, ExternalID: o.ext,
			Lines: o.request, Payment: o.placedPayment})
		w.must(err, "place again")
		if created || got.ID != o.id {
			w.failf("placing %s again created %v, id %d (first %d)", o.ext, created, got.ID, o.id)
		}
		return
	}
	p := service.OrderParams{Channel: pick(w, sellChannels), ExternalID: w.name("P"), Lines: w.drawLines()}
	p.Payment = w.drawPayment(p.Channel == "b2b")
	w.logf("%d: place %s on %s: %v, %s", w.step, p.ExternalID, p.Channel, p.Lines, p.Payment)
	before := w.published()
	got, created, err := w.svc.PlaceOrder(w.ctx, w.who, p)
	if !w.checkSellable("placed order "+p.ExternalID, p.Channel, p.Lines, before, err) {
		return
	}
	if !created {
		w.failf("placed order %s: not created", p.ExternalID)
	}
	w.model.addOrder(w, got, p.Lines, allot.Placed, true)
}

func (w *world) importOrder() {
	if o := w.model.pickOrder(w, func(o *order) bool { return o.kind == allot.Imported && o.co == nil }); o != nil && w.chance(0.3) {
		p := service.OrderParams{Channel: o.channel, ExternalID: o.ext, Lines: o.request, Payment: o.payment}
		if p.Payment != allot.Paid && w.chance(0.7) {
			p.Payment = allot.Paid
		}
		w.logf("%d: import %s on %s again, %s", w.step, o.ext, o.channel, p.Payment)
		_, created, err := w.svc.ImportOrder(w.ctx, w.who, p)
		w.must(err, "import again")
		if created {
			w.failf("importing %s again created another order", o.ext)
		}
		o.payment = p.Payment
		return
	}
	p := service.OrderParams{Channel: pick(w, sellChannels), ExternalID: w.name("I"), Lines: w.drawLines()}
	p.Payment = w.drawPayment(p.Channel == "b2b")
	w.logf("%d: import %s on %s: %v, %s", w.step, p.ExternalID, p.Channel, p.Lines, p.Payment)
	before := w.published()
	got, created, err := w.svc.ImportOrder(w.ctx, w.who, p)
	w.must(err, "import")
	if !created {
		w.failf("imported order %s: not created", p.ExternalID)
	}
	over := false
	if p.Payment == allot.Paid || (p.Payment == allot.Terms && w.model.countUnpaid[p.Channel]) {
		for sku, n := range demandOf(p.Lines) {
			over = over || n > before[sku][p.Channel]
		}
	}
	if got.Oversold != over {
		w.failf("imported order %s of %v on %s (publishing %v): oversold %v, want %v", p.ExternalID, demandOf(p.Lines), p.Channel,
			column(before, p.Channel), got.Oversold, over)
	}
	w.model.addOrder(w, got, p.Lines, allot.Imported, true)
}

// sell makes mkt sell: a new order, or a new version of one (paid, a line
// edited or an edit undone, cancelled, or only touched); its webhook
// delivery goes on its way.
func (w *world) sell() {
	var co *chanOrder
	var open []*chanOrder
	for _, c := range w.model.chanOrders {
		if !c.last().cancelled {
			open = append(open, c)
		}
	}
	if len(open) == 0 || (len(open) < 10 && w.chance(0.5)) {
		v := version{payment: allot.Paid}
		if w.chance(0.4) {
			v.payment = allot.Unpaid
		}
		for range w.between(1, 2) {
			v.lines = append(v.lines, allot.Line{Listing: fmt.Sprintf("M%d", w.intn(4)), Quantity: w.between(1, 3)})
		}
		co = &chanOrder{ext: w.name("M")}
		w.model.chanOrders = append(w.model.chanOrders, co)
		co.add(w, v)
	} else {
		co = pick(w, open)
		v := co.last()
		v.lines = slices.Clone(v.lines)
		switch w.intn(5) {
		case 0:
			v.payment = allot.Paid
		case 1:
			i := w.intn(len(v.lines))
			v.lines[i].Quantity = w.between(1, 3)
		case 2:
			v.cancelled = true
		case 3:
			// An edit undone: the lines of an earlier version again.
			v.lines = slices.Clone(pick(w, co.versions).lines)
		}
		co.add(w, v)
	}
	v := co.last()
	d := &delivery{id: w.name("D"), co: co, v: len(co.versions) - 1}
	w.model.network = append(w.model.network, d)
	w.logf("%d: mkt sells %s v%d: %v %s cancelled=%v (delivery %s)", w.step, co.ext, d.v, v.lines, v.payment, v.cancelled, d.id)
}

// deliver delivers one of the webhooks on their way, whichever; some are
// delivered twice.
func (w *world) deliver() {
	if len(w.model.network) == 0 {
		return
	}
	i := w.intn(len(w.model.network))
	d := w.model.network[i]
	if d.again || w.chance(0.7) {
		w.model.network = slices.Delete(w.model.network, i, i+1)
	} else {
		d.again = true // it will come again
	}
	v := d.co.versions[d.v]
	at := v.at
	p := service.OrderParams{Channel: "mkt", ExternalID: d.co.ext, Lines: v.lines, Payment: v.payment, Cancelled: v.cancelled, UpdatedAt: &at}
	dup := w.model.delivered[d.id]
	w.logf("%d: deliver %s (%s v%d, duplicate: %v)", w.step, d.id, d.co.ext, d.v, dup)
	got, duplicate, err := w.svc.ImportDelivery(w.ctx, w.who, d.id, p)
	w.must(err, "delivery "+d.id)
	if duplicate != dup {
		w.failf("delivery %s: duplicate %v, want %v", d.id, duplicate, dup)
	}
	if dup {
		return
	}
	w.model.delivered[d.id] = true
	o := w.model.orders[[2]string{"mkt", d.co.ext}]
	if o == nil {
		w.model.addOrder(w, got, nil, allot.Imported, false)
		o = w.model.orders[[2]string{"mkt", d.co.ext}]
		o.co = d.co
		d.co.applied = -1
	}
	if d.co.applied < 0 || !v.at.Before(d.co.versions[d.co.applied].at) {
		d.co.applied = d.v
		o.payment = v.payment
		o.lines = o.lines[:0]
		for _, l := range v.lines {
			ml := mline{listing: l.Listing, sku: w.model.listingSKU(l.Listing), q: l.Quantity}
			if v.cancelled {
				ml.cancelled = ml.q
			}
			o.lines = append(o.lines, ml)
		}
	}
}

func (w *world) allocate() {
	p := service.AllocationParams{Name: w.name("A"), Purpose: allot.Reserve, Priority: w.intn(3)}
	if w.chance(0.4) {
		p.Purpose = allot.Presell
	}
	kind := w.intn(10)
	for _, c := range allChannels {
		if w.chance(0.3) || (c == "web" && kind >= 8) {
			rule := allot.FollowAllocation
			if w.chance(0.5) {
				rule = allot.UseAvailable
			}
			p.Channels = append(p.Channels, allot.AllocationChannel{Channel: c, Rule: rule})
		}
	}
	if len(p.Channels) == 0 && p.Purpose == allot.Presell {
		p.Channels = []allot.AllocationChannel{{Channel: pick(w, allChannels), Rule: allot.FollowAllocation}}
	}
	if w.chance(0.15) {
		p.AllSKUs = &allot.AllSKUs{Quantity: w.between(0, 6)}
	} else {
		for _, sku := range skus {
			if w.chance(0.4) {
				p.Lines = append(p.Lines, allot.Line{SKU: sku, Quantity: w.between(0, 10)})
			}
		}
		if len(p.Lines) == 0 {
			p.Lines = []allot.Line{{SKU: pick(w, skus), Quantity: w.between(0, 10)}}
		}
	}
	a := newAlloc(p)
	conflict := w.model.conflict(a, 0)
	w.logf("%d: allocate %s %s %v lines %v all %v (conflict: %v)", w.step, p.Name, p.Purpose, p.Channels, p.Lines, p.AllSKUs, conflict != nil)
	var got allot.Allocation
	var err error
	switch {
	case kind == 8 && len(p.Channels) > 0:
		// A stop: a presell of 0, follow_allocation, on its channels.
		sp := service.StopParams{Name: p.Name, AllSKUs: p.AllSKUs != nil}
		a.purpose = allot.Presell
		if p.AllSKUs != nil {
			a.all = 0
		}
		for i, c := range p.Channels {
			sp.Channels = append(sp.Channels, c.Channel)
			a.channels[c.Channel] = allot.FollowAllocation
			p.Channels[i].Rule = allot.FollowAllocation
		}
		for _, l := range p.Lines {
			sp.SKUs = append(sp.SKUs, l.SKU)
			a.lines[l.SKU] = 0
		}
		got, err = w.svc.CreateStop(w.ctx, w.who, sp)
	case kind == 9 && p.AllSKUs == nil:
		// A buffer with no channel: a pure safety margin.
		a.purpose, a.channels = allot.Reserve, map[string]allot.Rule{}
		conflict = nil
		got, err = w.svc.CreateBuffer(w.ctx, w.who, service.BufferParams{Name: p.Name, Lines: p.Lines})
	default:
		got, err = w.svc.CreateAllocation(w.ctx, w.who, p)
	}
	if conflict != nil {
		if allot.ErrorCode(err) != allot.Conflict {
			w.failf("allocation %s overlaps %s but got %v", p.Name, conflict.name, err)
		}
		return
	}
	w.must(err, "allocate "+p.Name)
	a.id = got.ID
	w.model.allocs[a.id] = a
	w.model.allocOrder = append(w.model.allocOrder, a.id)
}

func (w *world) patch() {
	a := w.model.pickAlloc(w, func(a *alloc) bool { return a.all < 0 })
	if a == nil {
		return
	}
	sku, q := pick(w, skus), w.between(0, 10)
	_, has := a.lines[sku]
	var conflict *alloc
	if !has {
		conflict = w.model.conflict(&alloc{channels: a.channels, lines: map[string]int{sku: q}, all: -1}, a.id)
	}
	w.logf("%d: patch %s: %s = %d (conflict: %v)", w.step, a.name, sku, q, conflict != nil)
	_, err := w.svc.PatchAllocation(w.ctx, w.who, a.id, service.AllocationPatch{Lines: []allot.Line{{SKU: sku, Quantity: q}}})
	if conflict != nil {
		if allot.ErrorCode(err) != allot.Conflict {
			w.failf("patch of %s adding %s overlaps %s but got %v", a.name, sku, conflict.name, err)
		}
		return
	}
	w.must(err, "patch "+a.name)
	a.lines[sku] = q
}

func (w *world) end() {
	a := w.model.pickAlloc(w, func(*alloc) bool { return true })
	if a == nil {
		return
	}
	w.logf("%d: end %s", w.step, a.name)
	_, err := w.svc.EndAllocation(w.ctx, w.who, a.id)
	w.must(err, "end "+a.name)
	a.ended = true
}

func (w *world) hold() {
	p := service.HoldParams{Channel: pick(w, sellChannels), Lines: w.drawLines(), TTLSeconds: w.between(30, 900)}
	w.logf("%d: hold on %s: %v for %ds", w.step, p.Channel, p.Lines, p.TTLSeconds)
	before := w.published()
	got, err := w.svc.CreateHold(w.ctx, w.who, p)
	if !w.checkSellable("hold", p.Channel, p.Lines, before, err) {
		return
	}
	h := &holdM{id: got.ID, channel: p.Channel, lines: p.Lines, expires: w.now.Add(time.Duration(p.TTLSeconds) * time.Second)}
	w.model.holds[h.id] = h
	w.model.holdOrder = append(w.model.holdOrder, h.id)
}

func (w *world) pickHold() *holdM {
	if len(w.model.holdOrder) == 0 {
		return nil
	}
	return w.model.holds[pick(w, w.model.holdOrder)]
}

func (w *world) confirm() {
	h := w.pickHold()
	if h == nil || h.state == "confirmed" {
		return
	}
	live := h.state == "" && w.now.Before(h.expires)
	ext := w.name("H")
	w.logf("%d: confirm hold %d as %s (live: %v)", w.step, h.id, ext, live)
	got, err := w.svc.ConfirmHold(w.ctx, w.who, h.id, service.ConfirmParams{ExternalID: ext, Payment: allot.Paid})
	if !live {
		if allot.ErrorCode(err) != allot.Conflict {
			w.failf("confirming hold %d, no longer live, got %v", h.id, err)
		}
		return
	}
	w.must(err, "confirm")
	h.state = "confirmed"
	o := w.model.addOrder(w, *got.Order, h.lines, allot.Placed, false)
	o.fromHold = true
}

func (w *world) release() {
	h := w.pickHold()
	if h == nil {
		return
	}
	w.logf("%d: release hold %d (%q)", w.step, h.id, h.state)
	_, err := w.svc.ReleaseHold(w.ctx, w.who, h.id)
	if h.state == "confirmed" {
		if allot.ErrorCode(err) != allot.Conflict {
			w.failf("releasing confirmed hold %d got %v", h.id, err)
		}
		return
	}
	w.must(err, "release")
	if h.state == "" && w.now.Before(h.expires) {
		h.state = "released"
	}
}

// progress cancels or ships units of an order the merchant handles (not
// mkt's, which its webhooks describe).
func (w *world) progress(verb string) {
	o := w.model.pickOrder(w, func(o *order) bool { return o.co == nil })
	if o == nil {
		return
	}
	var req []allot.Line
	if w.chance(0.5) {
		l := pick(w, o.lines)
		if open := o.open(l.sku); open > 0 {
			req = []allot.Line{{SKU: l.sku, Quantity: w.between(1, open)}}
		}
	}
	w.logf("%d: %s %s on %s: %v", w.step, verb, o.ext, o.channel, req)
	var err error
	if verb == "ship" {
		_, err = w.svc.ShipOrder(w.ctx, w.who, o.channel, o.ext, req)
	} else {
		_, err = w.svc.CancelOrder(w.ctx, w.who, o.channel, o.ext, req)
	}
	w.must(err, verb)
	moved := o.take(req, verb)
	if verb == "ship" {
		for sku, n := range moved {
			row := w.model.stockRow(sku, o.warehouse)
			row.in = max(0, row.in-n)
			if row.changed.Before(w.now) {
				row.changed = w.now
			}
		}
	}
}

func (w *world) cancel() { w.progress("cancel") }
func (w *world) ship()   { w.progress("ship") }

func (w *world) clock() {
	d := pick(w, []time.Duration{w.duration(time.Second, 10*time.Second), w.duration(10*time.Second, 2*time.Minute),
		w.duration(2*time.Minute, 20*time.Minute)})
	w.now = w.now.Add(d)
	expire := w.chance(0.5)
	w.logf("%d: clock +%v (record expired holds: %v)", w.step, d, expire)
	if expire {
		w.must(w.svc.ExpireHolds(w.ctx), "expire holds")
	}
}

func (w *world) fault() {
	p := w.platforms[pick(w, pushChannels)]
	p.fault, p.faultN = pick(w, faults), w.between(1, 4)
	w.logf("%d: %s will fail %d calls: %s", w.step, p.code, p.faultN, p.fault)
}

// edit changes a quantity on a platform, as someone working on it would.
func (w *world) edit() {
	p := w.platforms[pick(w, pushChannels)]
	if len(p.shown) == 0 {
		return
	}
	var listings []string
	for l := range p.shown {
		listings = append(listings, l)
	}
	sort.Strings(listings)
	l, q := pick(w, listings), w.between(0, 12)
	w.logf("%d: %s's own staff set %s to %d", w.step, p.code, l, q)
	p.shown[l] = q
	p.edited = true
}

func (w *world) plan() {
	w.logf("%d: worker plans", w.step)
	w.must(w.worker.Plan(w.ctx), "plan")
}

func (w *world) push() {
	w.logf("%d: worker pushes", w.step)
	w.must(w.worker.PushDue(w.ctx), "push")
}

func (w *world) round() {
	w.now = w.now.Add(w.duration(0, 3*time.Second))
	w.logf("%d: worker round at %s", w.step, w.now.Format(time.TimeOnly))
	w.must(w.worker.Round(w.ctx), "round")
}

func (w *world) drift() {
	code := pick(w, pushChannels)
	w.logf("%d: drift check of %s", w.step, code)
	if _, err := w.worker.CheckDrift(w.ctx, w.who.Merchant, code); err == nil {
		w.platforms[code].edited = false
	}
}

func (w *world) resync() {
	code := pick(w, pushChannels)
	w.logf("%d: resync %s", w.step, code)
	w.must(w.worker.Resync(w.ctx, w.who.Merchant, code), "resync")
}

func (w *world) link() {
	if w.model.listings["M3"] != "" {
		return
	}
	w.logf("%d: link M3 to s3", w.step)
	_, err := w.svc.PutListing(w.ctx, w.who, service.ListingParams{Channel: "mkt", ExternalID: "M3", SKU: "s3"})
	w.must(err, "link")
	w.model.listings["M3"] = "s3"
	for _, o := range w.model.orders {
		for i := range o.lines {
			if o.lines[i].listing == "M3" {
				o.lines[i].sku = "s3"
			}
		}
	}
}

// terms turns b2b's counting of orders with payment terms on or off.
func (w *world) terms() {
	on := !w.model.countUnpaid["b2b"]
	w.logf("%d: b2b counts unpaid orders: %v", w.step, on)
	_, _, err := w.svc.PutChannel(w.ctx, w.who, allot.Channel{Code: "b2b", Platform: allot.API, Warehouses: []string{"w1"}, CountUnpaid: on})
	w.must(err, "terms")
	w.model.countUnpaid["b2b"] = on
}

// settle heals the platforms, mends what their staff changed, lets the
// worker do its rounds (with the loop that records expired holds), and
// checks that every platform shows exactly what allot publishes.
func (w *world) settle() {
	w.logf("%d: settle", w.step)
	for _, code := range pushChannels {
		p := w.platforms[code]
		p.faultN = 0
		if p.edited {
			_, err := w.worker.CheckDrift(w.ctx, w.who.Merchant, code)
			w.must(err, "drift check of "+code)
			p.edited = false
		}
	}
	for range 30 {
		w.now = w.now.Add(6 * time.Minute) // beyond the longest backoff and lease
		w.must(w.svc.ExpireHolds(w.ctx), "expire holds")
		w.must(w.worker.Round(w.ctx), "round")
		if w.pending() == 0 {
			break
		}
	}
	if n := w.pending(); n > 0 {
		w.failf("%d pushes still pending after 30 rounds", n)
	}
	for _, code := range pushChannels {
		qs, err := w.svc.ChannelQuantities(w.ctx, w.who, code)
		w.must(err, "channel quantities")
		p := w.platforms[code]
		for _, q := range qs {
			if q.Listing == nil {
				continue
			}
			if shown, ok := p.shown[*q.Listing]; !ok || shown != q.Quantity {
				w.failf("%s shows %d of %s (known: %v) but allot publishes %d, and nothing waits to be pushed",
					code, shown, *q.Listing, ok, q.Quantity)
			}
		}
	}
	w.checkAll()
}

// pending counts the pushes waiting and the outbox marks not yet planned.
func (w *world) pending() int {
	n := 0
	for _, code := range pushChannels {
		st, err := w.svc.Sync(w.ctx, w.who, code)
		w.must(err, "sync state")
		n += st.Pending
	}
	err := w.db.Read(w.ctx, w.who.Merchant, w.now, func(tx *store.Tx) error {
		marks, err := tx.Marks(1000)
		n += len(marks)
		return err
	})
	w.must(err, "marks")
	return n
}

// ---------------------------------------------------------------------
// Invariants, checked after every step.

// checkAll checks the invariants. After a step that changed nothing they
// check (orders, stock, allocations, the clock), it would read exactly what
// the previous check read: it is skipped.
func (w *world) checkAll() {
	if !w.changed {
		return
	}
	w.changed = false
	w.published()
	orders, err := w.svc.ListOrders(w.ctx, w.who, store.OrderFilter{Limit: 1000})
	w.must(err, "list orders")
	holds, err := w.svc.ListOrders(w.ctx, w.who, store.OrderFilter{Limit: 1000, Kind: allot.Hold})
	w.must(err, "list holds")
	orders = append(orders, holds...)
	w.checkOrders(orders)
	w.checkCounters(orders)
}

// checkOrders compares every order with the model: each acknowledged
// order is there once, with its lines and their progress; nothing else is.
func (w *world) checkOrders(orders []allot.Order) {
	seen := map[[2]string]bool{}
	holds := 0
	for _, o := range orders {
		if o.Kind == allot.Hold {
			h := w.model.holds[o.ID]
			if h == nil || h.state == "confirmed" {
				w.failf("hold %d is there but the model has %+v", o.ID, h)
			}
			holds++
			continue
		}
		key := [2]string{o.Channel, o.ExternalID}
		if seen[key] {
			w.failf("order %s/%s is there twice", o.Channel, o.ExternalID)
		}
		seen[key] = true
		m := w.model.orders[key]
		if m == nil {
			w.failf("order %s/%s is there but was never acknowledged", o.Channel, o.ExternalID)
		}
		if o.Kind != m.kind || o.Payment != m.payment || len(o.Lines) != len(m.lines) {
			w.failf("order %s/%s is %s %s with %d lines, want %s %s with %d", o.Channel, o.ExternalID, o.Kind, o.Payment, len(o.Lines),
				m.kind, m.payment, len(m.lines))
		}
		attention := false
		for i, l := range o.Lines {
			ml := m.lines[i]
			if l.Quantity != ml.q || l.Shipped != ml.shipped || l.Cancelled != ml.cancelled || l.Listing != ml.listing ||
				(ml.sku != "" && l.SKU != ml.sku) {
				w.failf("order %s/%s line %d is %+v, want %+v", o.Channel, o.ExternalID, i, l, ml)
			}
			attention = attention || ml.sku == ""
		}
		if o.NeedsAttention != attention {
			w.failf("order %s/%s needs attention: %v, want %v", o.Channel, o.ExternalID, o.NeedsAttention, attention)
		}
	}
	if len(seen) != len(w.model.orders) {
		for key := range w.model.orders {
			if !seen[key] {
				w.failf("acknowledged order %s/%s is missing", key[0], key[1])
			}
		}
	}
	want := 0
	for _, h := range w.model.holds {
		if h.state != "confirmed" {
			want++
		}
	}
	if holds != want {
		w.failf("%d holds are there, want %d", holds, want)
	}
}

// counts says, from an order's own facts, whether it holds stock: not
// waiting for a listing, not wholly cancelled, and paid, or with terms on
// a channel that counts those.
func (w *world) counts(o allot.Order) bool {
	if o.Kind == allot.Hold || o.NeedsAttention {
		return false
	}
	cancelled := true
	for _, l := range o.Lines {
		cancelled = cancelled && l.Cancelled == l.Quantity
	}
	return !cancelled && (o.Payment == allot.Paid || (o.Payment == allot.Terms && w.model.countUnpaid[o.Channel]))
}

// checkCounters recomputes committed (per SKU and warehouse) and consumed
// (per allocation and SKU) from the orders, with and without live holds,
// and compares them with the store's counters, the stock list and the
// allocations.
func (w *world) checkCounters(orders []allot.Order) {
	committed, consumed := map[[2]string]int{}, map[int64]map[string]int{}
	heldC, heldU := map[[2]string]int{}, map[int64]map[string]int{}
	for _, o := range orders {
		live := o.Kind == allot.Hold && o.State == allot.Open && o.ExpiresAt != nil && w.now.Before(*o.ExpiresAt)
		counts := w.counts(o)
		if o.Kind != allot.Hold && o.Counts != counts {
			w.failf("order %s/%s says it counts: %v; its facts say %v", o.Channel, o.ExternalID, o.Counts, counts)
		}
		if !counts && !live {
			continue
		}
		c, u := committed, consumed
		if live {
			c, u = heldC, heldU
		}
		for _, l := range o.Lines {
			sku := l.SKU
			c[[2]string{sku, o.Warehouse}] += l.Quantity - l.Shipped - l.Cancelled
			if l.Allocation != nil {
				if u[*l.Allocation] == nil {
					u[*l.Allocation] = map[string]int{}
				}
				u[*l.Allocation][sku] += l.Quantity - l.Cancelled
			}
		}
	}
	// The store's own counters, holds aside.
	err := w.db.Read(w.ctx, w.who.Merchant, w.now, func(tx *store.Tx) error {
		rows, err := tx.StockList("")
		if err != nil {
			return err
		}
		rowOf := map[[2]string]bool{}
		for _, r := range rows {
			rowOf[[2]string{r.SKU, r.Warehouse}] = true
			if want := committed[[2]string{r.SKU, r.Warehouse}]; r.Committed != want {
				w.failf("the store's committed of %s in %s is %d; the orders hold %d", r.SKU, r.Warehouse, r.Committed, want)
			}
		}
		for k, n := range committed {
			if n != 0 && !rowOf[k] {
				w.failf("the orders hold %d of %s in %s but the store has no stock row", n, k[0], k[1])
			}
		}
		allocs, err := tx.Allocations(false)
		if err != nil {
			return err
		}
		for _, row := range allocs {
			id := row.ID
			have := map[string]int{}
			for _, l := range row.Allocation.Lines {
				have[l.SKU] = l.Consumed
			}
			for sku := range union(have, consumed[id]) {
				if have[sku] != consumed[id][sku] {
					w.failf("the store's usage of %s by allocation %d is %d; its orders took %d", sku, id, have[sku], consumed[id][sku])
				}
			}
		}
		return nil
	})
	w.must(err, "read counters")
	// The service's view: live holds count too.
	stock, err := w.svc.ListStock(w.ctx, w.who, "")
	w.must(err, "list stock")
	for _, s := range stock {
		key := [2]string{s.SKU, s.Warehouse}
		if want := committed[key] + heldC[key]; s.Committed != want {
			w.failf("stock %s/%s: committed %d, want %d (orders %d and live holds %d)", s.SKU, s.Warehouse, s.Committed, want,
				committed[key], heldC[key])
		}
		m := w.model.stockRow(s.SKU, s.Warehouse)
		if s.InWarehouse != m.in || s.Damaged != m.damaged {
			w.failf("stock %s/%s: in %d damaged %d, want %d and %d", s.SKU, s.Warehouse, s.InWarehouse, s.Damaged, m.in, m.damaged)
		}
	}
	// Every allocation as listed, and one (any) as read alone.
	list, err := w.svc.ListAllocations(w.ctx, w.who, false)
	w.must(err, "list allocations")
	if len(list) != len(w.model.allocs) {
		w.failf("%d allocations are there, want %d", len(list), len(w.model.allocs))
	}
	if len(list) > 0 {
		i := w.intn(len(list))
		one, err := w.svc.GetAllocation(w.ctx, w.who, list[i].ID)
		w.must(err, "get allocation")
		list[i] = one
	}
	for _, got := range list {
		id := got.ID
		a := w.model.allocs[id]
		if a == nil {
			w.failf("allocation %d is there but was never acknowledged", id)
		}
		if got.Active == a.ended {
			w.failf("allocation %s: active %v, ended %v", a.name, got.Active, a.ended)
		}
		have := map[string]int{}
		for _, l := range got.Lines {
			have[l.SKU] = l.Consumed
			if l.Remaining != l.Quantity-l.Consumed {
				w.failf("allocation %s line %s: remaining %d, quantity %d, consumed %d", a.name, l.SKU, l.Remaining, l.Quantity, l.Consumed)
			}
			if q, ok := a.lines[l.SKU]; ok && q != l.Quantity {
				w.failf("allocation %s line %s: quantity %d, want %d", a.name, l.SKU, l.Quantity, q)
			}
		}
		want := map[string]int{}
		for sku, n := range consumed[id] {
			want[sku] += n
		}
		for sku, n := range heldU[id] {
			want[sku] += n
		}
		for sku := range union(have, want) {
			if have[sku] != want[sku] {
				w.failf("allocation %s (%d) consumed %d of %s; its orders and live holds took %d", a.name, id, have[sku], sku, want[sku])
			}
		}
	}
}

func union(a, b map[string]int) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}
