package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/allottest"
	"github.com/allot/allot/store"
)

// A drift check reads again, part by part, the publications of listings
// it read from the channel: those of the listings asked for, on that
// channel, published, and found by their ids — on SQLite not by walking
// every listing of the channel for each part.
func TestPublicationsOfListingsAreFoundByTheirIDs(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		db, m := merchantDB(t, engine)
		ctx := context.Background()
		var shop int64
		var asked []int64
		err := db.Write(ctx, m, "t", time.Now(), func(tx *store.Tx) error {
			var err error
			if shop, _, err = tx.PutChannel(allot.Channel{Code: "shop", Platform: allot.Generic}, nil); err != nil {
				return err
			}
			other, _, err := tx.PutChannel(allot.Channel{Code: "other", Platform: allot.Generic}, nil)
			if err != nil {
				return err
			}
			for i := range 8 {
				ref, _, err := tx.PutProduct(allot.Product{SKU: fmt.Sprintf("sku-%d", i), Name: "P"}, nil)
				if err != nil {
					return err
				}
				if err := tx.PutListing(shop, fmt.Sprintf("S-%d", i), &ref.ID, true); err != nil {
					return err
				}
				if err := tx.PutListing(other, fmt.Sprintf("O-%d", i), &ref.ID, true); err != nil {
					return err
				}
			}
			ls, err := tx.PushListings(nil)
			if err != nil {
				return err
			}
			var confirmed []store.Push
			for i, l := range ls {
				if i%3 != 2 { // every third never published
					confirmed = append(confirmed, store.Push{PushListing: l, Quantity: 10 + i, Version: -1})
				}
				if i%5 < 3 { // asked: some of each channel's
					asked = append(asked, l.ListingID)
				}
			}
			return tx.ConfirmMany(confirmed)
		})
		if err != nil {
			t.Fatal(err)
		}
		err = db.Read(ctx, m, time.Now(), func(tx *store.Tx) error {
			all, err := tx.Publications(shop)
			if err != nil {
				return err
			}
			var want []store.Publication
			for _, p := range all {
				if slices.Contains(asked, p.ListingID) {
					want = append(want, p)
				}
			}
			got, err := tx.PublicationsOf(shop, asked)
			if err != nil {
				return err
			}
			byID := func(a, b store.Publication) int { return int(a.ListingID - b.ListingID) }
			slices.SortFunc(got, byID)
			slices.SortFunc(want, byID)
			if len(want) == 0 || len(want) == len(all) {
				t.Fatalf("%d of the shop's %d publications asked for: the test needs some, not all", len(want), len(all))
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("publications of %v on the shop:\n got %v\nwant %v", asked, got, want)
			}
			if engine != "sqlite" {
				return nil
			}
			plan, err := tx.PublicationsOfPlanForTest(shop, asked)
			if err != nil {
				return err
			}
			for _, step := range plan {
				if strings.HasPrefix(step, "SEARCH l ") && !strings.Contains(step, "PRIMARY KEY") || strings.HasPrefix(step, "SCAN l") {
					t.Errorf("SQLite finds the listings by %q, not by their ids; plan %q", step, plan)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
