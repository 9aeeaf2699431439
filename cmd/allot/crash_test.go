package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/allottest"
	"github.com/allot/allot/client"
	"github.com/allot/allot/generic"
	"github.com/allot/allot/store"
)

var (
	crashSeed    = flag.Uint64("crash.seed", 0, "seed of the crash test's kill times and traffic (0: drawn, and logged)")
	crashTraffic = flag.Duration("crash.traffic", 14*time.Second, "how long the crash test sends writes")
	crashKills   = flag.Int("crash.kills", 5, "how many times the crash test kills allot while it writes")
)

const crashSecret = "crash-platform-secret"

// `allot serve` is killed with SIGKILL several times, at moments drawn
// from a seed, while clients send it placed orders, imports (some sent
// again), webhook orders (some delivered twice), stock reports and
// allocation changes; each time it is started again on the same database.
// Every write's outcome is kept: acknowledged (2xx), refused (an error
// answer), or unknown (the connection died). At the end, through the API
// and then through the store: every acknowledged write is there, once;
// refused ones are not; an unknown one is there whole or not at all;
// committed and consumed equal the sums over the orders there; each stock
// level is the last acknowledged report or a later unknown one; and,
// after a settling period, the platform of the generic channel shows what
// allot publishes, with no older value applied after a newer one.
func TestSIGKILLLosesNoAcknowledgedWrite(t *testing.T) {
	seed := *crashSeed
	if seed == 0 {
		seed = rand.Uint64() % 1_000_000
	}
	t.Logf("seed %d (replay the same kill times and traffic with -crash.seed=%d)", seed, seed)
	bin := buildAllot(t)
	allottest.Each(t, func(t *testing.T, engine string) {
		start := time.Now()
		runCrashes(t, bin, allottest.Database(t, engine), seed)
		t.Logf("%s: %v", engine, time.Since(start).Round(100*time.Millisecond))
	})
}

// outcome is what a client knows of a write.
type outcome int

const (
	none    outcome = iota
	refused         // answered with an error, or never sent: not applied
	unknown         // sent, and the answer lost: applied wholly or not at all
	acked           // answered 2xx: durable
)

func (o outcome) String() string { return [...]string{"none", "refused", "unknown", "acked"}[o] }

// merge is what two attempts at the same idempotent write tell together.
// A refusal after an unknown attempt proves that attempt did not apply:
// had it applied, the repeat would have been answered with it.
func merge(was, now outcome) outcome {
	switch {
	case was == acked || now == acked:
		return acked
	case now == refused:
		return refused
	case now == unknown:
		return unknown
	}
	return was
}

type orderRec struct {
	channel, id string
	lines       map[string]int // SKU or listing → quantity
	state       outcome
}

type stockRec struct {
	in, damaged int
	asOf        time.Time
	state       outcome
}

type allocRec struct {
	name     string
	id       int64
	skus     []string
	channels []allot.AllocationChannel
	created  outcome
	patches  []patchRec
	ended    outcome
}

type patchRec struct {
	quantity int
	state    outcome
}

// ledger is what the clients know of their writes.
type ledger struct {
	mu        sync.Mutex
	orders    map[[2]string]*orderRec
	stock     map[[2]string][]stockRec // (sku, warehouse) → reports in the order sent
	allocs    []*allocRec
	internals []string // 5xx answers: none expected
	counts    map[string]int
}

func (l *ledger) order(channel, id string, lines map[string]int, o outcome) {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := [2]string{channel, id}
	r := l.orders[key]
	if r == nil {
		r = &orderRec{channel: channel, id: id, lines: lines}
		l.orders[key] = r
	}
	r.state = merge(r.state, o)
	l.counts[o.String()]++
}

func (l *ledger) note(what string) {
	l.mu.Lock()
	l.counts[what]++
	l.mu.Unlock()
}

// crashWorld is the running allot the clients talk to, restarted on the
// same address and database after each kill.
type crashWorld struct {
	t        *testing.T
	bin, db  string
	addr     string
	mu       sync.Mutex
	proc     *process
	c        *client.Client
	http     *http.Client
	platform *generic.Platform
	led      *ledger
	stop     chan struct{} // closed when the traffic ends
	base     time.Time     // as_of of the first stock report
}

func runCrashes(t *testing.T, bin, db string, seed uint64) {
	platform := generic.NewPlatform(crashSecret)
	defer platform.Close()
	w := &crashWorld{t: t, bin: bin, db: db, addr: freeAddr(t), platform: platform,
		led:  &ledger{orders: map[[2]string]*orderRec{}, stock: map[[2]string][]stockRec{}, counts: map[string]int{}},
		stop: make(chan struct{}), base: time.Now().Add(-time.Hour).Truncate(time.Millisecond)}
	w.http = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer w.http.CloseIdleConnections()
	w.c = client.New("http://"+w.addr, allottest.Token)
	w.c.HTTP = w.http
	w.proc = serveOn(t, bin, db, w.addr)
	w.setup()

	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	kills := killTimes(rng, *crashKills, *crashTraffic)
	var wg sync.WaitGroup
	clients := []func(*rand.Rand){w.placer, w.placer, w.importer, w.webhooks, w.reporter,
		w.allocator(0, allot.Reserve, "b2b", allot.UseAvailable), w.allocator(1, allot.Presell, "outlet", allot.FollowAllocation)}
	for i, run := range clients {
		r := rand.New(rand.NewPCG(seed, uint64(i+1)))
		wg.Add(1)
		go func() { defer wg.Done(); run(r) }()
	}
	start := time.Now()
	var lastKill time.Time
	for i, at := range kills {
		time.Sleep(time.Until(start.Add(at)))
		w.mu.Lock()
		p := w.proc
		w.mu.Unlock()
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
		lastKill = time.Now()
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		p = serveOn(t, bin, db, w.addr)
		w.mu.Lock()
		w.proc = p
		w.mu.Unlock()
		t.Logf("kill %d at %v, serving again after %v", i+1, at.Round(time.Millisecond), time.Since(lastKill).Round(time.Millisecond))
	}
	time.Sleep(time.Until(start.Add(*crashTraffic)))
	if lastKill.IsZero() {
		lastKill = time.Now()
	}
	close(w.stop)
	wg.Wait()
	t.Logf("writes: %v", w.led.counts)
	for _, e := range w.led.internals {
		t.Errorf("an internal error was answered: %s", e)
	}

	// A killed process may hold the channel's lease for its 30 s: allow
	// that and the 5 s that increases wait.
	w.settle(lastKill.Add(45 * time.Second))
	orders := w.listOrders()
	w.checkOrders(orders)
	w.checkCounters(orders)
	w.checkStock()
	w.checkAllocations()
	w.checkPushOrder()

	// Stopped cleanly, the database shows every publication confirmed.
	w.proc.cmd.Process.Signal(syscall.SIGTERM)
	w.proc.cmd.Wait()
	w.checkStore()
}

// killTimes draws n moments in the traffic's first 90%, at least a second
// apart, so that each restarted process takes some writes.
func killTimes(rng *rand.Rand, n int, traffic time.Duration) []time.Duration {
	span := traffic * 9 / 10
	for {
		ks := make([]time.Duration, n)
		for i := range ks {
			ks[i] = time.Second + time.Duration(rng.Int64N(int64(span-time.Second)))
		}
		slices.Sort(ks)
		ok := true
		for i := 1; i < n; i++ {
			ok = ok && ks[i]-ks[i-1] >= time.Second
		}
		if ok || n*int(time.Second) > int(span) {
			return ks
		}
	}
}

var (
	crashWarehouses = []string{"w1", "w2"}
	crashSKUs       = []string{"sku-0", "sku-1", "sku-2", "sku-3", "sku-4", "sku-5"}
)

// setup: two warehouses, six products listed on the generic channel
// outlet (pushed in batches of 4, so that a kill may fall between two),
// the API channels shop and b2b, and stock in both warehouses.
func (w *crashWorld) setup() {
	t := w.t
	ctx := context.Background()
	put := func(path string, body any) {
		t.Helper()
		if err := w.c.Do(ctx, "PUT", path, body, nil); err != nil {
			t.Fatalf("PUT %s: %v", path, err)
		}
	}
	for _, wh := range crashWarehouses {
		put("/v1/warehouses/"+wh, map[string]any{})
	}
	put("/v1/channels/shop", map[string]any{"platform": "api"})
	put("/v1/channels/b2b", map[string]any{"platform": "api"})
	put("/v1/channels/outlet", map[string]any{"platform": "generic", "settings": map[string]any{"push_url": w.platform.PushURL(),
		"read_url": w.platform.ReadURL(), "secret": crashSecret, "batch_size": 4}})
	for i, sku := range crashSKUs {
		put("/v1/products/"+sku, map[string]any{"name": sku})
		put("/v1/channels/outlet/listings/L-"+sku, map[string]any{"sku": sku})
		for j, wh := range crashWarehouses {
			in := 300 - 200*j
			asOf := w.base.Add(time.Duration(i*2+j) * time.Millisecond)
			put("/v1/stock/"+wh+"/"+sku, map[string]any{"in_warehouse": in, "as_of": asOf})
			w.led.stock[[2]string{sku, wh}] = []stockRec{{in: in, asOf: asOf, state: acked}}
		}
	}
}

func (w *crashWorld) stopped() bool {
	select {
	case <-w.stop:
		return true
	default:
		return false
	}
}

// send runs a write until it is sent: a refused connection (the process
// is down) is tried again, until the traffic ends. It returns what the
// client knows of it.
func (w *crashWorld) send(what string, do func() error) (outcome, error) {
	for {
		err := do()
		if err == nil {
			return acked, nil
		}
		var ae *allot.Error
		if errors.As(err, &ae) {
			if ae.Code == allot.Internal {
				w.led.mu.Lock()
				w.led.internals = append(w.led.internals, what+": "+err.Error())
				w.led.mu.Unlock()
				return unknown, err
			}
			return refused, err
		}
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			if w.stopped() {
				return refused, err
			}
			time.Sleep(20 * time.Millisecond)
			continue
		}
		return unknown, err
	}
}

func drawLines(rng *rand.Rand, max int, prefix string) (lines []map[string]any, want map[string]int) {
	want = map[string]int{}
	for _, i := range rng.Perm(len(crashSKUs))[:1+rng.IntN(max)] {
		q := 1 + rng.IntN(3)
		key := prefix + crashSKUs[i]
		want[key] = q
		if prefix == "" {
			lines = append(lines, map[string]any{"sku": key, "quantity": q})
		} else {
			lines = append(lines, map[string]any{"listing": key, "quantity": q})
		}
	}
	return lines, want
}

var placerSeq struct {
	sync.Mutex
	n int
}

// placer places checked orders on shop; half of those whose answer was
// lost it places again, as a client would.
func (w *crashWorld) placer(rng *rand.Rand) {
	ctx := context.Background()
	for !w.stopped() {
		placerSeq.Lock()
		placerSeq.n++
		id := fmt.Sprintf("p%d", placerSeq.n)
		placerSeq.Unlock()
		lines, want := drawLines(rng, 3, "")
		body := map[string]any{"channel": "shop", "external_id": id, "lines": lines, "payment": "paid"}
		for try := 0; ; try++ {
			o, err := w.send("place "+id, func() error { return w.c.Do(ctx, "POST", "/v1/orders", body, nil) })
			if o == refused && allot.ErrorCode(err) != allot.InsufficientStock && !w.stopped() {
				w.t.Errorf("place %s: %v", id, err)
			}
			w.led.order("shop", id, want, o)
			if o != unknown || try > 0 || rng.IntN(2) == 0 || w.stopped() {
				break
			}
			w.led.note("placed again")
		}
	}
}

// importer imports orders on b2b; now and then it sends one again (the
// same order: it must count once).
func (w *crashWorld) importer(rng *rand.Rand) {
	ctx := context.Background()
	type sent struct {
		id   string
		body map[string]any
		want map[string]int
	}
	var all []sent
	for n := 1; !w.stopped(); n++ {
		var s sent
		if len(all) > 0 && rng.IntN(4) == 0 {
			s = all[rng.IntN(len(all))]
			w.led.note("imported again")
		} else {
			s.id = fmt.Sprintf("i%d", n)
			var lines []map[string]any
			lines, s.want = drawLines(rng, 2, "")
			s.body = map[string]any{"channel": "b2b", "external_id": s.id, "lines": lines, "payment": "paid"}
			all = append(all, s)
		}
		o, err := w.send("import "+s.id, func() error { return w.c.Do(ctx, "POST", "/v1/orders/import", s.body, nil) })
		if o == refused && !w.stopped() {
			w.t.Errorf("import %s: %v", s.id, err)
		}
		w.led.order("b2b", s.id, s.want, o)
	}
}

// webhooks delivers signed orders of the generic channel's platform;
// now and then a delivery comes twice, or the same order in another
// delivery.
func (w *crashWorld) webhooks(rng *rand.Rand) {
	type sent struct {
		id, delivery string
		body         []byte
		want         map[string]int
	}
	var all []sent
	for n := 1; !w.stopped(); n++ {
		var s sent
		switch {
		case len(all) > 0 && rng.IntN(5) == 0:
			s = all[rng.IntN(len(all))]
			w.led.note("delivered again")
		case len(all) > 0 && rng.IntN(5) == 0:
			s = all[rng.IntN(len(all))]
			s.delivery = fmt.Sprintf("d%d", n)
			w.led.note("sent again in another delivery")
		default:
			s.id, s.delivery = fmt.Sprintf("wh%d", n), fmt.Sprintf("d%d", n)
			var lines []map[string]any
			lines, s.want = drawLines(rng, 2, "L-")
			s.body, _ = json.Marshal(map[string]any{"external_id": s.id, "lines": lines, "payment": "paid"})
			all = append(all, s)
		}
		o, err := w.send("webhook "+s.id, func() error {
			req, _ := http.NewRequest("POST", "http://"+w.addr+"/webhooks/generic/outlet", bytes.NewReader(s.body))
			now := time.Now()
			req.Header.Set(generic.TimestampHeader, strconv.FormatInt(now.Unix(), 10))
			req.Header.Set(generic.SignatureHeader, generic.Sign(crashSecret, now, s.body))
			req.Header.Set(generic.DeliveryHeader, s.delivery)
			resp, err := w.http.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				return err
			}
			if resp.StatusCode != 200 {
				code := allot.Invalid
				if resp.StatusCode >= 500 {
					code = allot.Internal
				}
				return &allot.Error{Code: code, Message: fmt.Sprintf("%d %s", resp.StatusCode, bytes.TrimSpace(b))}
			}
			return nil
		})
		if o == refused && !w.stopped() {
			w.t.Errorf("webhook %s: %v", s.id, err)
		}
		w.led.order("outlet", s.id, s.want, o)
	}
}

// reporter sends stock reports, each newer than the one before.
func (w *crashWorld) reporter(rng *rand.Rand) {
	ctx := context.Background()
	for n := 100; !w.stopped(); n++ {
		key := [2]string{crashSKUs[rng.IntN(len(crashSKUs))], crashWarehouses[rng.IntN(len(crashWarehouses))]}
		r := stockRec{in: rng.IntN(400), asOf: w.base.Add(time.Duration(n) * time.Millisecond)}
		r.damaged = rng.IntN(min(r.in, 5) + 1)
		var res struct {
			Applied bool `json:"applied"`
		}
		o, err := w.send("report", func() error {
			return w.c.Do(ctx, "PUT", "/v1/stock/"+key[1]+"/"+key[0], map[string]any{"in_warehouse": r.in, "damaged": r.damaged, "as_of": r.asOf}, &res)
		})
		if o == refused && !w.stopped() {
			w.t.Errorf("stock report: %v", err)
		}
		if o == acked && !res.Applied {
			w.t.Errorf("a stock report newer than all before it was ignored")
		}
		r.state = o
		w.led.mu.Lock()
		w.led.stock[key] = append(w.led.stock[key], r)
		w.led.counts["report "+o.String()]++
		w.led.mu.Unlock()
	}
}

// allocator creates, on its own pair of SKUs, an allocation, changes its
// quantities twice and ends it, again and again. An allocation whose
// creation was not answered is looked up by its name; an end that was not
// answered is sent again, since the next one would conflict with it.
func (w *crashWorld) allocator(slot int, purpose allot.Purpose, channel string, rule allot.Rule) func(*rand.Rand) {
	return func(rng *rand.Rand) {
		ctx := context.Background()
		skus := crashSKUs[slot*2 : slot*2+2]
		for n := 1; !w.stopped(); n++ {
			a := &allocRec{name: fmt.Sprintf("slot%d-%d", slot, n), skus: skus,
				channels: []allot.AllocationChannel{{Channel: channel, Rule: rule}}}
			w.led.mu.Lock()
			w.led.allocs = append(w.led.allocs, a)
			w.led.mu.Unlock()
			q := 10 + rng.IntN(40)
			lines := []map[string]any{{"sku": skus[0], "quantity": q}, {"sku": skus[1], "quantity": q}}
			var got allot.Allocation
			o, err := w.send("create "+a.name, func() error {
				return w.c.Do(ctx, "POST", "/v1/allocations", map[string]any{"name": a.name, "purpose": purpose,
					"channels": a.channels, "lines": lines}, &got)
			})
			w.record(func() { a.created = o; a.patches = append(a.patches, patchRec{q, o}) })
			switch o {
			case refused:
				if !w.stopped() {
					w.t.Errorf("create %s: %v", a.name, err)
				}
				return
			case unknown:
				got.ID = w.findAllocation(a.name)
				if got.ID == 0 {
					continue // not created: the next one
				}
			}
			w.record(func() { a.id = got.ID })
			for range 2 {
				q := rng.IntN(60)
				o, err := w.send("patch "+a.name, func() error {
					return w.c.Do(ctx, "PATCH", "/v1/allocations/"+strconv.FormatInt(a.id, 10), map[string]any{
						"lines": []map[string]any{{"sku": skus[0], "quantity": q}, {"sku": skus[1], "quantity": q}}}, nil)
				})
				if o == refused && !w.stopped() {
					w.t.Errorf("patch %s: %v", a.name, err)
				}
				w.record(func() { a.patches = append(a.patches, patchRec{q, o}) })
			}
			for {
				o, err := w.send("end "+a.name, func() error {
					return w.c.Do(ctx, "DELETE", "/v1/allocations/"+strconv.FormatInt(a.id, 10), nil, nil)
				})
				if o == refused && !w.stopped() {
					w.t.Errorf("end %s: %v", a.name, err)
				}
				w.record(func() { a.ended = merge(a.ended, o) })
				if o != unknown {
					break
				}
			}
			if a.ended != acked {
				return // the traffic ended
			}
		}
	}
}

func (w *crashWorld) record(f func()) {
	w.led.mu.Lock()
	f()
	w.led.mu.Unlock()
}

// findAllocation returns the id of the allocation named name, 0 if there
// is none, asking until the server answers.
func (w *crashWorld) findAllocation(name string) int64 {
	for {
		var out struct {
			Allocations []allot.Allocation `json:"allocations"`
		}
		err := w.c.Do(context.Background(), "GET", "/v1/allocations", nil, &out)
		if err == nil {
			for _, a := range out.Allocations {
				if a.Name == name {
					return a.ID
				}
			}
			return 0
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// settle waits, until deadline, for the platform to show what allot
// publishes with nothing left to push.
func (w *crashWorld) settle(deadline time.Time) {
	t := w.t
	ctx := context.Background()
	var diff []string
	start := time.Now()
	for {
		var qs struct {
			Quantities []struct {
				Listing  *string `json:"listing"`
				Quantity int     `json:"quantity"`
			} `json:"quantities"`
		}
		var st struct {
			Pending int `json:"pending"`
		}
		if err := w.c.Do(ctx, "GET", "/v1/channels/outlet/quantities", nil, &qs); err != nil {
			t.Fatal(err)
		}
		if err := w.c.Do(ctx, "GET", "/v1/channels/outlet/sync", nil, &st); err != nil {
			t.Fatal(err)
		}
		diff = diff[:0]
		listed := 0
		for _, q := range qs.Quantities {
			if q.Listing == nil {
				continue
			}
			listed++
			if shown, ok := w.platform.Shown(*q.Listing); !ok || shown != q.Quantity {
				diff = append(diff, fmt.Sprintf("%s shows %d (known: %v), allot publishes %d", *q.Listing, shown, ok, q.Quantity))
			}
		}
		if listed != len(crashSKUs) {
			t.Fatalf("outlet has %d listings, want %d", listed, len(crashSKUs))
		}
		if len(diff) == 0 && st.Pending == 0 {
			t.Logf("the platform showed what allot publishes %v after the traffic", time.Since(start).Round(100*time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			var state map[string]any // the channel's whole synchronisation state, to tell why
			w.c.Do(ctx, "GET", "/v1/channels/outlet/sync", nil, &state)
			delete(state, "publications")
			t.Fatalf("the platform does not show what allot publishes (%d pushes pending):\n%s\nsync: %v", st.Pending,
				strings.Join(diff, "\n"), state)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (w *crashWorld) listOrders() []allot.Order {
	var all []allot.Order
	before := int64(0)
	for {
		var out struct {
			Orders []allot.Order `json:"orders"`
		}
		path := "/v1/orders?limit=1000"
		if before > 0 {
			path += "&before=" + strconv.FormatInt(before, 10)
		}
		if err := w.c.Do(context.Background(), "GET", path, nil, &out); err != nil {
			w.t.Fatal(err)
		}
		all = append(all, out.Orders...)
		if len(out.Orders) < 1000 {
			return all
		}
		before = out.Orders[len(out.Orders)-1].ID
	}
}

// checkOrders: each acknowledged order once with its lines, no refused
// one, and an unknown one whole or absent.
func (w *crashWorld) checkOrders(orders []allot.Order) {
	t := w.t
	seen := map[[2]string]bool{}
	present := map[outcome]int{}
	for _, o := range orders {
		key := [2]string{o.Channel, o.ExternalID}
		if seen[key] {
			t.Errorf("order %s/%s is there twice", o.Channel, o.ExternalID)
		}
		seen[key] = true
		r := w.led.orders[key]
		if r == nil {
			t.Errorf("order %s/%s is there but was never sent", o.Channel, o.ExternalID)
			continue
		}
		present[r.state]++
		if r.state == refused {
			t.Errorf("order %s/%s is there but was refused", o.Channel, o.ExternalID)
		}
		got := map[string]int{}
		for _, l := range o.Lines {
			k := l.SKU
			if l.Listing != "" {
				k = l.Listing
			}
			got[k] += l.Quantity
		}
		if fmt.Sprint(got) != fmt.Sprint(r.lines) || len(o.Lines) != len(r.lines) {
			t.Errorf("order %s/%s (%s) has lines %v, want %v", o.Channel, o.ExternalID, r.state, got, r.lines)
		}
		if !o.Counts || o.NeedsAttention {
			t.Errorf("order %s/%s does not count (needs attention: %v)", o.Channel, o.ExternalID, o.NeedsAttention)
		}
	}
	for key, r := range w.led.orders {
		if r.state == acked && !seen[key] {
			t.Errorf("acknowledged order %s/%s is missing", key[0], key[1])
		}
	}
	unknowns := 0
	for _, r := range w.led.orders {
		if r.state == unknown {
			unknowns++
		}
	}
	t.Logf("%d orders there: %d acknowledged, %d of %d unknown", len(orders), present[acked], present[unknown], unknowns)
}

// checkCounters recomputes committed (per SKU and warehouse) and consumed
// (per allocation and SKU) from the orders there.
func (w *crashWorld) checkCounters(orders []allot.Order) {
	t := w.t
	committed := map[[2]string]int{}
	consumed := map[int64]map[string]int{}
	for _, o := range orders {
		for _, l := range o.Lines {
			committed[[2]string{l.SKU, o.Warehouse}] += l.Open()
			if l.Allocation != nil {
				if consumed[*l.Allocation] == nil {
					consumed[*l.Allocation] = map[string]int{}
				}
				consumed[*l.Allocation][l.SKU] += l.Quantity - l.Cancelled
			}
		}
	}
	var st struct {
		Stock []allot.Stock `json:"stock"`
	}
	if err := w.c.Do(context.Background(), "GET", "/v1/stock", nil, &st); err != nil {
		t.Fatal(err)
	}
	for _, s := range st.Stock {
		key := [2]string{s.SKU, s.Warehouse}
		if s.Committed != committed[key] {
			t.Errorf("stock %s/%s: committed %d, the orders there hold %d", s.SKU, s.Warehouse, s.Committed, committed[key])
		}
		delete(committed, key)
	}
	for key, n := range committed {
		if n != 0 {
			t.Errorf("the orders hold %d of %s in %s, which has no stock row", n, key[0], key[1])
		}
	}
	for _, a := range w.allocations() {
		for _, l := range a.Lines {
			if l.Consumed != consumed[a.ID][l.SKU] {
				t.Errorf("allocation %d (%s): consumed %d of %s, its orders took %d", a.ID, a.Name, l.Consumed, l.SKU, consumed[a.ID][l.SKU])
			}
		}
	}
}

func (w *crashWorld) allocations() []allot.Allocation {
	var out struct {
		Allocations []allot.Allocation `json:"allocations"`
	}
	if err := w.c.Do(context.Background(), "GET", "/v1/allocations", nil, &out); err != nil {
		w.t.Fatal(err)
	}
	return out.Allocations
}

// allowed returns the values a sequence of writes to one thing may have
// left: the last acknowledged one's, or any unknown one's after it.
func allowed[T any](writes []T, state func(T) outcome) []T {
	last := -1
	for i, wr := range writes {
		if state(wr) == acked {
			last = i
		}
	}
	var out []T
	if last >= 0 {
		out = append(out, writes[last])
	}
	for _, wr := range writes[last+1:] {
		if state(wr) == unknown {
			out = append(out, wr)
		}
	}
	return out
}

// checkStock: each level is its last acknowledged report's, or a later
// unknown one's, identified by its as_of.
func (w *crashWorld) checkStock() {
	t := w.t
	var st struct {
		Stock []allot.Stock `json:"stock"`
	}
	if err := w.c.Do(context.Background(), "GET", "/v1/stock", nil, &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Stock) != len(w.led.stock) {
		t.Errorf("%d stock rows, want %d", len(st.Stock), len(w.led.stock))
	}
	for _, s := range st.Stock {
		key := [2]string{s.SKU, s.Warehouse}
		ok := false
		var want []string
		for _, r := range allowed(w.led.stock[key], func(r stockRec) outcome { return r.state }) {
			ok = ok || (r.asOf.Equal(s.AsOf) && r.in == s.InWarehouse && r.damaged == s.Damaged)
			want = append(want, fmt.Sprintf("%d/%d as of %s (%s)", r.in, r.damaged, r.asOf.Format("15:04:05.000"), r.state))
		}
		if !ok {
			t.Errorf("stock %s/%s is %d/%d as of %s, want one of %v", s.SKU, s.Warehouse, s.InWarehouse, s.Damaged,
				s.AsOf.Format("15:04:05.000"), want)
		}
	}
}

// checkAllocations: each acknowledged allocation there once, whole, with
// its last acknowledged quantities (or a later unknown patch's); ended if
// its end was acknowledged; no other allocation.
func (w *crashWorld) checkAllocations() {
	t := w.t
	byName := map[string]*allocRec{}
	for _, a := range w.led.allocs {
		byName[a.name] = a
	}
	seen := map[string]bool{}
	for _, got := range w.allocations() {
		a := byName[got.Name]
		if a == nil || a.created == refused || seen[got.Name] {
			t.Errorf("allocation %d %q is there: sent %v, seen before %v", got.ID, got.Name, a != nil, seen[got.Name])
			continue
		}
		seen[got.Name] = true
		if a.id != 0 && a.id != got.ID {
			t.Errorf("allocation %q has id %d, it was answered %d", a.name, got.ID, a.id)
		}
		if len(got.Channels) != 1 || got.Channels[0] != a.channels[0] || len(got.Lines) != 2 {
			t.Errorf("allocation %q is %+v with %+v, want %+v with 2 lines", a.name, got.Channels, got.Lines, a.channels)
			continue
		}
		q := got.Lines[0].Quantity
		if got.Lines[1].Quantity != q {
			t.Errorf("allocation %q has lines %+v: a patch applied in part", a.name, got.Lines)
		}
		var want []int
		found := false
		for _, p := range allowed(a.patches, func(p patchRec) outcome { return p.state }) {
			want = append(want, p.quantity)
			found = found || p.quantity == q
		}
		if !found {
			t.Errorf("allocation %q has quantity %d, want one of %v (patches %+v)", a.name, q, want, a.patches)
		}
		if a.ended == acked && got.Active {
			t.Errorf("allocation %q is active, its end was acknowledged", a.name)
		}
	}
	for _, a := range w.led.allocs {
		if a.created == acked && !seen[a.name] {
			t.Errorf("acknowledged allocation %q is missing", a.name)
		}
	}
}

// checkPushOrder: the platform never applied an older value of a listing
// after a newer one.
func (w *crashWorld) checkPushOrder() {
	last := map[string]int64{}
	acc := w.platform.Accepted()
	for _, a := range acc {
		_, v, ok := strings.Cut(a.Key, "-")
		version, err := strconv.ParseInt(v, 10, 64)
		if !ok || err != nil {
			w.t.Fatalf("push key %q is not listing-version", a.Key)
		}
		if version < last[a.Listing] {
			w.t.Errorf("the platform applied version %d of %s after version %d", version, a.Listing, last[a.Listing])
		}
		last[a.Listing] = version
	}
	w.t.Logf("the platform applied %d pushes", len(acc))
}

// checkStore opens the database of the stopped process: every listing's
// publication is confirmed, at what the platform shows, and no outbox
// mark is left.
func (w *crashWorld) checkStore() {
	t := w.t
	err := readStopped(t, w.db, "outlet", func(tx *store.Tx, pubs []store.Publication) error {
		sort.Slice(pubs, func(i, j int) bool { return pubs[i].ExternalID < pubs[j].ExternalID })
		if len(pubs) != len(crashSKUs) {
			t.Errorf("%d publications, want %d", len(pubs), len(crashSKUs))
		}
		for _, p := range pubs {
			if shown, _ := w.platform.Shown(p.ExternalID); !p.Confirmed || p.Quantity != shown {
				t.Errorf("publication of %s: %d, confirmed %v; the platform shows %d", p.ExternalID, p.Quantity, p.Confirmed, shown)
			}
		}
		marks, err := tx.Marks(10)
		if err != nil {
			return err
		}
		if len(marks) > 0 {
			t.Errorf("%d outbox marks left: %+v", len(marks), marks)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
