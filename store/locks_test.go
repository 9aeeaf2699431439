package store_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/allottest"
	"github.com/allot/allot/store"
)

// A transaction holding its merchant (an allocation change) and one
// holding a product (a group of orders) each insert a row naming what the
// other holds: both commit at their first attempt. With FOR UPDATE locks
// on PostgreSQL the foreign keys' KEY SHARE locks made this a deadlock,
// one of them aborted after a second and run again.
func TestMerchantAndProductLocksLetInsertsNamingThemThrough(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		dsn := allottest.Database(t, engine)
		db := open(t, dsn)
		ctx := context.Background()
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		var m, product, warehouse int64
		if err := db.Admin(ctx, func(tx *store.Tx) (err error) { m, err = tx.CreateMerchant("m", "M"); return err }); err != nil {
			t.Fatal(err)
		}
		err := db.Write(ctx, m, "t", time.Now(), func(tx *store.Tx) error {
			ref, _, err := tx.PutProduct(allot.Product{SKU: "tee", Name: "T-shirt"}, nil)
			if err != nil {
				return err
			}
			product = ref.ID
			warehouse, _, err = tx.PutWarehouse(allot.Warehouse{Code: "w1", Name: "Main"})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if engine == "sqlite" {
			return // one writer at a time: nothing to interleave
		}
		// Both take their lock, wait for the other's, then insert.
		var locked sync.WaitGroup
		locked.Add(2)
		var once [2]sync.Once
		var attempts [2]atomic.Int32
		run := func(i int, lock func(*store.Tx) error, insert func(*store.Tx) error) error {
			return db.Write(ctx, m, "t", time.Now(), func(tx *store.Tx) error {
				attempts[i].Add(1)
				if err := lock(tx); err != nil {
					return err
				}
				once[i].Do(locked.Done)
				locked.Wait()
				return insert(tx)
			})
		}
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			err := run(0, (*store.Tx).LockMerchant, func(tx *store.Tx) error { return tx.ReportStock(product, warehouse, 5, 0, time.Now()) })
			if err != nil {
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			err := run(1, func(tx *store.Tx) error { return tx.LockProducts([]int64{product}) }, func(tx *store.Tx) error {
				_, _, err := tx.PutWarehouse(allot.Warehouse{Code: "w2", Name: "Second"})
				return err
			})
			if err != nil {
				t.Error(err)
			}
		}()
		wg.Wait()
		if a, b := attempts[0].Load(), attempts[1].Load(); a != 1 || b != 1 {
			t.Errorf("the merchant's transaction ran %d times, the product's %d: they deadlocked", a, b)
		}
	})
}

// Clearing the marks a plan read leaves every product marked again since:
// one re-marked before the clear, and, on PostgreSQL, one that a write in
// flight is marking again (the clear waits for it).
func TestClearingMarksKeepsWhatWasMarkedAgain(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		db, m := merchantDB(t, engine)
		ctx := context.Background()
		var ids []int64
		err := db.Write(ctx, m, "t", time.Now(), func(tx *store.Tx) error {
			for _, sku := range []string{"a", "b", "c", "d"} {
				ref, _, err := tx.PutProduct(allot.Product{SKU: sku, Name: sku}, nil)
				if err != nil {
					return err
				}
				ids = append(ids, ref.ID)
			}
			tx.Touch(ids...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var marks []store.Mark
		if err := db.Read(ctx, m, time.Now(), func(tx *store.Tx) (err error) { marks, err = tx.Marks(10); return err }); err != nil {
			t.Fatal(err)
		}
		if len(marks) != 4 {
			t.Fatalf("marks %v, want 4", marks)
		}
		touch := func(id int64) func(tx *store.Tx) error {
			return func(tx *store.Tx) error { tx.Touch(id); return nil }
		}
		if err := db.Write(ctx, m, "t", time.Now(), touch(ids[1])); err != nil {
			t.Fatal(err)
		}
		want := map[int64]bool{ids[1]: true}
		clear := func() error {
			return db.Write(ctx, m, "plan", time.Now(), func(tx *store.Tx) error { return tx.ClearMarks(marks) })
		}
		if engine == "postgres" {
			// A write holding the mark of d while the marks are cleared:
			// the clear waits for it, then leaves d, marked again.
			holding, release := make(chan struct{}), make(chan struct{})
			done := make(chan error, 1)
			go func() {
				done <- db.Write(ctx, m, "t", time.Now(), func(tx *store.Tx) error {
					tx.Touch(ids[3])
					if err := tx.FlushForTest(); err != nil {
						return err
					}
					close(holding)
					<-release
					return nil
				})
			}()
			<-holding
			cleared := make(chan error, 1)
			go func() { cleared <- clear() }()
			close(release)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if err := <-cleared; err != nil {
				t.Fatal(err)
			}
			want[ids[3]] = true
		} else if err := clear(); err != nil {
			t.Fatal(err)
		}
		var left []store.Mark
		if err := db.Read(ctx, m, time.Now(), func(tx *store.Tx) (err error) { left, err = tx.Marks(10); return err }); err != nil {
			t.Fatal(err)
		}
		got := map[int64]bool{}
		for _, mk := range left {
			got[mk.Product] = true
		}
		if len(got) != len(want) {
			t.Fatalf("marks left %v, want the products %v", left, want)
		}
		for id := range want {
			if !got[id] {
				t.Fatalf("marks left %v, want the products %v", left, want)
			}
		}
	})
}

// A listing's push versions only grow: its pending row outlives each push
// (done, not deleted), and every quantity queued after gets the next
// version, whether the row waited or was done; a push confirmed after a
// newer quantity arrived leaves that quantity waiting, and records what
// was published beside it.
func TestPushVersionsOfAListingOnlyGrow(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		db, m := merchantDB(t, engine)
		ctx := context.Background()
		var l store.PushListing
		err := db.Write(ctx, m, "t", time.Now(), func(tx *store.Tx) error {
			ref, _, err := tx.PutProduct(allot.Product{SKU: "tee", Name: "T-shirt"}, nil)
			if err != nil {
				return err
			}
			ch, _, err := tx.PutChannel(allot.Channel{Code: "shop", Platform: allot.Generic}, nil)
			if err != nil {
				return err
			}
			if err := tx.PutListing(ch, "L-tee", &ref.ID, true); err != nil {
				return err
			}
			ls, err := tx.PushListings(nil)
			if err != nil || len(ls) != 1 {
				return fmt.Errorf("push listings %v, %v", ls, err)
			}
			l = ls[0]
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		queue := func(q int) {
			t.Helper()
			if err := db.Write(ctx, m, "t", time.Now(), func(tx *store.Tx) error { return tx.SetPending(l, q, tx.Now, tx.Now) }); err != nil {
				t.Fatal(err)
			}
		}
		due := func() []store.Push {
			t.Helper()
			var ps []store.Push
			if err := db.Read(ctx, m, time.Now(), func(tx *store.Tx) (err error) { ps, err = tx.DuePushes(l.ChannelID, 10); return err }); err != nil {
				t.Fatal(err)
			}
			return ps
		}
		confirm := func(p store.Push) {
			t.Helper()
			if err := db.Write(ctx, m, "t", time.Now(), func(tx *store.Tx) error { return tx.ConfirmMany([]store.Push{p}) }); err != nil {
				t.Fatal(err)
			}
		}
		queue(5)
		first := due()
		if len(first) != 1 || first[0].Quantity != 5 {
			t.Fatalf("due %+v, want 5", first)
		}
		confirm(first[0])
		if ps := due(); len(ps) != 0 {
			t.Fatalf("due %+v after the push was confirmed", ps)
		}
		queue(4)
		second := due()
		if len(second) != 1 || second[0].Quantity != 4 || second[0].Version <= first[0].Version {
			t.Fatalf("due %+v after %+v: want 4 at a higher version", second, first)
		}
		queue(3) // while 4 is being pushed
		confirm(second[0])
		third := due()
		if len(third) != 1 || third[0].Quantity != 3 || third[0].Version <= second[0].Version {
			t.Fatalf("due %+v after %+v was confirmed: want 3, still waiting, at a higher version", third, second)
		}
		// The publication of 4 is recorded all the same, beside the 3
		// that waits: the next push compares against it.
		if p := third[0].Published; p == nil || *p != 4 || !third[0].Confirmed {
			t.Errorf("due push %+v: want it to know 4 was published", third[0])
		}
		var ls []store.PushListing
		if err := db.Read(ctx, m, time.Now(), func(tx *store.Tx) (err error) { ls, err = tx.PushListings(nil); return err }); err != nil {
			t.Fatal(err)
		}
		if len(ls) != 1 || ls[0].Published == nil || *ls[0].Published != 4 || ls[0].Pending == nil || *ls[0].Pending != 3 {
			t.Errorf("listing %+v: want 4 published and 3 waiting", ls)
		}
		var pubs []store.Publication
		if err := db.Read(ctx, m, time.Now(), func(tx *store.Tx) (err error) { pubs, err = tx.Publications(l.ChannelID); return err }); err != nil {
			t.Fatal(err)
		}
		if len(pubs) != 1 || pubs[0].Quantity != 4 || pubs[0].ExternalID != "L-tee" || !pubs[0].Confirmed {
			t.Errorf("publications %+v: want L-tee at 4", pubs)
		}
	})
}

// A database that queued pushes before pending rows outlived their push
// keeps every version it gave: a listing pushed before goes on from its
// last version, and a push still waiting stays waiting at its own.
func TestUpgradeKeepsThePushVersionsGiven(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		db := open(t, allottest.Database(t, engine))
		ctx := context.Background()
		if err := db.MigrateToForTest(ctx, 3); err != nil {
			t.Fatal(err)
		}
		raw := db.Raw()
		for _, q := range []string{
			`INSERT INTO merchants (id, code, name, created_at) VALUES (1, 'm', 'M', 0)`,
			`INSERT INTO products (id, merchant_id, sku, name, barcode, is_bundle, created_at, updated_at) VALUES (1, 1, 'tee', 'T', '', FALSE, 0, 0)`,
			`INSERT INTO channels (id, merchant_id, code, name, platform, count_unpaid, all_warehouses, settings, created_at, updated_at)
				VALUES (1, 1, 'shop', 'Shop', 'generic', FALSE, TRUE, '{}', 0, 0)`,
			`INSERT INTO listings (id, merchant_id, channel_id, external_id, product_id, enabled, created_at, updated_at, push_version)
				VALUES (1, 1, 1, 'L-pushed', 1, TRUE, 0, 0, 7), (2, 1, 1, 'L-waiting', 1, TRUE, 0, 0, 4)`,
			`INSERT INTO sync_pending (listing_id, channel_id, merchant_id, quantity, version, due_at, first_at) VALUES (2, 1, 1, 9, 4, 0, 0)`,
		} {
			if _, err := raw.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		var pushed store.PushListing
		err := db.Write(ctx, 1, "t", time.Now(), func(tx *store.Tx) error {
			ls, err := tx.PushListings(nil)
			if err != nil {
				return err
			}
			for _, l := range ls {
				if l.ExternalID == "L-pushed" {
					pushed = l
				}
			}
			return tx.SetPending(pushed, 3, tx.Now, tx.Now)
		})
		if err != nil {
			t.Fatal(err)
		}
		var due []store.Push
		if err := db.Read(ctx, 1, time.Now(), func(tx *store.Tx) (err error) { due, err = tx.DuePushes(1, 10); return err }); err != nil {
			t.Fatal(err)
		}
		got := map[string][2]int64{}
		for _, p := range due {
			got[p.ExternalID] = [2]int64{int64(p.Quantity), p.Version}
		}
		if got["L-waiting"] != [2]int64{9, 4} || got["L-pushed"] != [2]int64{3, 8} {
			t.Fatalf("due (quantity, version) by listing: %v; want L-waiting (9, 4) and L-pushed (3, 8)", got)
		}
	})
}
