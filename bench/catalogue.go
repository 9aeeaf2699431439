package bench

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/app"
	"github.com/allot/allot/client"
	"github.com/allot/allot/generic"
	"github.com/allot/allot/service"
	"github.com/allot/allot/store"
)

// catalogue is a merchant with a large catalogue: SKUs products, 10
// channels (2 generic stores with a listing per SKU, pushing to platforms
// in this process, and 8 API channels), one warehouse, and a reserve on a
// tenth of the SKUs.
type catalogue struct {
	srv       *app.Server
	c         *client.Client
	who       service.Actor
	skus      []string
	platforms []*generic.Platform
	done      func()
}

const secret = "bench-platform-secret"

func newCatalogue(ctx context.Context, cfg Config, skus int, settle time.Duration) (*catalogue, error) {
	srv, c, done, err := cfg.server(ctx, func(a *app.Config) { a.Settle = settle })
	if err != nil {
		return nil, err
	}
	k := &catalogue{srv: srv, c: c, done: done}
	fail := func(err error) (*catalogue, error) { k.close(); return nil, err }
	if k.who, err = srv.Service.Authenticate(ctx, "allot_test_token_0123456789"); err != nil {
		return fail(err)
	}
	svc := srv.Service
	if _, err := svc.PutWarehouse(ctx, k.who, allot.Warehouse{Code: "w1"}); err != nil {
		return fail(err)
	}
	products := make([]service.ProductLine, skus)
	stock := make([]service.StockLine, skus)
	k.skus = make([]string, skus)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range skus {
		sku := fmt.Sprintf("SKU-%06d", i)
		k.skus[i] = sku
		products[i] = service.ProductLine{Line: i + 2, Product: allot.Product{SKU: sku, Name: "Product " + sku}}
		stock[i] = service.StockLine{Line: i + 2, StockReport: allot.StockReport{Warehouse: "w1", SKU: sku, InWarehouse: 100 + r.IntN(900)}}
	}
	if _, err := svc.ImportProducts(ctx, k.who, products); err != nil {
		return fail(err)
	}
	if _, err := svc.ImportStock(ctx, k.who, stock); err != nil {
		return fail(err)
	}
	for i := range 2 {
		p := generic.NewPlatform(secret)
		k.platforms = append(k.platforms, p)
		code := fmt.Sprintf("store%d", i+1)
		if _, _, err := svc.PutChannel(ctx, k.who, allot.Channel{Code: code, Platform: allot.Generic,
			Settings: map[string]any{"push_url": p.PushURL(), "secret": secret, "batch_size": float64(1000)}}); err != nil {
			return fail(err)
		}
		ls := make([]service.ListingLine, skus)
		for j, sku := range k.skus {
			ls[j] = service.ListingLine{Line: j + 2, ListingParams: service.ListingParams{Channel: code, ExternalID: "L-" + sku, SKU: sku}}
		}
		if _, err := svc.ImportListings(ctx, k.who, ls); err != nil {
			return fail(err)
		}
	}
	for i := range 8 {
		if _, _, err := svc.PutChannel(ctx, k.who, allot.Channel{Code: fmt.Sprintf("api%d", i+1), Platform: allot.API}); err != nil {
			return fail(err)
		}
	}
	// A reserve on every tenth SKU, in allocations of at most 1,000 lines
	// (the limit of one allocation).
	var lines []allot.Line
	for i := 0; i < skus; i += 10 {
		lines = append(lines, allot.Line{SKU: k.skus[i], Quantity: 20})
	}
	for part := range slices.Chunk(lines, 1000) {
		if _, err := svc.CreateAllocation(ctx, k.who, service.AllocationParams{Name: "B2B tenth", Purpose: allot.Reserve,
			Channels: []allot.AllocationChannel{{Channel: "api1", Rule: allot.UseAvailable}}, Lines: part}); err != nil {
			return fail(err)
		}
	}
	return k, nil
}

func (k *catalogue) close() {
	if k.done != nil {
		k.done()
	}
	for _, p := range k.platforms {
		p.Close()
	}
}

// waitQueued waits until the outbox is empty: every change computed and
// queued for push. It returns when.
func (k *catalogue) waitQueued(ctx context.Context) (time.Time, error) {
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		ms, err := k.srv.DB.MarkedMerchants(ctx)
		if err != nil {
			return time.Time{}, err
		}
		if len(ms) == 0 {
			return time.Now(), nil
		}
		time.Sleep(10 * time.Millisecond) // a poll a millisecond would load the server measured
	}
	return time.Time{}, fmt.Errorf("the outbox did not empty")
}

// waitPushed waits until the platforms have every quantity: nothing
// pending, so that a measurement is not a backlog's.
func (k *catalogue) waitPushed(ctx context.Context) error {
	if _, err := k.waitQueued(ctx); err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		pending, err := k.srv.DB.AnyPending(ctx)
		if err != nil {
			return err
		}
		if !pending {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("pushes still pending")
}

// zipf draws SKUs with a Zipf distribution: a few sell a lot.
type zipf struct {
	mu sync.Mutex
	z  *rand.Zipf
}

func newZipf(n int, seed uint64) *zipf {
	return &zipf{z: rand.NewZipf(rand.New(rand.NewPCG(seed, 7)), 1.1, 1, uint64(n-1))}
}

func (z *zipf) next() int {
	z.mu.Lock()
	defer z.mu.Unlock()
	return int(z.z.Uint64())
}

// SteadyResult is a run of steady imported orders.
type SteadyResult struct {
	Name      string
	Orders    int
	Units     int // units of the orders accepted
	Errors    int
	Elapsed   time.Duration
	Latencies Latencies
	// CPU is the machine's busy CPU time while the orders ran (0: not
	// known; see machineBusy).
	CPU time.Duration
}

// CPUPer1000 is the machine's CPU seconds per 1,000 orders, or 0.
func (r SteadyResult) CPUPer1000() float64 {
	if r.Orders == 0 {
		return 0
	}
	return r.CPU.Seconds() * 1000 / float64(r.Orders)
}

// PerSecond is orders per second.
func (r SteadyResult) PerSecond() float64 { return float64(r.Orders) / r.Elapsed.Seconds() }

// steady sends n orders of 1–5 Zipf-drawn lines from clients goroutines.
func steady(n, clients, skus int, send func(id string, lines []allot.Line) error) SteadyResult {
	z := newZipf(skus, 3)
	var next atomic.Int64
	var mu sync.Mutex
	var res SteadyResult
	var wg sync.WaitGroup
	busy, busyOK := machineBusy()
	start := time.Now()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(c), 11))
			var lat Latencies
			ok, units, errs := 0, 0, 0
			for {
				i := next.Add(1)
				if i > int64(n) {
					break
				}
				lines := make([]allot.Line, 0, 5)
				seen := map[int]bool{}
				for range 1 + r.IntN(5) {
					s := z.next()
					if !seen[s] {
						seen[s] = true
						lines = append(lines, allot.Line{SKU: fmt.Sprintf("SKU-%06d", s), Quantity: 1 + r.IntN(2)})
					}
				}
				t := time.Now()
				if err := send("ord-"+strconv.FormatInt(i, 10), lines); err != nil {
					errs++
				} else {
					ok++
					for _, l := range lines {
						units += l.Quantity
					}
				}
				lat = append(lat, time.Since(t))
			}
			mu.Lock()
			res.Orders += ok
			res.Units += units
			res.Errors += errs
			res.Latencies = append(res.Latencies, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	if after, ok := machineBusy(); ok && busyOK {
		res.CPU = after - busy
	}
	return res
}

// CatalogueResult holds scenarios 2 to 4 on one catalogue.
type CatalogueResult struct {
	SKUs, Channels int
	Steady         []SteadyResult
	// Full stock report, by CSV and by the API's JSON, and the raw
	// database baseline.
	StockCSV, StockJSON StockReport
	StockBaseline       time.Duration
	// Committed is the units the catalogue's stock says open orders take,
	// after the steady orders: it must be the units they were sent with.
	Committed int
	// Mismatches are listings whose store does not show what allot
	// publishes, once every push is done.
	Mismatches []string
	// Recompute from scratch, and the raw read of the same rows.
	Recompute, RecomputeBaseline time.Duration
	Quantities                   int
	// QueueLag is, per order sent alone, the time from sending it to its
	// acknowledgement: its pushes are queued in its own transaction, so
	// once acknowledged they are in the push queue. QueueLagBusy is the
	// same while the steady orders' pushes are still being sent (the
	// worker writing beside the orders); QueueLag, once they are all sent.
	QueueLag, QueueLagBusy Latencies
	// QueueLagBaseline is the steady baseline's orders sent alone: the
	// time to commit an order the usual way, in the process.
	QueueLagBaseline Latencies
}

// loneOrders is how many orders are timed one at a time: 2,000, so that
// the p99 is the 20th slowest, not the 5th, steadier from run to run.
const loneOrders = 2000

// StockReport is a full stock report's run: the time to apply it, and
// until every quantity is computed and queued for push, and the peaks of
// memory meanwhile (see watchMemory).
type StockReport struct {
	Applied, Queued        time.Duration
	PeakHeap, PeakResident uint64
}

// Catalogue runs scenarios 2 (steady orders), 3 (full stock report) and 4
// (recompute, and an order's way to the push queue) on one catalogue.
func Catalogue(ctx context.Context, cfg Config, skus, orders, clients int) (CatalogueResult, error) {
	res := CatalogueResult{SKUs: skus, Channels: 10}
	k, err := newCatalogue(ctx, cfg, skus, 500*time.Millisecond)
	if err != nil {
		return res, err
	}
	defer k.close()
	if err := k.waitPushed(ctx); err != nil {
		return res, err
	}

	// 4. Recompute from scratch: read everything, compute every quantity.
	start := time.Now()
	err = k.srv.DB.Read(ctx, k.who.Merchant, time.Now(), func(tx *store.Tx) error {
		snap, err := tx.Snapshot(nil)
		if err != nil {
			return err
		}
		for sku := range snap.SKUs {
			for c := range snap.Channels {
				snap.Published(c, sku)
				res.Quantities++
			}
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	res.Recompute = time.Since(start)
	if !cfg.SkipBaselines {
		if res.RecomputeBaseline, err = rawRead(ctx, cfg, k); err != nil {
			return res, err
		}
	}

	// 2. Steady imported orders.
	s := steady(orders, clients, skus, func(id string, lines []allot.Line) error {
		return k.c.Do(ctx, "POST", "/v1/orders/import", map[string]any{"channel": "api2", "external_id": id, "lines": lines}, nil)
	})
	s.Name = "allot (" + k.srv.DB.Engine() + ")"
	res.Steady = append(res.Steady, s)
	// 4. An order's way to the push queue, one order at a time: at once,
	// while the steady orders' pushes are sent (500 orders, about the
	// time they take), then once they are (loneOrders).
	alone := func(prefix string, n int) (Latencies, error) {
		lag := steady(min(orders, n), 1, skus, func(id string, lines []allot.Line) error {
			return k.c.Do(ctx, "POST", "/v1/orders/import", map[string]any{"channel": "api2", "external_id": prefix + id, "lines": lines}, nil)
		})
		if lag.Errors > 0 {
			return nil, fmt.Errorf("%d orders sent alone failed", lag.Errors)
		}
		res.Steady[0].Units += lag.Units
		return lag.Latencies, nil
	}
	if res.QueueLagBusy, err = alone("busy-", 500); err != nil {
		return res, err
	}
	if err := k.waitPushed(ctx); err != nil {
		return res, err
	}
	if res.QueueLag, err = alone("alone-", loneOrders); err != nil {
		return res, err
	}
	if !cfg.SkipBaselines {
		b, lone, err := steadyBaseline(ctx, cfg, skus, orders, clients)
		if err != nil {
			return res, err
		}
		res.Steady = append(res.Steady, b)
		res.QueueLagBaseline = lone
	}

	if res.Committed, err = k.committed(ctx); err != nil {
		return res, err
	}

	// 3. A full stock report by CSV, then one by the API: every SKU's
	// stock changes each time.
	if err := k.waitPushed(ctx); err != nil {
		return res, err
	}
	var csv []byte
	csv = append(csv, "warehouse,sku,in_warehouse\n"...)
	for i, sku := range k.skus {
		csv = append(csv, "w1,"+sku+","+strconv.Itoa(200+i%700)+"\n"...)
	}
	if res.StockCSV, err = k.report(ctx, func() error {
		var out map[string]any
		return k.c.Upload(ctx, "/v1/import/stock", "text/csv", bytesReader(csv), &out)
	}); err != nil {
		return res, err
	}
	if err := k.waitPushed(ctx); err != nil {
		return res, err
	}
	reports := make([]map[string]any, len(k.skus))
	for i, sku := range k.skus {
		reports[i] = map[string]any{"warehouse": "w1", "sku": sku, "in_warehouse": 300 + i%500}
	}
	if res.StockJSON, err = k.report(ctx, func() error {
		return k.c.Do(ctx, "POST", "/v1/stock", map[string]any{"reports": reports}, nil)
	}); err != nil {
		return res, err
	}
	if err := k.waitPushed(ctx); err != nil {
		return res, err
	}
	if res.Mismatches, err = k.mismatches(ctx); err != nil {
		return res, err
	}
	if !cfg.SkipBaselines {
		if res.StockBaseline, err = rawStock(ctx, cfg, k.skus); err != nil {
			return res, err
		}
	}
	return res, nil
}

// report sends a full stock report and times it.
func (k *catalogue) report(ctx context.Context, send func() error) (StockReport, error) {
	runtime.GC()
	stop := watchMemory()
	start := time.Now()
	if err := send(); err != nil {
		stop()
		return StockReport{}, err
	}
	r := StockReport{Applied: time.Since(start)}
	at, err := k.waitQueued(ctx)
	r.Queued = at.Sub(start)
	r.PeakHeap, r.PeakResident = stop()
	return r, err
}

// committed sums the units open orders commit over the catalogue.
func (k *catalogue) committed(ctx context.Context) (int, error) {
	var st struct {
		Stock []allot.Stock `json:"stock"`
	}
	if err := k.c.Do(ctx, "GET", "/v1/stock", nil, &st); err != nil {
		return 0, err
	}
	n := 0
	for _, s := range st.Stock {
		n += s.Committed
	}
	return n, nil
}

// mismatches lists the listings whose platform does not show the quantity
// allot publishes for them.
func (k *catalogue) mismatches(ctx context.Context) ([]string, error) {
	var out []string
	for i, p := range k.platforms {
		m, err := mismatches(ctx, k.c, fmt.Sprintf("store%d", i+1), len(k.skus), p.Shown)
		if err != nil {
			return nil, err
		}
		out = append(out, m...)
	}
	return out, nil
}

// mismatches lists the listings of channel whose store does not show the
// quantity allot publishes for them (shown reads the store), and whether
// allot publishes one for each of its listings.
func mismatches(ctx context.Context, c *client.Client, channel string, listings int, shown func(listing string) (int, bool)) ([]string, error) {
	var q struct {
		Quantities []struct {
			Listing  string `json:"listing"`
			Quantity int    `json:"quantity"`
		} `json:"quantities"`
	}
	if err := c.Do(ctx, "GET", "/v1/channels/"+channel+"/quantities", nil, &q); err != nil {
		return nil, err
	}
	var out []string
	if len(q.Quantities) != listings {
		out = append(out, fmt.Sprintf("%s publishes %d quantities for %d listings", channel, len(q.Quantities), listings))
	}
	for _, l := range q.Quantities {
		if n, ok := shown(l.Listing); !ok || n != l.Quantity {
			out = append(out, fmt.Sprintf("%s %s: the store shows %d (%v), allot publishes %d", channel, l.Listing, n, ok, l.Quantity))
		}
	}
	return out, nil
}

// watchMemory samples the heap in use and the process's resident memory
// until the returned function is called, which returns their peaks. The
// resident memory is the whole process's: allot with SQLite's page caches
// (outside Go's heap), and the load generator's requests too.
func watchMemory() func() (heap, resident uint64) {
	var peakHeap, peakRSS atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peakHeap.Load() {
				peakHeap.Store(m.HeapInuse)
			}
			if rss := residentMemory(); rss > peakRSS.Load() {
				peakRSS.Store(rss)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() (uint64, uint64) { close(stop); <-done; return peakHeap.Load(), peakRSS.Load() }
}

// residentMemory is the process's resident set in bytes, from Linux's
// /proc/self/status, or 0 where there is none.
func residentMemory() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok { // "VmRSS:   123456 kB"
			f := strings.Fields(rest)
			if len(f) == 0 {
				return 0
			}
			kb, _ := strconv.ParseUint(f[0], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// rawRead is the floor of a recompute: reading the same stock rows with
// nothing computed.
func rawRead(ctx context.Context, cfg Config, k *catalogue) (time.Duration, error) {
	start := time.Now()
	n := 0
	err := k.srv.DB.Read(ctx, k.who.Merchant, time.Now(), func(tx *store.Tx) error {
		rows, err := tx.StockList("")
		n = len(rows)
		return err
	})
	if n == 0 && err == nil {
		err = fmt.Errorf("no stock read")
	}
	return time.Since(start), err
}

// rawStock is the floor of a stock import: upserting the same rows into a
// bare table, many rows a statement, in one transaction.
func rawStock(ctx context.Context, cfg Config, skus []string) (time.Duration, error) {
	dsn, drop, err := cfg.database(ctx)
	if err != nil {
		return 0, err
	}
	defer drop()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	sqldb := db.Raw()
	if _, err := sqldb.ExecContext(ctx, `CREATE TABLE raw_stock (sku TEXT PRIMARY KEY, in_warehouse BIGINT NOT NULL)`); err != nil {
		return 0, err
	}
	start := time.Now()
	tx, err := sqldb.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	for i := 0; i < len(skus); i += 400 {
		part := skus[i:min(len(skus), i+400)]
		q := "INSERT INTO raw_stock VALUES "
		args := make([]any, 0, 2*len(part))
		for j, sku := range part {
			if j > 0 {
				q += ","
			}
			q += fmt.Sprintf("($%d,$%d)", 2*j+1, 2*j+2)
			args = append(args, sku, 200+j)
		}
		if _, err := tx.ExecContext(ctx, q+" ON CONFLICT (sku) DO UPDATE SET in_warehouse = excluded.in_warehouse", args...); err != nil {
			return 0, err
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// steadyBaseline imports the same orders the usual way of open-source
// commerce engines: a transaction per order that locks each line's stock
// row, checks, updates it and inserts the order and its lines.
func steadyBaseline(ctx context.Context, cfg Config, skus, orders, clients int) (SteadyResult, Latencies, error) {
	dsn, drop, err := cfg.database(ctx)
	if err != nil {
		return SteadyResult{}, nil, err
	}
	defer drop()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return SteadyResult{}, nil, err
	}
	defer db.Close()
	sqldb := db.Raw()
	for _, q := range []string{`CREATE TABLE stock (sku TEXT PRIMARY KEY, available BIGINT NOT NULL)`,
		`CREATE TABLE orders (id TEXT PRIMARY KEY, created_at BIGINT NOT NULL)`,
		`CREATE TABLE order_lines (order_id TEXT NOT NULL, sku TEXT NOT NULL, quantity BIGINT NOT NULL)`} {
		if _, err := sqldb.ExecContext(ctx, q); err != nil {
			return SteadyResult{}, nil, err
		}
	}
	for i := 0; i < skus; i += 400 {
		q := "INSERT INTO stock VALUES "
		var args []any
		for j := i; j < min(skus, i+400); j++ {
			if j > i {
				q += ","
			}
			q += fmt.Sprintf("($%d,$%d)", len(args)+1, len(args)+2)
			args = append(args, fmt.Sprintf("SKU-%06d", j), 1_000_000)
		}
		if _, err := sqldb.ExecContext(ctx, q, args...); err != nil {
			return SteadyResult{}, nil, err
		}
	}
	lock := " FOR UPDATE"
	if cfg.Engine == "sqlite" {
		lock = "" // SQLite's writer lock serialises the transactions already
	}
	place := func(id string, lines []allot.Line) error {
		tx, err := sqldb.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		sorted := slices.Clone(lines)
		slices.SortFunc(sorted, func(a, b allot.Line) int { return compare(a.SKU, b.SKU) }) // no deadlocks
		for _, l := range sorted {
			var available int
			if err := tx.QueryRowContext(ctx, `SELECT available FROM stock WHERE sku = $1`+lock, l.SKU).Scan(&available); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE stock SET available = $1 WHERE sku = $2`, available-l.Quantity, l.SKU); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO orders VALUES ($1, $2)`, id, time.Now().UnixMicro()); err != nil {
			return err
		}
		for _, l := range lines {
			if _, err := tx.ExecContext(ctx, `INSERT INTO order_lines VALUES ($1, $2, $3)`, id, l.SKU, l.Quantity); err != nil {
				return err
			}
		}
		return tx.Commit()
	}
	res := steady(orders, clients, skus, place)
	res.Name = "baseline: a transaction per order"
	// The same orders one at a time: the time a durable order takes
	// alone, the floor under allot's lone orders (which also queue their
	// pushes, and come over HTTP).
	lone := steady(min(orders, loneOrders), 1, skus, func(id string, lines []allot.Line) error {
		return place("alone-"+id, lines)
	})
	if lone.Errors > 0 {
		return res, nil, fmt.Errorf("%d baseline orders sent alone failed", lone.Errors)
	}
	return res, lone.Latencies, nil
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// PrintCatalogue writes scenarios 2 to 4.
func PrintCatalogue(cfg Config, orders int, r CatalogueResult) {
	fmt.Fprintf(cfg.Out, "\nsteady catalogue: %d SKUs, %d channels, a reserve on a tenth of the SKUs; %d imported orders of 1–5 Zipf-drawn lines\n",
		r.SKUs, r.Channels, orders)
	rows := [][]string{{"contender", "orders", "errors", "seconds", "orders/s", "p50", "p99", "machine CPU s per 1,000"}}
	for _, s := range r.Steady {
		cpu := "-"
		if s.CPU > 0 {
			cpu = fmt.Sprintf("%.2f", s.CPUPer1000())
		}
		rows = append(rows, []string{s.Name, strconv.Itoa(s.Orders), strconv.Itoa(s.Errors), fmt.Sprintf("%.2f", s.Elapsed.Seconds()),
			fmt.Sprintf("%.0f", s.PerSecond()), ms(s.Latencies.Quantile(0.5)), ms(s.Latencies.Quantile(0.99)), cpu})
	}
	table(cfg.Out, rows)
	if len(r.Steady) == 2 {
		fmt.Fprintf(cfg.Out, "ratio: allot/baseline = %.1f×\n", r.Steady[0].PerSecond()/r.Steady[1].PerSecond())
	}
	fmt.Fprintf(cfg.Out, "units committed by the orders: %d, sent: %d\n", r.Committed, r.Steady[0].Units)
	fmt.Fprintf(cfg.Out, "\nfull stock report of %d lines: applied, then every quantity computed and queued for push\n", r.SKUs)
	rows = [][]string{{"way in", "applied after", "queued after", "peak heap", "peak resident (whole process)"}}
	for _, w := range []struct {
		name string
		r    StockReport
	}{{"CSV file (POST /v1/import/stock)", r.StockCSV}, {"JSON (POST /v1/stock)", r.StockJSON}} {
		rows = append(rows, []string{w.name, fmt.Sprintf("%.2f s", w.r.Applied.Seconds()), fmt.Sprintf("%.2f s", w.r.Queued.Seconds()),
			fmt.Sprintf("%d MiB", w.r.PeakHeap>>20), fmt.Sprintf("%d MiB", w.r.PeakResident>>20)})
	}
	table(cfg.Out, rows)
	if r.StockBaseline > 0 {
		fmt.Fprintf(cfg.Out, "baseline: the same rows upserted into a bare table in %.2f s; ratio allot (CSV, queued)/baseline = %.1f×\n",
			r.StockBaseline.Seconds(), r.StockCSV.Queued.Seconds()/r.StockBaseline.Seconds())
	}
	fmt.Fprintf(cfg.Out, "listings whose store does not show what allot publishes, once pushed: %d\n", len(r.Mismatches))
	fmt.Fprintf(cfg.Out, "\nrecompute: %d quantities from scratch in %.3f s", r.Quantities, r.Recompute.Seconds())
	if r.RecomputeBaseline > 0 {
		fmt.Fprintf(cfg.Out, "; reading the stock rows alone takes %.3f s (%.1f×)", r.RecomputeBaseline.Seconds(), r.Recompute.Seconds()/r.RecomputeBaseline.Seconds())
	}
	fmt.Fprintln(cfg.Out)
	fmt.Fprintf(cfg.Out, "an order's change to the push queue (its pushes are queued in its own transaction; sent one at a time, from sending it to its acknowledgement): p50 %s, p99 %s over %d orders",
		ms(r.QueueLag.Quantile(0.5)), ms(r.QueueLag.Quantile(0.99)), len(r.QueueLag))
	if len(r.QueueLagBusy) > 0 {
		fmt.Fprintf(cfg.Out, "; right after the steady orders, while their pushes are sent: p50 %s, p99 %s over %d orders",
			ms(r.QueueLagBusy.Quantile(0.5)), ms(r.QueueLagBusy.Quantile(0.99)), len(r.QueueLagBusy))
	}
	fmt.Fprintln(cfg.Out)
	if len(r.QueueLagBaseline) > 0 {
		fmt.Fprintf(cfg.Out, "baseline: the same orders committed alone the usual way (a transaction per order, in the process: no HTTP, no pushes): p50 %s, p99 %s over %d orders; ratio of the p99s allot/baseline = %.1f×\n",
			ms(r.QueueLagBaseline.Quantile(0.5)), ms(r.QueueLagBaseline.Quantile(0.99)), len(r.QueueLagBaseline),
			float64(r.QueueLag.Quantile(0.99))/float64(r.QueueLagBaseline.Quantile(0.99)))
	}
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
