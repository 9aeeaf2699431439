package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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
	"github.com/allot/allot/httpapi"
	"github.com/allot/allot/store"
)

// soak runs allot's server in this process under a steady mix of traffic
// and watches its memory and goroutines: a server that leaks shows it in
// minutes, long before it fails in production. It fails if the live heap
// or the goroutines grow steadily, or if any request fails.
func runSoak(env *Env) error {
	fs := flags("soak", env)
	duration := fs.Duration("duration", 10*time.Minute, "how long to run")
	every := fs.Duration("every", 5*time.Second, "how often to sample the heap and the goroutines")
	db := fs.String("db", "", "a postgres:// URL to soak on PostgreSQL, in a schema allot_soak emptied first (default: a fresh SQLite file)")
	rate := fs.Int("rate", 200, "requests a second, over all the clients")
	clients := fs.Int("clients", 8, "concurrent clients")
	if pos, err := parse(fs, env.Args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	if *every <= 0 || *duration < 3**every || *rate < 1 || *clients < 1 {
		return usagef("--duration must be at least three --every, --rate and --clients at least 1")
	}
	s := soakRun{out: env.Stdout, duration: *duration, every: *every, rate: *rate, clients: *clients}
	if *db != "" {
		dsn, err := store.FreshSchema(env.Context, *db, "allot_soak")
		if err != nil {
			return err
		}
		s.db = dsn
	} else {
		dir, err := os.MkdirTemp("", "allot-soak-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		s.db = filepath.Join(dir, "allot.db")
	}
	return s.run(env.Context)
}

// soakRun is one soak: its settings, then its counters.
type soakRun struct {
	out              io.Writer
	db               string
	duration, every  time.Duration
	rate, clients    int
	requests, errors atomic.Int64
	refused          atomic.Int64 // insufficient stock: an answer, not a failure
	mu               sync.Mutex
	firstErrors      []string
}

// soakSample is one measurement.
type soakSample struct {
	at         time.Duration
	heap       uint64 // live heap after a collection
	goroutines int
	requests   int64
}

const soakSecret = "allot-soak-secret"

var soakSKUs = func() []string {
	var s []string
	for i := range 40 {
		s = append(s, fmt.Sprintf("soak-%02d", i))
	}
	return s
}()

// soakPlatform takes the generic channel's pushes and keeps only what it
// shows, so that its own memory stays flat (generic.Platform logs every
// push, which a long soak would count against allot).
type soakPlatform struct {
	mu     sync.Mutex
	shown  map[string]int
	server *httptest.Server
}

func newSoakPlatform() *soakPlatform {
	p := &soakPlatform{shown: map[string]int{}}
	p.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		var in generic.PushBody
		if !generic.Verify(soakSecret, r.Header.Get(generic.SignatureHeader), r.Header.Get(generic.TimestampHeader), body, time.Now()) ||
			json.Unmarshal(body, &in) != nil {
			http.Error(w, `{"error":"refused"}`, http.StatusBadRequest)
			return
		}
		p.mu.Lock()
		for _, q := range in.Quantities {
			p.shown[q.Listing] = q.Quantity
		}
		p.mu.Unlock()
		w.WriteHeader(http.StatusOK) // an empty 2xx answer: every quantity applied
	}))
	return p
}

func (s *soakRun) run(ctx context.Context) error {
	platform := newSoakPlatform()
	defer platform.server.Close()
	token := fmt.Sprintf("allot_soak_%x", rand.Uint64())
	srv, err := app.Start(ctx, app.Config{Addr: "127.0.0.1:0", DB: s.db, BootstrapToken: token, Out: io.Discard,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), RateLimit: httpapi.NoRateLimit, Settle: time.Second})
	if err != nil {
		return err
	}
	defer srv.Close()
	transport := &http.Transport{MaxIdleConnsPerHost: s.clients}
	defer transport.CloseIdleConnections()
	c := client.New(srv.URL(), token)
	c.HTTP = &http.Client{Transport: transport, Timeout: time.Minute}
	if err := s.setup(ctx, c, platform); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	fmt.Fprintf(s.out, "allot soak: %s on %s, %d clients, %d requests/s, a sample every %s\n", s.duration, srv.DB.Engine(),
		s.clients, s.rate, s.every)

	ctx, cancel := context.WithTimeout(ctx, s.duration)
	defer cancel()
	tokens := make(chan struct{}, s.rate)
	go func() {
		t := time.NewTicker(time.Second / time.Duration(s.rate))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				close(tokens)
				return
			case <-t.C:
				select {
				case tokens <- struct{}{}:
				default:
				}
			}
		}
	}()
	var wg sync.WaitGroup
	for i := range s.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.client(ctx, c, srv.URL(), tokens, rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano()))))
		}()
	}
	start := time.Now()
	samples := []soakSample{s.sample(0)}
	s.print(samples[0], 0)
	t := time.NewTicker(s.every)
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-t.C:
			sm := s.sample(time.Since(start))
			s.print(sm, float64(sm.requests-samples[len(samples)-1].requests)/(sm.at-samples[len(samples)-1].at).Seconds())
			samples = append(samples, sm)
		}
	}
	t.Stop()
	wg.Wait()
	elapsed := time.Since(start)
	return s.verdict(samples, elapsed)
}

func (s *soakRun) sample(at time.Duration) soakSample {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return soakSample{at: at, heap: m.HeapAlloc, goroutines: runtime.NumGoroutine(), requests: s.requests.Load()}
}

func (s *soakRun) print(sm soakSample, rate float64) {
	fmt.Fprintf(s.out, "%6s  heap %7.1f MiB  goroutines %4d  requests %8d (%5.0f/s)  refused %6d  errors %d\n",
		sm.at.Round(time.Second), mib(sm.heap), sm.goroutines, sm.requests, rate, s.refused.Load(), s.errors.Load())
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

func byGoroutines(a, b soakSample) int { return a.goroutines - b.goroutines }

// verdict compares, after a warm-up (the first fifth of the samples), the
// last third of the samples with the first: the median heap may not grow
// by half, the goroutines not by more than a few.
func (s *soakRun) verdict(samples []soakSample, elapsed time.Duration) error {
	steady := samples[max(1, len(samples)/5):]
	third := max(1, len(steady)/3)
	first, last := steady[:third], steady[len(steady)-third:]
	heap := func(ss []soakSample) uint64 {
		hs := make([]uint64, len(ss))
		for i, s := range ss {
			hs[i] = s.heap
		}
		slices.Sort(hs)
		return hs[len(hs)/2]
	}
	gor := func(ss []soakSample) int {
		gs := make([]int, len(ss))
		for i, s := range ss {
			gs[i] = s.goroutines
		}
		slices.Sort(gs)
		return gs[len(gs)/2]
	}
	h0, h1, g0, g1 := heap(first), heap(last), gor(first), gor(last)
	n := s.requests.Load()
	fmt.Fprintf(s.out, "\nallot soak: %d requests in %s (%.0f/s), %d refused for stock, %d errors\n", n, elapsed.Round(time.Second),
		float64(n)/elapsed.Seconds(), s.refused.Load(), s.errors.Load())
	fmt.Fprintf(s.out, "heap (median, live after GC): %.1f MiB after warm-up, %.1f MiB at the end (×%.2f); goroutines %d, then %d\n",
		mib(h0), mib(h1), float64(h1)/float64(max(h0, 1)), g0, g1)
	var problems []string
	if float64(h1) > 1.5*float64(h0) {
		problems = append(problems, fmt.Sprintf("the heap grew from %.1f to %.1f MiB", mib(h0), mib(h1)))
	}
	// Goroutines come and go with the requests in flight: they grew only
	// if the fewest of the last third exceed the most of the first.
	if lo, hi := slices.MinFunc(last, byGoroutines).goroutines, slices.MaxFunc(first, byGoroutines).goroutines; lo > hi+5 {
		problems = append(problems, fmt.Sprintf("the goroutines grew from at most %d to at least %d", hi, lo))
	}
	if e := s.errors.Load(); e > 0 {
		s.mu.Lock()
		problems = append(problems, fmt.Sprintf("%d requests failed, the first: %s", e, strings.Join(s.firstErrors, "; ")))
		s.mu.Unlock()
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	fmt.Fprintln(s.out, "steady: no growth of the heap or the goroutines, no failed request")
	return nil
}

func (s *soakRun) setup(ctx context.Context, c *client.Client, platform *soakPlatform) error {
	steps := []struct {
		path string
		body any
	}{
		{"/v1/warehouses/w1", map[string]any{"name": "Main"}},
		{"/v1/channels/shop", map[string]any{"platform": "api"}},
		{"/v1/channels/b2b", map[string]any{"platform": "api", "count_unpaid": true}},
		{"/v1/channels/outlet", map[string]any{"platform": "generic", "settings": map[string]any{"push_url": platform.server.URL,
			"secret": soakSecret}}},
	}
	for _, sku := range soakSKUs {
		steps = append(steps,
			struct {
				path string
				body any
			}{"/v1/products/" + sku, map[string]any{"name": sku}},
			struct {
				path string
				body any
			}{"/v1/stock/w1/" + sku, map[string]any{"in_warehouse": 1000}},
			struct {
				path string
				body any
			}{"/v1/channels/outlet/listings/L-" + sku, map[string]any{"sku": sku}})
	}
	for _, st := range steps {
		if err := c.Do(ctx, "PUT", st.path, st.body, nil); err != nil {
			return fmt.Errorf("PUT %s: %w", st.path, err)
		}
	}
	return nil
}

// client sends requests, one per token, until the tokens end: writes of
// every kind and reads, in proportions close to a busy day's.
func (s *soakRun) client(ctx context.Context, c *client.Client, url string, tokens <-chan struct{}, rng *rand.Rand) {
	bg := context.Background() // a request started is finished, so that none is cut short at the end
	var alloc int64            // the allocation this client keeps, if any
	var placed []string        // orders this client placed lately, to ship
	for n := 0; ; n++ {
		if _, ok := <-tokens; !ok {
			if alloc != 0 {
				s.do(c.Do(bg, "DELETE", "/v1/allocations/"+strconv.FormatInt(alloc, 10), nil, nil))
			}
			return
		}
		sku := soakSKUs[rng.IntN(len(soakSKUs))]
		id := fmt.Sprintf("%x-%d", rng.Uint32(), n)
		lines := []map[string]any{{"sku": sku, "quantity": 1 + rng.IntN(2)}}
		switch k := rng.IntN(100); {
		case k < 25:
			if s.do(c.Do(bg, "POST", "/v1/orders", map[string]any{"channel": "shop", "external_id": id, "lines": lines}, nil)) {
				placed = append(placed[max(0, len(placed)-50):], id)
			}
		case k < 40:
			s.do(c.Do(bg, "POST", "/v1/orders/import", map[string]any{"channel": "b2b", "external_id": id, "lines": lines,
				"payment": "terms"}, nil))
		case k < 45 && len(placed) > 0:
			i := rng.IntN(len(placed))
			s.do(c.Do(bg, "POST", "/v1/orders/shop/"+placed[i]+"/ship", nil, nil))
			placed = slices.Delete(placed, i, i+1)
		case k < 55:
			s.do(c.Do(bg, "PUT", "/v1/stock/w1/"+sku, map[string]any{"in_warehouse": 500 + rng.IntN(1000)}, nil))
		case k < 62:
			s.do(s.webhook(bg, c.HTTP, url, id, sku))
		case k < 67:
			// One allocation a client at a time: created, changed, ended.
			if alloc == 0 {
				var a allot.Allocation
				err := c.Do(bg, "POST", "/v1/allocations", map[string]any{"purpose": "reserve",
					"channels": []map[string]any{{"channel": "b2b", "rule": "use_available"}},
					"lines":    []map[string]any{{"sku": sku, "quantity": 10 + rng.IntN(50)}}}, &a)
				s.do(err, allot.Conflict) // another client's allocation may cover that SKU
				alloc = a.ID
			} else if rng.IntN(2) == 0 {
				var a allot.Allocation
				if err := c.Do(bg, "GET", "/v1/allocations/"+strconv.FormatInt(alloc, 10), nil, &a); s.do(err) && len(a.Lines) > 0 {
					s.do(c.Do(bg, "PATCH", "/v1/allocations/"+strconv.FormatInt(alloc, 10), map[string]any{
						"lines": []map[string]any{{"sku": a.Lines[0].SKU, "quantity": rng.IntN(60)}}}, nil))
				}
			} else {
				s.do(c.Do(bg, "DELETE", "/v1/allocations/"+strconv.FormatInt(alloc, 10), nil, nil))
				alloc = 0
			}
		case k < 80:
			s.do(c.Do(bg, "GET", "/v1/channels/outlet/quantities", nil, nil))
		case k < 90:
			s.do(c.Do(bg, "GET", "/v1/quantities/shop/"+sku, nil, nil))
		case k < 94:
			s.do(c.Do(bg, "GET", "/v1/quantities", nil, nil))
		case k < 97:
			s.do(c.Do(bg, "GET", "/v1/readiness", nil, nil))
		default:
			s.do(c.Do(bg, "GET", "/v1/history?sku="+sku+"&limit=20", nil, nil))
		}
	}
}

// do counts a request's outcome; answers with one of the codes ok (and
// insufficient stock) are not failures. It reports whether it succeeded.
func (s *soakRun) do(err error, ok ...string) bool {
	s.requests.Add(1)
	switch code := allot.ErrorCode(err); {
	case err == nil:
		return true
	case code == allot.InsufficientStock:
		s.refused.Add(1)
	case slices.Contains(ok, code):
	default:
		s.errors.Add(1)
		s.mu.Lock()
		if len(s.firstErrors) < 3 {
			s.firstErrors = append(s.firstErrors, err.Error())
		}
		s.mu.Unlock()
	}
	return false
}

// webhook delivers an order of the generic channel's platform, signed.
func (s *soakRun) webhook(ctx context.Context, hc *http.Client, url, id, sku string) error {
	body := []byte(fmt.Sprintf(`{"external_id":"wh-%s","lines":[{"listing":"L-%s","quantity":1}],"payment":"paid"}`, id, sku))
	req, err := http.NewRequestWithContext(ctx, "POST", url+"/webhooks/generic/outlet", bytes.NewReader(body))
	if err != nil {
		return err
	}
	now := time.Now()
	req.Header.Set(generic.TimestampHeader, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(generic.SignatureHeader, generic.Sign(soakSecret, now, body))
	req.Header.Set(generic.DeliveryHeader, "d-"+id)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("webhook: %d %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	return nil
}
