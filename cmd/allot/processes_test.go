package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/allottest"
	"github.com/allot/allot/client"
	"github.com/allot/allot/store"
)

// process is an `allot serve` running as its own process.
type process struct {
	url string
	cmd *exec.Cmd
}

// buildAllot builds the allot binary for the test.
func buildAllot(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "allot")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// serve starts `allot serve` on db and waits until it answers.
func serve(t *testing.T, bin, db string) *process {
	t.Helper()
	return serveOn(t, bin, db, freeAddr(t))
}

// serveOn starts `allot serve` on db at addr and waits until it answers.
func serveOn(t *testing.T, bin, db, addr string) *process {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--addr", addr)
	// The tests send hundreds of requests at once with one token: no
	// rate limit.
	cmd.Env = append(os.Environ(), "ALLOT_DB="+db, "ALLOT_BOOTSTRAP_TOKEN="+allottest.Token, "ALLOT_RATE_LIMIT=off")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{url: "http://" + addr, cmd: cmd}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(p.url + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("allot serve on %s did not answer", addr)
	return nil
}

// Two allot processes on one PostgreSQL database, many clients split over
// both: exactly the sellable units are accepted, both then publish the
// same quantities, and an order imported through both at once counts once.
func TestTwoProcessesOnOnePostgresNeverOversell(t *testing.T) {
	if os.Getenv(allottest.PostgresEnv) == "" {
		t.Skipf("%s is not set: PostgreSQL was skipped", allottest.PostgresEnv)
	}
	db := allottest.Database(t, "postgres")
	bin := buildAllot(t)
	// Started together, so that both race to create the first merchant.
	var procs [2]*process
	var wg sync.WaitGroup
	for i := range procs {
		wg.Add(1)
		go func() { defer wg.Done(); procs[i] = serve(t, bin, db) }()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	ctx := context.Background()
	a, b := client.New(procs[0].url, allottest.Token), client.New(procs[1].url, allottest.Token)
	for _, step := range []struct {
		path string
		body any
	}{
		{"/v1/warehouses/w1", map[string]any{"name": "Main"}},
		{"/v1/channels/shop", map[string]any{"platform": "api"}},
		{"/v1/channels/b2b", map[string]any{"platform": "api"}},
		{"/v1/products/tee", map[string]any{"name": "T-shirt"}},
		{"/v1/stock/w1/tee", map[string]any{"in_warehouse": 60}},
	} {
		if err := a.Do(ctx, "PUT", step.path, step.body, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Do(ctx, "POST", "/v1/allocations", map[string]any{"purpose": "reserve",
		"channels": []map[string]any{{"channel": "b2b"}}, "lines": []map[string]any{{"sku": "tee", "quantity": 10}}}, nil); err != nil {
		t.Fatal(err)
	}

	// 64 clients, half on each process, 4 one-unit orders each: 256 tries
	// for the 50 units the shop may sell.
	var accepted atomic.Int64
	clients := []*client.Client{a, b}
	for c := 0; c < 64; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 4; i++ {
				err := clients[c%2].Do(ctx, "POST", "/v1/orders", map[string]any{"channel": "shop",
					"external_id": fmt.Sprintf("c%d-%d", c, i), "lines": []map[string]any{{"sku": "tee", "quantity": 1}}}, nil)
				switch {
				case err == nil:
					accepted.Add(1)
				case allot.ErrorCode(err) != allot.InsufficientStock:
					t.Errorf("client %d: %v", c, err)
				}
			}
		}()
	}
	wg.Wait()
	if accepted.Load() != 50 {
		t.Fatalf("accepted %d orders, want exactly the 50 sellable units", accepted.Load())
	}

	// The same 20 imports sent to both processes at once count once.
	for i := 0; i < 20; i++ {
		for _, c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := c.Do(ctx, "POST", "/v1/orders/import", map[string]any{"channel": "b2b", "external_id": fmt.Sprintf("imp-%d", i),
					"lines": []map[string]any{{"sku": "tee", "quantity": 1}}}, nil)
				if err != nil {
					t.Errorf("import %d: %v", i, err)
				}
			}()
		}
	}
	wg.Wait()

	want := map[string]int{"shop": 0, "b2b": 0}
	for _, c := range clients {
		for ch, q := range want {
			var out struct {
				Quantity int    `json:"quantity"`
				Text     string `json:"explanation"`
			}
			if err := c.Do(ctx, "GET", "/v1/quantities/"+ch+"/tee", nil, &out); err != nil {
				t.Fatal(err)
			}
			if out.Quantity != q {
				t.Errorf("%s: %s = %d (%s), want %d", c.URL, ch, out.Quantity, out.Text, q)
			}
		}
		var st struct {
			Stock []allot.Stock `json:"stock"`
		}
		if err := c.Do(ctx, "GET", "/v1/stock?sku=tee", nil, &st); err != nil {
			t.Fatal(err)
		}
		if len(st.Stock) != 1 || st.Stock[0].Committed != 70 {
			t.Errorf("%s: stock %+v, want 70 committed (50 placed, 20 imported once each)", c.URL, st.Stock)
		}
		var orders struct {
			Orders []allot.Order `json:"orders"`
		}
		if err := c.Do(ctx, "GET", "/v1/orders?channel=b2b&limit=1000", nil, &orders); err != nil {
			t.Fatal(err)
		}
		if len(orders.Orders) != 20 {
			t.Errorf("%s: %d b2b orders, want 20", c.URL, len(orders.Orders))
		}
	}
}

// readStopped opens the database of a stopped allot and hands check, in a
// read transaction of the default merchant, the publications of its
// channel.
func readStopped(t *testing.T, dsn, channel string, check func(tx *store.Tx, pubs []store.Publication) error) error {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	merchants, err := db.MerchantCodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return db.Read(ctx, merchants["default"], time.Now(), func(tx *store.Tx) error {
		ch, err := tx.Channel(channel)
		if err != nil {
			return err
		}
		pubs, err := tx.Publications(ch.ID)
		if err != nil {
			return err
		}
		return check(tx, pubs)
	})
}
