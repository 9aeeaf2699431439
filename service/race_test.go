package service_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/allot/allot/allottest"
	"github.com/allot/allot/generic"
	"github.com/allot/allot/service"
)

// An allocation committed while a group of orders runs is missing from
// the group's snapshot (allocations lock the merchant, not the products),
// so the push the group queues is computed without it. The group's
// products keep their outbox marks: the worker plans them again from what
// is committed, and the channel ends up showing the right quantity.
//
// PostgreSQL only: on SQLite the group's transaction holds the one writer,
// and no allocation can commit while it runs.
func TestAPushComputedWithoutAnAllocationCommittedMeanwhileIsMended(t *testing.T) {
	if !contains(allottest.Engines(), "postgres") {
		t.Skipf("%s is not set: PostgreSQL was skipped", allottest.PostgresEnv)
	}
	const secret = "platform-secret-0123456789"
	p := generic.NewPlatform(secret)
	t.Cleanup(p.Close)
	_, c := allottest.Server(t, allottest.Options{Engine: "postgres"})
	ctx := context.Background()
	do := func(method, path string, body any) {
		t.Helper()
		if err := c.Do(ctx, method, path, body, nil); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	shows := func(want int) bool {
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) {
			if q, ok := p.Shown("L-tee"); ok && q == want {
				return true
			}
			time.Sleep(10 * time.Millisecond)
		}
		return false
	}
	do("PUT", "/v1/warehouses/w1", map[string]any{})
	do("PUT", "/v1/products/tee", map[string]any{"name": "T-shirt"})
	do("PUT", "/v1/channels/shop", map[string]any{"platform": "generic", "settings": map[string]any{"push_url": p.PushURL(), "secret": secret}})
	do("PUT", "/v1/channels/b2b", map[string]any{"platform": "api"})
	do("PUT", "/v1/channels/shop/listings/L-tee", map[string]any{"sku": "tee"})
	do("PUT", "/v1/stock/w1/tee", map[string]any{"in_warehouse": 10})
	if !shows(10) {
		t.Fatal("the shop never showed the first 10")
	}

	// While the group that places the order holds its definitions, the
	// whole stock is reserved for b2b, and the worker pushes 0 to the shop.
	var once sync.Once
	service.SetBeforeLock(func() {
		once.Do(func() {
			do("POST", "/v1/allocations", map[string]any{"name": "all for b2b", "purpose": "reserve",
				"channels": []map[string]any{{"channel": "b2b"}}, "lines": []map[string]any{{"sku": "tee", "quantity": 10}}})
			if !shows(0) {
				t.Error("the reserve never reached the shop")
			}
		})
	})
	t.Cleanup(func() { service.SetBeforeLock(nil) })
	do("POST", "/v1/orders", map[string]any{"channel": "b2b", "external_id": "o1", "lines": []map[string]any{{"sku": "tee", "quantity": 1}}})

	// The group saw no reserve: it queued 9 for the shop. The shop must
	// end at 0 and stay there.
	if !shows(0) {
		q, _ := p.Shown("L-tee")
		t.Fatalf("the shop shows %d, want 0: a push computed without the reserve was never mended", q)
	}
	time.Sleep(500 * time.Millisecond)
	if q, _ := p.Shown("L-tee"); q != 0 {
		t.Fatalf("the shop shows %d after settling, want 0", q)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
