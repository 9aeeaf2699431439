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
