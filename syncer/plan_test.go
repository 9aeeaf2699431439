package syncer_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/allottest"
	"github.com/allot/allot/app"
	"github.com/allot/allot/generic"
	"github.com/allot/allot/service"
	"github.com/allot/allot/store"
	"github.com/allot/allot/syncer"
)

// On PostgreSQL a plan of every listing reads outside the transactions
// that write what it planned: a group of orders committed in between
// queues its own (newer) quantity, which the plan then overwrites with
// one computed before the order. The group's outbox mark survives the
// plan, so the next plan, in the same round, queues the right quantity.
func TestAPlanOfEverythingIsMendedForAnOrderCommittedWhileItRan(t *testing.T) {
	if os.Getenv(allottest.PostgresEnv) == "" {
		t.Skipf("%s is not set: on SQLite this plan runs in one write transaction", allottest.PostgresEnv)
	}
	ctx := context.Background()
	db, svc, who, _ := shopOn(t, "postgres", nil)
	id := who.Merchant
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, _, err := svc.PutProduct(ctx, who, allot.Product{SKU: "tee", Name: "T-shirt"})
	must(err)
	_, _, err = svc.PutChannel(ctx, who, allot.Channel{Code: "b2b", Platform: allot.API})
	must(err)
	_, err = svc.ImportListings(ctx, who, []service.ListingLine{{Line: 2, ListingParams: service.ListingParams{Channel: "shop", ExternalID: "L-tee", SKU: "tee"}}})
	must(err)
	_, err = svc.ReportStock(ctx, who, allot.StockReport{Warehouse: "w1", SKU: "tee", InWarehouse: 10, AsOf: time.Now()})
	must(err)
	w := &syncer.Worker{DB: db, Settle: time.Millisecond, PlanWriters: 2}
	must(w.Plan(ctx)) // the shop is to show 10
	_, err = svc.ReportStock(ctx, who, allot.StockReport{Warehouse: "w1", SKU: "tee", InWarehouse: 20, AsOf: time.Now()})
	must(err)
	must(db.Write(ctx, id, "test", time.Now(), func(tx *store.Tx) error { tx.MarkAll(); return nil }))

	// The plan reads 20; before it writes, 3 are sold: the group queues 17.
	var ran atomic.Bool
	syncer.SetAfterPlanRead(func() {
		if ran.CompareAndSwap(false, true) {
			_, _, err := svc.ImportOrder(ctx, who, service.OrderParams{Channel: "b2b", ExternalID: "o1", Payment: allot.Paid,
				Lines: []allot.Line{{SKU: "tee", Quantity: 3}}})
			if err != nil {
				t.Error(err)
			}
		}
	})
	defer syncer.SetAfterPlanRead(nil)
	must(w.Plan(ctx))
	if !ran.Load() {
		t.Fatal("the plan of every listing never ran")
	}
	must(db.Read(ctx, id, time.Now(), func(tx *store.Tx) error {
		marks, err := tx.Marks(10)
		if err != nil {
			return err
		}
		if len(marks) > 0 {
			t.Errorf("%d marks left after the round", len(marks))
		}
		listings, err := tx.PushListings(nil)
		if err != nil {
			return err
		}
		if len(listings) != 1 || listings[0].Pending == nil || *listings[0].Pending != 17 {
			t.Errorf("the shop is to show %+v, want 17 pending", listings)
		}
		return nil
	}))
}

// A backlog longer than a call goes out in one round, in full calls: the
// batch the worker reads while it records the last one is not that one.
func TestABacklogGoesOutInFullCallsInOneRound(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db, svc, who, p := shopOn(t, engine, map[string]any{"batch_size": float64(10)})
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		var products []service.ProductLine
		var listings []service.ListingLine
		var stock []service.StockLine
		for i := range 25 {
			sku := fmt.Sprintf("sku-%02d", i)
			products = append(products, service.ProductLine{Line: i + 2, Product: allot.Product{SKU: sku, Name: sku}})
			listings = append(listings, service.ListingLine{Line: i + 2, ListingParams: service.ListingParams{Channel: "shop", ExternalID: "L-" + sku, SKU: sku}})
			stock = append(stock, service.StockLine{Line: i + 2, StockReport: allot.StockReport{Warehouse: "w1", SKU: sku, InWarehouse: 5 + i}})
		}
		_, err := svc.ImportProducts(ctx, who, products)
		must(err)
		_, err = svc.ImportListings(ctx, who, listings)
		must(err)
		_, err = svc.ImportStock(ctx, who, stock)
		must(err)
		w := &syncer.Worker{DB: db, Connect: app.Connectors, Settle: time.Millisecond, Gather: time.Millisecond}
		must(w.Plan(ctx))
		time.Sleep(5 * time.Millisecond) // past the settling delay of the increases
		must(w.PushDue(ctx))
		for i := range 25 {
			if q, ok := p.Shown(fmt.Sprintf("L-sku-%02d", i)); !ok || q != 5+i {
				t.Errorf("L-sku-%02d shows %d (%v), want %d", i, q, ok, 5+i)
			}
		}
		if calls, _ := p.Calls(); calls != 3 {
			t.Errorf("%d calls for 25 quantities, 10 a call; want 3", calls)
		}
	})
}

// shopOn opens a fresh database of the engine with a merchant, its
// warehouse w1 and its generic channel "shop" on a platform of its own,
// with settings beside the push URL and secret.
func shopOn(t *testing.T, engine string, settings map[string]any) (*store.DB, *service.Service, service.Actor, *generic.Platform) {
	t.Helper()
	ctx := context.Background()
	db := allottest.OpenDB(t, engine)
	svc := service.New(db)
	t.Cleanup(svc.Close)
	id, _, err := svc.CreateMerchant(ctx, "m", "M", "plan_test_token_0123456789")
	if err != nil {
		t.Fatal(err)
	}
	who := service.Actor{Merchant: id, Name: "test"}
	p := generic.NewPlatform("platform-secret-0123456789")
	t.Cleanup(p.Close)
	if _, err := svc.PutWarehouse(ctx, who, allot.Warehouse{Code: "w1"}); err != nil {
		t.Fatal(err)
	}
	all := map[string]any{"push_url": p.PushURL(), "secret": "platform-secret-0123456789"}
	maps.Copy(all, settings)
	if _, _, err := svc.PutChannel(ctx, who, allot.Channel{Code: "shop", Platform: allot.Generic, Settings: all}); err != nil {
		t.Fatal(err)
	}
	return db, svc, who, p
}

// A plan plans each product once: under a stream of changes, each marking
// its product again, it ends rather than plan as long as they come (the
// commits wake the next round for theirs).
func TestAPlanEndsUnderAStreamOfChanges(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db, svc, who, _ := shopOn(t, engine, nil)
		_, _, err := svc.PutProduct(ctx, who, allot.Product{SKU: "tee", Name: "T-shirt"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = svc.ImportListings(ctx, who, []service.ListingLine{{Line: 2, ListingParams: service.ListingParams{Channel: "shop", ExternalID: "L-tee", SKU: "tee"}}})
		if err != nil {
			t.Fatal(err)
		}
		report := func(n int) error {
			_, err := svc.ReportStock(ctx, who, allot.StockReport{Warehouse: "w1", SKU: "tee", InWarehouse: n, AsOf: time.Now()})
			return err
		}
		if err := report(1); err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		var reports sync.WaitGroup
		reports.Go(func() {
			for n := 2; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := report(n); err != nil {
					t.Error(err)
					return
				}
			}
		})
		defer reports.Wait()
		defer close(stop)
		w := &syncer.Worker{DB: db, Settle: time.Millisecond}
		planned := make(chan error, 1)
		go func() { planned <- w.Plan(ctx) }()
		select {
		case err := <-planned:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the plan still runs after 10 s of changes")
		}
	})
}
