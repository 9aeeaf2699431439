package service_test

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/allottest"
	"github.com/allot/allot/service"
	"github.com/allot/allot/store"
	"github.com/allot/allot/syncer"
)

// Orders placed at once are checked one after the other against the stock
// their predecessors left, whatever group they fall in; the same order
// placed many times at once is placed once.
func TestGroupCommitChecksEachOrderAfterThoseBeforeIt(t *testing.T) {
	t.Parallel()
	allottest.Each(t, func(t *testing.T, engine string) {
		e := shopOn(t, engine)
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
	})
}

// A group of orders queues its own pushes from the snapshot it checked
// the orders against. On SQLite, where nothing commits while it runs, it
// leaves no outbox mark for the worker to plan again: what it queued must
// be exactly what a fresh plan computes, bundles included.
func TestAGroupQueuesWhatAFreshPlanWould(t *testing.T) {
	t.Parallel()
	e := shop(t)
	e.report(t, "w1", "a", 30, 0, t0)
	e.report(t, "w1", "b", 12, 0, t0)
	var ls []service.ListingLine
	for i, sku := range []string{"a", "b", "kit"} {
		ls = append(ls, service.ListingLine{Line: i + 2, ListingParams: service.ListingParams{Channel: "web", ExternalID: "L-" + sku, SKU: sku}})
	}
	must(e.svc.ImportListings(e.ctx, e.who, ls))(t)
	w := &syncer.Worker{DB: e.svc.DB, Now: e.svc.Now, Settle: time.Second}
	if err := w.Plan(e.ctx); err != nil { // what the set-up marked
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			lines := []allot.Line{{SKU: []string{"a", "b", "kit"}[i%3], Quantity: 1 + i%2}}
			if i%4 == 0 {
				lines = append(lines, allot.Line{SKU: "b", Quantity: 1})
			}
			if _, _, err := e.svc.ImportOrder(e.ctx, e.who, service.OrderParams{Channel: []string{"b2b", "web"}[i%2],
				ExternalID: fmt.Sprintf("o%d", i), Lines: lines, Payment: allot.Paid}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	err := e.svc.DB.Read(e.ctx, e.who.Merchant, e.now, func(tx *store.Tx) error {
		marks, err := tx.Marks(100)
		if err != nil {
			return err
		}
		if len(marks) > 0 {
			t.Errorf("the groups left %d outbox marks; on SQLite they plan their own pushes", len(marks))
		}
		listings, err := tx.PushListings(nil)
		if err != nil {
			return err
		}
		snap, err := tx.Snapshot(nil)
		if err != nil {
			return err
		}
		for _, l := range listings {
			want := snap.Published(l.Channel, l.SKU)
			got := l.Pending
			if got == nil {
				got = l.Published
			}
			if got == nil || *got != want {
				t.Errorf("%s: queued or published %d, a fresh plan computes %d", l.ExternalID, deref(got), want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

// An order's history entry names it: its id, its external id and the
// units of the SKU it took, whichever way it was written (ahead of its
// product lock on PostgreSQL, or under it).
func TestAnOrdersHistoryEntryNamesIt(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		e := shopOn(t, engine)
		e.report(t, "w1", "a", 30, 0, t0)
		ps := oneUnitOrders(service.AheadFrom)
		ps[0].Lines[0].Quantity = 2
		placed, errs := e.svc.PlaceTogether(e.who, ps)
		if errs[0] != nil {
			t.Fatal(errs[0])
		}
		entries := must(e.svc.History(e.ctx, e.who, store.HistoryFilter{SKU: "a", Limit: 100}))(t)
		for _, h := range entries {
			if h.Action != "order.place" || h.Detail["external_id"] != "o0" {
				continue
			}
			want := map[string]any{"order": float64(placed[0].ID), "external_id": "o0", "units": float64(2)}
			if !reflect.DeepEqual(h.Detail, want) {
				t.Fatalf("the entry's detail is %v, want %v", h.Detail, want)
			}
			return
		}
		t.Fatalf("no order.place entry for o0 among %d", len(entries))
	})
}
