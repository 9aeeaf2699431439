package store_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/allottest"
	"github.com/allot/allot/store"
)

// A plan reads listings lean (PlanListings), of every product or of a
// few: the same listings as PushListingsOf, with the same publications
// and pending quantities, and each SKU from the snapshot.
func TestPlanListingsAreThePushListingsOfEveryProduct(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		db, m := merchantDB(t, engine)
		ctx := context.Background()
		err := db.Write(ctx, m, "t", time.Now(), func(tx *store.Tx) error {
			shop, _, err := tx.PutChannel(allot.Channel{Code: "shop", Platform: allot.Generic}, nil)
			if err != nil {
				return err
			}
			api, _, err := tx.PutChannel(allot.Channel{Code: "api", Platform: allot.API}, nil)
			if err != nil {
				return err
			}
			for i := range 6 {
				ref, _, err := tx.PutProduct(allot.Product{SKU: fmt.Sprintf("sku-%d", i), Name: "P"}, nil)
				if err != nil {
					return err
				}
				id := &ref.ID
				if i == 5 {
					id = nil // not linked
				}
				if err := tx.PutListing(shop, fmt.Sprintf("L-%d", i), id, i != 4); err != nil { // 4: disabled
					return err
				}
				if err := tx.PutListing(api, fmt.Sprintf("A-%d", i), &ref.ID, true); err != nil {
					return err
				}
			}
			ls, err := tx.PushListings(nil)
			if err != nil {
				return err
			}
			// One published and confirmed, one waiting.
			if err := tx.ConfirmMany([]store.Push{{PushListing: ls[0], Quantity: 7, Version: -1}}); err != nil {
				return err
			}
			return tx.SetPending(ls[1], 3, tx.Now, tx.Now)
		})
		if err != nil {
			t.Fatal(err)
		}
		err = db.Read(ctx, m, time.Now(), func(tx *store.Tx) error {
			want, err := tx.PushListings(nil)
			if err != nil {
				return err
			}
			got, err := tx.PlanListings(nil)
			if err != nil {
				return err
			}
			snap, err := tx.Snapshot(nil)
			if err != nil {
				return err
			}
			snap.Name(got)
			if len(want) != 4 {
				t.Errorf("%d push listings, want 4 (linked, enabled, on the shop)", len(want))
			}
			if len(want) < 2 || want[0].Published == nil || *want[0].Published != 7 || want[1].Pending == nil || *want[1].Pending != 3 {
				t.Errorf("push listings %+v: want the first published at 7, the second waiting with 3", want)
			}
			same(t, got, want)
			// A few products' (a group of orders).
			scope := []int64{want[0].ProductID, want[1].ProductID}
			if want, err = tx.PushListingsOf(scope); err != nil {
				return err
			}
			if got, err = tx.PlanListings(scope); err != nil {
				return err
			}
			snap.Name(got)
			if len(want) != 2 {
				t.Errorf("%d push listings of two products, want 2", len(want))
			}
			same(t, got, want)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// same checks that plan listings are the push listings without their
// texts.
func same(t *testing.T, got, want []store.PushListing) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("plan listings %+v, push listings %+v", got, want)
	}
	for i, w := range want {
		w.ExternalID, w.PushRef = "", ""
		if g := got[i]; !reflect.DeepEqual(g, w) {
			t.Errorf("plan listing %+v, push listing %+v", g, w)
		}
	}
}
