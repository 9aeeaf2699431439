package httpapi_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/allot/allot"
	"github.com/allot/allot/allottest"
)

// Many clients placing orders at once on one SKU with little stock: exactly
// the sellable units are accepted, never one more.
func TestConcurrentPlacedOrdersTakeExactlyTheSellableUnits(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		a := newAPI(t, allottest.Options{Engine: engine})
		a.setup(50)
		a.reserve("b2b", allot.FollowAllocation, 10) // b2c may sell 40

		const clients, perClient = 32, 4
		var accepted, refused atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, clients*perClient)
		for c := 0; c < clients; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < perClient; i++ {
					body := map[string]any{"channel": "b2c", "external_id": fmt.Sprintf("c%d-%d", c, i),
						"lines": []map[string]any{{"sku": "tee", "quantity": 1}}}
					err := a.c.Do(context.Background(), "POST", "/v1/orders", body, nil)
					switch {
					case err == nil:
						accepted.Add(1)
					case allot.ErrorCode(err) == allot.InsufficientStock:
						refused.Add(1)
					default:
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("unexpected answer: %v", err)
		}
		if accepted.Load() != 40 || refused.Load() != clients*perClient-40 {
			t.Fatalf("accepted %d, refused %d; want exactly 40 accepted", accepted.Load(), refused.Load())
		}
		a.expect("tee", map[string]int{"b2c": 0, "b2b": 10, "amazon": 0})
		stock := a.do("GET", "/v1/stock?sku=tee", nil)["stock"].([]any)[0].(map[string]any)
		if stock["committed"].(float64) != 40 {
			t.Fatalf("committed %v, want 40", stock["committed"])
		}
	})
}

// Orders of several units and several SKUs at once, from many clients:
// the accepted units never exceed what was sellable, and every refusal says
// why.
func TestConcurrentMultiLineOrdersNeverOversell(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		a := newAPI(t, allottest.Options{Engine: engine})
		a.setup(30)
		a.do("PUT", "/v1/products/cap", map[string]any{"name": "Cap"})
		a.stock("w1", "cap", 20)

		var mu sync.Mutex
		taken := map[string]int{}
		var wg sync.WaitGroup
		for c := 0; c < 24; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 5; i++ {
					tee, cap := 1+(c+i)%3, (c*i)%3
					lines := []map[string]any{{"sku": "tee", "quantity": tee}}
					if cap > 0 {
						lines = append(lines, map[string]any{"sku": "cap", "quantity": cap}, map[string]any{"sku": "tee", "quantity": 1})
					}
					body := map[string]any{"channel": "b2c", "external_id": fmt.Sprintf("m%d-%d", c, i), "lines": lines}
					err := a.c.Do(context.Background(), "POST", "/v1/orders", body, nil)
					if err == nil {
						mu.Lock()
						taken["tee"] += tee
						if cap > 0 {
							taken["tee"]++
							taken["cap"] += cap
						}
						mu.Unlock()
						continue
					}
					e, ok := err.(*allot.Error)
					if !ok || e.Code != allot.InsufficientStock || len(e.Shortfall) == 0 {
						t.Errorf("unexpected answer: %v", err)
						return
					}
					for _, s := range e.Shortfall {
						if s.Requested <= s.Sellable {
							t.Errorf("shortfall %+v fits", s)
						}
					}
				}
			}()
		}
		wg.Wait()
		if taken["tee"] > 30 || taken["cap"] > 20 {
			t.Fatalf("oversold: took %v of tee 30, cap 20", taken)
		}
		a.expect("tee", map[string]int{"b2c": 30 - taken["tee"]})
		a.expect("cap", map[string]int{"b2c": 20 - taken["cap"]})
	})
}
