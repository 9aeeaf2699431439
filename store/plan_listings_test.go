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

// A plan of every listing reads them lean (PlanListings): the same
// listings as PushListings(nil), with the same publications and pending
// quantities, and each SKU from the snapshot.
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
			got, err := tx.PlanListings()
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
			if len(got) != len(want) {
				t.Fatalf("plan listings %+v, push listings %+v", got, want)
			}
			for i, w := range want {
				w.ExternalID, w.PushRef = "", ""
				if g := got[i]; !reflect.DeepEqual(g, w) {
					t.Errorf("plan listing %+v, push listing %+v", g, w)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
