package store_test

import (
	"context"
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
// one re-marked before the clear, and, on PostgreSQL, one a write in
// flight is marking again (skipped, not waited for: the clear never
// blocks a write, so it cannot be part of a deadlock).
func TestClearingMarksKeepsWhatWasMarkedAgain(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		db := open(t, allottest.Database(t, engine))
		ctx := context.Background()
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		var m int64
		if err := db.Admin(ctx, func(tx *store.Tx) (err error) { m, err = tx.CreateMerchant("m", "M"); return err }); err != nil {
			t.Fatal(err)
		}
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
			// A write holding the mark of d while the marks are cleared.
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
			select {
			case err := <-cleared:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("clearing the marks waited for a write in flight")
			}
			close(release)
			if err := <-done; err != nil {
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
