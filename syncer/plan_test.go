package syncer_test

import (
	"context"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/allottest"
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
	db := allottest.OpenDB(t, "postgres")
	svc := service.New(db)
	defer svc.Close()
	id, _, err := svc.CreateMerchant(ctx, "m", "M", "plan_test_token_0123456789")
	if err != nil {
		t.Fatal(err)
	}
	who := service.Actor{Merchant: id, Name: "test"}
	p := generic.NewPlatform("platform-secret-0123456789")
	defer p.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err = svc.PutWarehouse(ctx, who, allot.Warehouse{Code: "w1"})
	must(err)
	_, _, err = svc.PutProduct(ctx, who, allot.Product{SKU: "tee", Name: "T-shirt"})
	must(err)
	_, _, err = svc.PutChannel(ctx, who, allot.Channel{Code: "shop", Platform: allot.Generic,
		Settings: map[string]any{"push_url": p.PushURL(), "secret": "platform-secret-0123456789"}})
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
