package syncer_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/allot/allot/allottest"
	"github.com/allot/allot/app"
	"github.com/allot/allot/client"
	"github.com/allot/allot/generic"
	"github.com/allot/allot/store"
)

const secret = "platform-secret-0123456789"

type world struct {
	t   *testing.T
	srv *app.Server
	c   *client.Client
	p   *generic.Platform
}

// newWorld starts allot and a generic platform "shop" with listings L-tee
// and L-cap, and 10 tees and 5 caps in stock.
func newWorld(t *testing.T, opt allottest.Options) *world {
	t.Helper()
	p := generic.NewPlatform(secret)
	t.Cleanup(p.Close)
	srv, c := allottest.Server(t, opt)
	w := &world{t: t, srv: srv, c: c, p: p}
	w.do("PUT", "/v1/warehouses/w1", map[string]any{"name": "Main"})
	w.do("PUT", "/v1/products/tee", map[string]any{"name": "T-shirt"})
	w.do("PUT", "/v1/products/cap", map[string]any{"name": "Cap"})
	w.do("PUT", "/v1/channels/shop", map[string]any{"platform": "generic",
		"settings": map[string]any{"push_url": p.PushURL(), "read_url": p.ReadURL(), "secret": secret}})
	w.do("PUT", "/v1/channels/b2b", map[string]any{"platform": "api"})
	w.do("PUT", "/v1/channels/shop/listings/L-tee", map[string]any{"sku": "tee"})
	w.do("PUT", "/v1/channels/shop/listings/L-cap", map[string]any{"sku": "cap"})
	w.stock("tee", 10)
	w.stock("cap", 5)
	return w
}

func (w *world) do(method, path string, body any) map[string]any {
	w.t.Helper()
	var out map[string]any
	if err := w.c.Do(context.Background(), method, path, body, &out); err != nil {
		w.t.Fatalf("%s %s: %v", method, path, err)
	}
	return out
}

func (w *world) stock(sku string, n int) {
	w.t.Helper()
	w.do("PUT", "/v1/stock/w1/"+sku, map[string]any{"in_warehouse": n})
}

// eventually waits until the platform shows want for listing.
func (w *world) eventually(listing string, want int) {
	w.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if q, ok := w.p.Shown(listing); ok && q == want {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	q, _ := w.p.Shown(listing)
	st := w.do("GET", "/v1/channels/shop/sync", nil)
	w.t.Fatalf("the platform shows %d of %s, want %d; sync: %v", q, listing, want, st)
}

// settled waits until nothing waits to be pushed.
func (w *world) settled() {
	w.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		st := w.do("GET", "/v1/channels/shop/sync", nil)
		if st["pending"].(float64) == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	w.t.Fatalf("pushes still pending: %v", w.do("GET", "/v1/channels/shop/sync", nil))
}

// noneOlderOverNewer checks the platform's log: for each listing, the
// values it applied came in the order allot produced them.
func (w *world) noneOlderOverNewer() {
	w.t.Helper()
	last := map[string][2]int64{}
	for _, a := range w.p.Accepted() {
		parts := strings.SplitN(a.Key, "-", 2)
		listing, _ := strconv.ParseInt(parts[0], 10, 64)
		version, _ := strconv.ParseInt(parts[1], 10, 64)
		if prev, ok := last[a.Listing]; ok && prev[0] == listing && version < prev[1] {
			w.t.Fatalf("%s: value of version %d applied after version %d", a.Listing, version, prev[1])
		}
		last[a.Listing] = [2]int64{listing, version}
	}
}

func TestStockAllocationAndOrderReachTheChannel(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		w := newWorld(t, allottest.Options{Engine: engine})
		w.eventually("L-tee", 10)
		w.eventually("L-cap", 5)

		w.stock("tee", 7) // a decrease
		w.eventually("L-tee", 7)
		w.do("POST", "/v1/allocations", map[string]any{"purpose": "reserve", "channels": []map[string]any{{"channel": "b2b"}},
			"lines": []map[string]any{{"sku": "tee", "quantity": 3}}})
		w.eventually("L-tee", 4)
		w.do("POST", "/v1/orders", map[string]any{"channel": "b2b", "external_id": "o1", "lines": []map[string]any{{"sku": "cap", "quantity": 2}}})
		w.eventually("L-cap", 3)
		w.stock("cap", 50) // an increase, after the settling delay
		w.eventually("L-cap", 48)
		w.noneOlderOverNewer()

		st := w.do("GET", "/v1/channels/shop/sync", nil)
		if st["last_success_at"] == nil || len(st["publications"].([]any)) != 2 {
			t.Fatalf("sync status %v", st)
		}
		ready := w.do("GET", "/v1/readiness?channel=shop", nil)
		if !strings.Contains(fmt.Sprint(ready), "last successful call") {
			t.Fatalf("readiness does not say the channel answers: %v", ready)
		}
	})
}

func TestIncreasesWaitForTheSettlingDelayDecreasesDoNot(t *testing.T) {
	w := newWorld(t, allottest.Options{Settle: 2 * time.Second})
	w.eventually("L-tee", 10) // the first publication goes out at once
	w.stock("tee", 20)
	time.Sleep(500 * time.Millisecond)
	if q, _ := w.p.Shown("L-tee"); q != 10 {
		t.Fatalf("an increase went out at once: the platform shows %d", q)
	}
	w.stock("tee", 4) // a decrease overtakes the waiting increase
	w.eventually("L-tee", 4)
	w.settled()
	for _, a := range w.p.Accepted() {
		if a.Listing == "L-tee" && a.Quantity == 20 {
			t.Fatal("the increase to 20 was pushed although a decrease replaced it")
		}
	}
}

func TestFaultsLoseNoPushAndNeverApplyAnOlderValue(t *testing.T) {
	for _, fault := range []string{"429", "500", "close", "timeout"} {
		t.Run(fault, func(t *testing.T) {
			w := newWorld(t, allottest.Options{Settle: 10 * time.Millisecond, CallTimeout: 300 * time.Millisecond})
			w.eventually("L-tee", 10)
			w.p.Fail(fault, 4)
			for i, n := range []int{9, 8, 12, 6, 5} {
				w.stock("tee", n)
				w.stock("cap", 20+i)
				time.Sleep(30 * time.Millisecond)
			}
			w.eventually("L-tee", 5)
			w.eventually("L-cap", 24)
			w.settled()
			w.noneOlderOverNewer()
			calls, _ := w.p.Calls()
			if calls < 5 {
				t.Fatalf("%d calls: the fault was never met", calls)
			}
			metrics := w.metrics()
			for _, m := range []string{"allot_push_retries_total", "allot_push_failures_total", "allot_pushes_total", "allot_push_lag_seconds_bucket"} {
				if !strings.Contains(metrics, m) {
					t.Errorf("/metrics lacks %s", m)
				}
			}
		})
	}
}

func (w *world) metrics() string {
	resp, err := http.Get(w.srv.URL() + "/metrics")
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestDriftIsDetectedAndMended(t *testing.T) {
	w := newWorld(t, allottest.Options{})
	w.p.Compare = true
	w.eventually("L-tee", 10)
	w.eventually("L-cap", 5)
	w.settled()
	w.p.Set("L-tee", 99) // someone changed it on the platform
	out := w.do("POST", "/v1/channels/shop/drift", nil)
	if out["mended"].(float64) != 1 {
		t.Fatalf("drift check: %v", out)
	}
	w.eventually("L-tee", 10)
	if !strings.Contains(w.metrics(), `allot_drift_mended_total{channel="shop"`) {
		t.Fatal("/metrics does not count the drift mended")
	}
	// A change on the platform meets a push: compare-and-set detects it
	// and allot's number wins.
	w.p.Set("L-cap", 40)
	w.stock("cap", 3)
	w.eventually("L-cap", 3)
	st := w.do("GET", "/v1/channels/shop/sync", nil)
	if st["drift_mended"].(float64) < 2 {
		t.Fatalf("sync status %v: want both drifts counted", st)
	}
}

func TestResyncPushesEverythingAgain(t *testing.T) {
	w := newWorld(t, allottest.Options{})
	w.eventually("L-tee", 10)
	w.eventually("L-cap", 5)
	w.settled()
	before := len(w.p.Accepted())
	w.p.Set("L-tee", 0)
	w.p.Set("L-cap", 0)
	if out := w.do("POST", "/v1/channels/shop/resync", nil); out["resync"] != "queued" {
		t.Fatalf("resync: %v", out)
	}
	w.eventually("L-tee", 10)
	w.eventually("L-cap", 5)
	if after := len(w.p.Accepted()); after != before+2 {
		t.Fatalf("%d quantities pushed by the resync, want 2", after-before)
	}
}

// An order delivered by the platform's webhook changes the other channels.
func TestGenericWebhookOrdersAreImportedOnceAndForgedOnesRefused(t *testing.T) {
	w := newWorld(t, allottest.Options{})
	w.eventually("L-tee", 10)
	order := []byte(`{"external_id":"P-1","lines":[{"listing":"L-tee","quantity":3}],"payment":"paid"}`)
	send := func(body []byte, sign string, delivery string) int {
		req, _ := http.NewRequest("POST", w.srv.URL()+"/webhooks/generic/shop", bytes.NewReader(body))
		now := time.Now()
		req.Header.Set(generic.TimestampHeader, strconv.FormatInt(now.Unix(), 10))
		req.Header.Set(generic.SignatureHeader, generic.Sign(sign, now, body))
		req.Header.Set(generic.DeliveryHeader, delivery)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := send(order, "wrong-secret", "d1"); code != 401 {
		t.Fatalf("forged webhook answered %d, want 401", code)
	}
	tampered := bytes.Replace(order, []byte(`"quantity":3`), []byte(`"quantity":30`), 1)
	req, _ := http.NewRequest("POST", w.srv.URL()+"/webhooks/generic/shop", bytes.NewReader(tampered))
	now := time.Now()
	req.Header.Set(generic.TimestampHeader, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(generic.SignatureHeader, generic.Sign(secret, now, order))
	if resp, _ := http.DefaultClient.Do(req); resp.StatusCode != 401 {
		t.Fatalf("altered webhook answered %d, want 401", resp.StatusCode)
	}
	if out := w.do("GET", "/v1/orders?channel=shop", nil); len(out["orders"].([]any)) != 0 {
		t.Fatalf("a refused webhook left orders: %v", out)
	}
	for i := 0; i < 3; i++ {
		if code := send(order, secret, "d1"); code != 200 {
			t.Fatalf("webhook answered %d", code)
		}
	}
	w.eventually("L-tee", 7)
	stock := w.do("GET", "/v1/stock?sku=tee", nil)["stock"].([]any)[0].(map[string]any)
	if stock["committed"].(float64) != 3 {
		t.Fatalf("committed %v after three deliveries of one order, want 3", stock["committed"])
	}
	q := w.do("GET", "/v1/quantities/b2b/tee", nil)
	if q["quantity"].(float64) != 7 {
		t.Fatalf("b2b tee = %v, want 7", q["quantity"])
	}
}

// Two processes on one PostgreSQL database push one channel: each value is
// pushed once, by whichever holds the channel's lease; when that process
// dies, the other takes over and nothing is lost.
func TestTwoWorkersShareAChannelAndSurviveTheDeathOfOne(t *testing.T) {
	if !strings.Contains(strings.Join(allottest.Engines(), ","), "postgres") {
		t.Skipf("%s is not set: PostgreSQL was skipped", allottest.PostgresEnv)
	}
	db := allottest.Database(t, "postgres")
	opt := allottest.Options{DB: db, Lease: 500 * time.Millisecond, Settle: 10 * time.Millisecond}
	w := newWorld(t, opt)
	other, c2 := allottest.Server(t, opt)
	w.eventually("L-tee", 10)
	for i := 1; i <= 20; i++ {
		c := w.c
		if i%2 == 0 {
			c = c2
		}
		if err := c.Do(context.Background(), "PUT", "/v1/stock/w1/tee", map[string]any{"in_warehouse": 10 + i}, nil); err != nil {
			t.Fatal(err)
		}
		if i == 10 {
			w.srv.Close() // the first process dies; its lease expires
			w.c = c2
		}
	}
	_ = other
	w.eventually("L-tee", 30)
	seen := map[string]bool{}
	for _, a := range w.p.Accepted() {
		if seen[a.Key] {
			t.Fatalf("value %s pushed twice", a.Key)
		}
		seen[a.Key] = true
	}
	w.noneOlderOverNewer()
}

// A worker that stops gives up its channel leases: the next process to
// start pushes at once instead of waiting for them to run out.
func TestAStoppedWorkerGivesUpItsLeases(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		db := allottest.Database(t, engine)
		w := newWorld(t, allottest.Options{DB: db, Lease: time.Hour, Settle: 10 * time.Millisecond})
		w.eventually("L-tee", 10)
		// Once nothing is pending the worker has given its lease up, in the
		// transaction that confirmed the last push, and leaves it alone:
		// the leases below are the test's own.
		w.settled()
		ctx := context.Background()
		who, err := w.srv.Service.Authenticate(ctx, allottest.Token)
		if err != nil {
			t.Fatal(err)
		}
		on := w.srv.DB
		lease := func(owner string) bool {
			var got bool
			err := on.Write(ctx, who.Merchant, "test", time.Now(), func(tx *store.Tx) error {
				chs, err := tx.Channels()
				if err != nil {
					return err
				}
				for _, c := range chs {
					if c.Code == "shop" {
						got, err = tx.AcquireLease(c.ID, owner, time.Now().Add(time.Hour))
						return err
					}
				}
				return fmt.Errorf("no channel shop")
			})
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		if !lease(w.srv.Sync.Owner) {
			t.Fatal("the worker could not take its own channel's lease")
		}
		if lease("another process") {
			t.Fatal("a lease held for an hour was taken by another process")
		}
		w.srv.Close()
		if on, err = store.Open(ctx, db); err != nil {
			t.Fatal(err)
		}
		defer on.Close()
		if !lease("another process") {
			t.Error("the worker stopped, yet its lease still holds the channel")
		}
	})
}

// Reading a channel back (its drift check) may take minutes on a large
// store within its rate limit; the pushes go on meanwhile.
func TestPushesDoNotWaitForADriftCheck(t *testing.T) {
	reading := make(chan struct{}, 1)
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case reading <- struct{}{}:
		default:
		}
		select { // a read that takes as long as the test
		case <-release:
		case <-r.Context().Done():
		}
		http.Error(w, "gave up", http.StatusServiceUnavailable)
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })
	w := newWorld(t, allottest.Options{})
	w.do("PUT", "/v1/channels/shop", map[string]any{"platform": "generic",
		"settings": map[string]any{"push_url": w.p.PushURL(), "read_url": slow.URL, "secret": secret}})
	w.eventually("L-tee", 10)
	select {
	case <-reading:
	case <-time.After(15 * time.Second):
		t.Fatal("the channel was never read back")
	}
	w.stock("tee", 4) // a decrease, while the read back hangs
	w.eventually("L-tee", 4)
}

// Under a stream of changes, each value is pushed once: the worker reads
// the next batch before it records the one it pushed, and leaves out of
// it the values being recorded.
func TestEachValueIsPushedOnceUnderAStreamOfChanges(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		w := newWorld(t, allottest.Options{Engine: engine, Settle: time.Millisecond})
		w.eventually("L-tee", 10)
		for i := 1; i <= 40; i++ {
			w.stock("tee", 10+i%7)
			w.stock("cap", 5+i%3)
			time.Sleep(3 * time.Millisecond)
		}
		w.stock("tee", 50)
		w.eventually("L-tee", 50)
		w.settled()
		seen := map[string]bool{}
		for _, a := range w.p.Accepted() {
			if seen[a.Key] {
				t.Fatalf("value %s (%s) pushed twice", a.Key, a.Listing)
			}
			seen[a.Key] = true
		}
		if len(seen) < 3 {
			t.Fatalf("only %d values pushed", len(seen))
		}
		w.noneOlderOverNewer()
	})
}
