package syncer_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/allottest"
	"github.com/allot/allot/store"
	"github.com/allot/allot/syncer"
)

// Writes that mark products for pushing, and the worker clearing the marks
// it planned, run side by side on PostgreSQL without deadlocking: both go
// through the marks in product order. Cleared in the order they were
// marked, they deadlocked with a write marking two of the same products,
// which cost that write a second and a second attempt.
func TestClearingMarksNeverDeadlocksWithWritesThatMark(t *testing.T) {
	if os.Getenv(allottest.PostgresEnv) == "" {
		t.Skipf("%s is not set: SQLite has one writer, nothing to interleave", allottest.PostgresEnv)
	}
	ctx := context.Background()
	db := allottest.OpenDB(t, "postgres")
	var m int64
	if err := db.Admin(ctx, func(tx *store.Tx) (err error) { m, err = tx.CreateMerchant("m", "M"); return err }); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	err := db.Write(ctx, m, "t", time.Now(), func(tx *store.Tx) error {
		for i := range 16 {
			ref, _, err := tx.PutProduct(allot.Product{SKU: fmt.Sprint("p", i), Name: "P"}, nil)
			if err != nil {
				return err
			}
			ids = append(ids, ref.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	w := &syncer.Worker{DB: db}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := w.Plan(ctx); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var writes, retries atomic.Int32
	deadline := time.Now().Add(1500 * time.Millisecond)
	var writers sync.WaitGroup
	for g := range 8 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for time.Now().Before(deadline) {
				// Marked at scattered times, so that the worker reads the
				// marks in an order other than the products'.
				at := time.Now().Add(-time.Duration(rng.IntN(1000)) * time.Millisecond)
				tries := 0
				err := db.Write(ctx, m, "t", at, func(tx *store.Tx) error {
					tries++
					for _, i := range rng.Perm(len(ids))[:8] {
						tx.Touch(ids[i])
					}
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
				writes.Add(1)
				if tries > 1 {
					retries.Add(1)
				}
			}
		}()
	}
	writers.Wait()
	close(stop)
	wg.Wait()
	if retries.Load() > 0 {
		t.Errorf("%d of %d writes ran again: they deadlocked with the worker clearing marks", retries.Load(), writes.Load())
	}
}
