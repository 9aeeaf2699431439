package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/allottest"
	"github.com/allot/allot/store"
)

// On PostgreSQL inserts wait to be sent with the transaction's next
// statement; a transaction must read what it wrote all the same, and an
// insert into a table another waiting one writes must follow it.
func TestATransactionReadsItsOwnInserts(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		db, m := merchantDB(t, engine)
		ctx := context.Background()
		var ids []int64
		var wid int64
		err := db.Write(ctx, m, "t", time.Now(), func(tx *store.Tx) error {
			var err error
			if wid, _, err = tx.PutWarehouse(allot.Warehouse{Code: "w1"}); err != nil {
				return err
			}
			if err := tx.InsertProducts([]allot.Product{{SKU: "a", Name: "A"}, {SKU: "b", Name: "B"}}); err != nil {
				return err
			}
			refs, err := tx.ProductRefs([]string{"a", "b"})
			if err != nil {
				return err
			}
			if len(refs) != 2 {
				return fmt.Errorf("the transaction reads %v of the two products it inserted", refs)
			}
			ids = []int64{refs["a"].ID, refs["b"].ID}
			if err := tx.ReportStockMany([]store.Report{
				{StockKey: store.StockKey{Product: ids[0], Warehouse: wid}, InWarehouse: 10, AsOf: tx.Now},
				{StockKey: store.StockKey{Product: ids[1], Warehouse: wid}, InWarehouse: 5, AsOf: tx.Now},
			}); err != nil {
				return err
			}
			// The same rows again, upserted: after the report, not beside it.
			if err := tx.AddCommittedMany([]store.Delta{{Key: [2]int64{ids[0], wid}, N: 3}}); err != nil {
				return err
			}
			tx.Record("stock.report", "a", "", "in warehouse 10", nil)
			got, err := tx.StockRows(ids)
			if err != nil {
				return err
			}
			if a, b := got[store.StockKey{Product: ids[0], Warehouse: wid}], got[store.StockKey{Product: ids[1], Warehouse: wid}]; a.InWarehouse != 10 || a.Committed != 3 || b.InWarehouse != 5 {
				t.Errorf("in the transaction: stock %+v and %+v, want 10 in warehouse with 3 committed, and 5", a, b)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		db.Read(ctx, m, time.Now(), func(tx *store.Tx) error {
			got, err := tx.StockRows(ids)
			if err != nil {
				t.Error(err)
				return err
			}
			if a := got[store.StockKey{Product: ids[0], Warehouse: wid}]; a.InWarehouse != 10 || a.Committed != 3 {
				t.Errorf("committed: stock %+v, want 10 in warehouse with 3 committed", a)
			}
			if h, err := tx.History(store.HistoryFilter{SKU: "a"}); err != nil || len(h) != 1 {
				t.Errorf("history of a: %v, %v; want the one entry", h, err)
			}
			return nil
		})
	})
}

// An insert that fails once sent fails its transaction with its own
// error, even when a read it was sent before fails too (the transaction
// is aborted by then), and leaves nothing.
func TestAnInsertThatFailsLateFailsTheTransaction(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		db, m := merchantDB(t, engine)
		ctx := context.Background()
		err := db.Write(ctx, m, "t", time.Now(), func(tx *store.Tx) error {
			if err := tx.InsertProducts([]allot.Product{{SKU: "a", Name: "A"}}); err != nil {
				return err
			}
			// No warehouse 987654: the stock row's reference fails.
			if err := tx.ReportStockMany([]store.Report{{StockKey: store.StockKey{Product: 1, Warehouse: 987654}, InWarehouse: 1, AsOf: tx.Now}}); err != nil {
				return err
			}
			_, _, err := tx.PutWarehouse(allot.Warehouse{Code: "w1"}) // one row read, then an insert
			return err
		})
		if err == nil || !strings.Contains(strings.ToLower(err.Error()), "foreign key") {
			t.Fatalf("write: %v, want the stock row's foreign key error", err)
		}
		db.Read(ctx, m, time.Now(), func(tx *store.Tx) error {
			if ps, _ := tx.Products("", 0); len(ps) != 0 {
				t.Errorf("products %v after a failed write", ps)
			}
			return nil
		})
	})
}

// An insert that fails when it is sent with the commit fails the
// transaction with its own error and leaves nothing, time after time, more
// times than the pool has connections; a panic in a transaction leaves no
// connection taken either.
func TestAnInsertSentWithTheCommitFailsTheTransaction(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		db, m := merchantDB(t, engine)
		ctx := context.Background()
		for i := range 40 {
			err := db.Write(ctx, m, "t", time.Now(), func(tx *store.Tx) error {
				if err := tx.InsertProducts([]allot.Product{{SKU: fmt.Sprint("a", i), Name: "A"}}); err != nil {
					return err
				}
				// No warehouse 987654: the stock row's reference fails.
				return tx.ReportStockMany([]store.Report{{StockKey: store.StockKey{Product: 1, Warehouse: 987654}, InWarehouse: 1, AsOf: tx.Now}})
			})
			if err == nil || !strings.Contains(strings.ToLower(err.Error()), "foreign key") {
				t.Fatalf("write %d: %v, want the stock row's foreign key error", i, err)
			}
		}
		// A connection left in a transaction would make these wait for
		// one, and fail at the deadline.
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		for range 40 {
			func() {
				defer func() { recover() }()
				db.Write(wctx, m, "t", time.Now(), func(tx *store.Tx) error {
					tx.InsertProducts([]allot.Product{{SKU: "p", Name: "P"}})
					panic("in the transaction")
				})
			}()
		}
		if err := db.Write(wctx, m, "t", time.Now(), func(tx *store.Tx) error {
			return tx.InsertProducts([]allot.Product{{SKU: "b", Name: "B"}})
		}); err != nil {
			t.Fatalf("a write after the failed ones: %v", err)
		}
		db.Read(ctx, m, time.Now(), func(tx *store.Tx) error {
			if ps, _ := tx.Products("", 0); len(ps) != 1 || ps[0].SKU != "b" {
				t.Errorf("products %v, want b alone", ps)
			}
			return nil
		})
	})
}

// Orders inserted in bulk by two processes at once (two handles on one
// database) get ids of their own, each order the lines inserted with it,
// past the blocks of ids drawn ahead on PostgreSQL.
func TestOrdersOfTwoProcessesGetIDsOfTheirOwn(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		dsn := allottest.Database(t, engine)
		dbs := []*store.DB{open(t, dsn), open(t, dsn)}
		ctx := context.Background()
		if err := dbs[0].Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		var m, channel, product int64
		if err := dbs[0].Admin(ctx, func(tx *store.Tx) (err error) { m, err = tx.CreateMerchant("m", "M"); return err }); err != nil {
			t.Fatal(err)
		}
		if err := dbs[0].Write(ctx, m, "t", time.Now(), func(tx *store.Tx) error {
			var err error
			if channel, _, err = tx.PutChannel(allot.Channel{Code: "api", Name: "API", Platform: allot.API}, nil); err != nil {
				return err
			}
			ref, _, err := tx.PutProduct(allot.Product{SKU: "tee", Name: "T-shirt"}, nil)
			product = ref.ID
			return err
		}); err != nil {
			t.Fatal(err)
		}
		type placed struct {
			id  int64
			key string
			qty int
		}
		var all []placed
		for round := range 4 {
			for p, db := range dbs {
				var batch []*store.OrderRow
				for i := range 600 {
					batch = append(batch, &store.OrderRow{ChannelID: channel, ExternalID: fmt.Sprintf("o%d-%d-%d", round, p, i),
						Kind: allot.Imported, Payment: allot.Paid, State: allot.Open, Counts: true,
						Lines: []store.OrderLineRow{{ProductID: product, Quantity: 1 + i%7,
							Units: []store.Unit{{ProductID: product, PerLine: 1}}}}})
				}
				if err := db.Write(ctx, m, "t", time.Now(), func(tx *store.Tx) error { return tx.InsertOrders(batch) }); err != nil {
					t.Fatal(err)
				}
				for _, o := range batch {
					all = append(all, placed{o.ID, o.ExternalID, o.Lines[0].Quantity})
				}
			}
		}
		seen := map[int64]bool{}
		dbs[1].Read(ctx, m, time.Now(), func(tx *store.Tx) error {
			for _, o := range all {
				if o.id <= 0 || seen[o.id] {
					t.Fatalf("order %s got id %d, zero or another's", o.key, o.id)
				}
				seen[o.id] = true
				got, ok, err := tx.OrderByID(o.id)
				if err != nil || !ok {
					t.Fatalf("order %d (%s): %v, found %v", o.id, o.key, err, ok)
				}
				if got.ExternalID != o.key || len(got.Lines) != 1 || got.Lines[0].Quantity != o.qty {
					t.Fatalf("order %d is %s with lines %+v, want %s with one line of %d", o.id, got.ExternalID, got.Lines, o.key, o.qty)
				}
			}
			return nil
		})
	})
}
