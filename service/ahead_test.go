package service_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/allot/allot"
	"github.com/allot/allot/allottest"
	"github.com/allot/allot/service"
	"github.com/allot/allot/store"
)

// On PostgreSQL a large group of orders writes them before it locks their
// product, decided on the stock as committed then, and decides them again
// under the lock. A change committed in between that makes them come out
// otherwise must leave what was decided under the lock, and nothing of
// what was written ahead: fewer units in stock refuse some orders, or
// send them to another warehouse.
func TestOrdersWrittenAheadOfTheLockAreDecidedAgainUnderIt(t *testing.T) {
	if !contains(allottest.Engines(), "postgres") {
		t.Skipf("%s is not set: PostgreSQL was skipped", allottest.PostgresEnv)
	}
	// meanwhile runs change once, in the first group, between its orders
	// written ahead and its lock.
	meanwhile := func(t *testing.T, change func()) {
		var ran atomic.Bool // the change's own group passes by
		service.SetBeforeLock(func() {
			if ran.CompareAndSwap(false, true) {
				change()
			}
		})
		t.Cleanup(func() { service.SetBeforeLock(nil) })
	}
	n := 2 * service.AheadFrom

	t.Run("fewer in stock", func(t *testing.T) {
		e := shopOn(t, "postgres")
		e.report(t, "w1", "a", 40, 0, t0)
		meanwhile(t, func() { e.report(t, "w1", "a", 10, 0, t0) })
		placed, errs := e.svc.PlaceTogether(e.who, oneUnitOrders(n))
		for i, err := range errs {
			switch {
			case i < 10 && err != nil:
				t.Errorf("order %d: %v, want accepted", i, err)
			case i >= 10 && allot.ErrorCode(err) != allot.InsufficientStock:
				t.Errorf("order %d: %v, want refused for stock", i, err)
			}
		}
		if s := e.stockRowOf(t, "a", "w1"); s.Committed != 10 {
			t.Errorf("committed %d, want 10", s.Committed)
		}
		answered := map[int64]string{}
		for _, o := range placed[:10] {
			answered[o.ID] = o.ExternalID
		}
		stored := must(e.svc.ListOrders(e.ctx, e.who, store.OrderFilter{Limit: 100}))(t)
		if len(stored) != 10 {
			t.Errorf("%d orders stored, want the 10 accepted", len(stored))
		}
		for _, o := range stored {
			if answered[o.ID] != o.ExternalID {
				t.Errorf("order %d (%s) is stored, but was not answered so", o.ID, o.ExternalID)
			}
		}
	})

	t.Run("another warehouse", func(t *testing.T) {
		e := newEnv(t, "postgres", t.TempDir(), t.Cleanup)
		e.warehouse(t, "w1")
		e.warehouse(t, "w2")
		e.product(t, "a")
		e.channel(t, "web", allot.Generic, false, "w1", "w2")
		e.report(t, "w1", "a", 100, 0, t0)
		e.report(t, "w2", "a", 100, 0, t0)
		// Written ahead, every order ships from w1, the first that has
		// the unit; under the lock, the first 10 do, the others from w2.
		meanwhile(t, func() { e.report(t, "w1", "a", 10, 0, t0) })
		_, errs := e.svc.PlaceTogether(e.who, oneUnitOrders(n))
		for i, err := range errs {
			if err != nil {
				t.Fatalf("order %d: %v", i, err)
			}
		}
		if w1, w2 := e.stockRowOf(t, "a", "w1").Committed, e.stockRowOf(t, "a", "w2").Committed; w1 != 10 || w2 != n-10 {
			t.Fatalf("committed %d in w1 and %d in w2, want 10 and %d", w1, w2, n-10)
		}
		// A cancelled order gives its units back to the warehouse it was
		// to ship from: it must be stored with the order.
		for i := range n {
			if _, err := e.svc.CancelOrder(e.ctx, e.who, "web", fmt.Sprintf("o%d", i), nil); err != nil {
				t.Fatal(err)
			}
		}
		if w1, w2 := e.stockRowOf(t, "a", "w1").Committed, e.stockRowOf(t, "a", "w2").Committed; w1 != 0 || w2 != 0 {
			t.Fatalf("committed %d in w1 and %d in w2 once every order is cancelled, want none", w1, w2)
		}
	})
}

// oneUnitOrders are n orders on web of one unit of a each, o0 to o<n-1>.
func oneUnitOrders(n int) []service.OrderParams {
	ps := make([]service.OrderParams, n)
	for i := range ps {
		ps[i] = service.OrderParams{Channel: "web", ExternalID: fmt.Sprintf("o%d", i), Lines: []allot.Line{{SKU: "a", Quantity: 1}}}
	}
	return ps
}
