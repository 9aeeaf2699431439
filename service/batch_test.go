package service_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/allot/allot"
	"github.com/allot/allot/service"
)

// Orders placed at once are checked one after the other against the stock
// their predecessors left, whatever group they fall in; the same order
// placed many times at once is placed once.
func TestGroupCommitChecksEachOrderAfterThoseBeforeIt(t *testing.T) {
	t.Parallel()
	e := shop(t)
	e.report(t, "w1", "a", 30, 0, t0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted, created := 0, map[int64]int{}
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("o%d", i%40) // every order five times
			o, isNew, err := e.svc.PlaceOrder(e.ctx, e.who, service.OrderParams{Channel: "web", ExternalID: id,
				Lines: []allot.Line{{SKU: "a", Quantity: 1}}})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				if isNew {
					accepted++
				}
				created[o.ID]++
			case allot.ErrorCode(err) != allot.InsufficientStock:
				t.Errorf("order %s: %v", id, err)
			}
		}()
	}
	wg.Wait()
	if accepted != 30 {
		t.Fatalf("%d orders created, want the 30 units", accepted)
	}
	if len(created) != 30 {
		t.Fatalf("%d distinct orders answered, want 30", len(created))
	}
	if s := e.stockRowOf(t, "a", "w1"); s.Committed != 30 {
		t.Fatalf("committed %d, want 30", s.Committed)
	}
}
