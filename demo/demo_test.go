package demo_test

import (
	"context"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/allot/allot/client"
	"github.com/allot/allot/demo"
	"github.com/allot/allot/shopify/shopifysim"
)

// The demo serves a working API within seconds, and its trickle of orders
// moves the quantities.
func TestDemoServesItsMerchantAndOrdersArrive(t *testing.T) {
	start := time.Now()
	d, err := demo.Start(context.Background(), demo.Config{Addr: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "demo.db"),
		Out: io.Discard, Every: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c := client.New(d.Server.URL(), demo.Token)
	var q struct {
		Quantity int    `json:"quantity"`
		Text     string `json:"explanation"`
	}
	if err := c.Do(context.Background(), "GET", "/v1/quantities/b2b/tee-black-m", nil, &q); err != nil {
		t.Fatal(err)
	}
	if q.Quantity != 40 {
		t.Fatalf("b2b tee-black-m = %d (%s), want the reserve's 40", q.Quantity, q.Text)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the demo took %s to serve", took)
	}
	// The simulated stores, empty at first, receive what allot pushes.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && !pushed(d.Stores["b2c"]) {
		time.Sleep(20 * time.Millisecond)
	}
	if !pushed(d.Stores["b2c"]) {
		t.Fatal("allot pushed nothing to the simulated B2C store")
	}
	deadline = time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var out struct {
			Orders []any `json:"orders"`
		}
		if err := c.Do(context.Background(), "GET", "/v1/orders?limit=5", nil, &out); err != nil {
			t.Fatal(err)
		}
		if len(out.Orders) >= 3 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("no orders arrived from the demo's trickle")
}

// pushed reports whether the store was set a positive quantity.
func pushed(st *shopifysim.Store) bool {
	for _, rec := range st.SetLog() {
		if rec.Quantity > 0 {
			return true
		}
	}
	return false
}
