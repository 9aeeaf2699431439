package store_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/allottest"
	"github.com/allot/allot/store"
)

// The storage behaviours both engines must share. The API and property
// suites (httpapi, service) run on both engines too; these are the ones
// that live below the service.

func TestPostgreSQLIsTested(t *testing.T) {
	if os.Getenv(allottest.PostgresEnv) == "" {
		t.Skipf("%s is not set: PostgreSQL was skipped; every storage suite ran on SQLite alone", allottest.PostgresEnv)
	}
}

func open(t *testing.T, dsn string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// merchantDB opens a migrated database of engine holding one merchant.
func merchantDB(t *testing.T, engine string) (*store.DB, int64) {
	t.Helper()
	db := allottest.OpenDB(t, engine)
	ctx := context.Background()
	var m int64
	if err := db.Admin(ctx, func(tx *store.Tx) (err error) { m, err = tx.CreateMerchant("m", "M"); return err }); err != nil {
		t.Fatal(err)
	}
	return db, m
}

func TestMigrationsApplyOnceEvenFromSeveralProcessesAtOnce(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		dsn := allottest.Database(t, engine)
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				db, err := store.Open(context.Background(), dsn)
				if err != nil {
					errs <- err
					return
				}
				defer db.Close()
				errs <- db.Migrate(context.Background())
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("migrate: %v", err)
			}
		}
		db := open(t, dsn)
		if err := db.Migrate(context.Background()); err != nil {
			t.Fatalf("migrate again: %v", err)
		}
		if v, err := db.Version(context.Background()); err != nil || v != 10 {
			t.Fatalf("version %d, %v; want 10", v, err)
		}
	})
}

// On PostgreSQL the tables an order writes check no foreign key (their
// checks lock the merchant's, channel's and warehouse's rows; see
// migration 6), nor does the push log (it locked the listing of every
// push; migration 8); the other tables still do. SQLite keeps every one.
func TestOrdersCheckNoForeignKeysOnPostgreSQL(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		db := allottest.OpenDB(t, engine)
		q := `SELECT COUNT(*) FROM pg_constraint WHERE contype = 'f' AND conrelid = to_regclass($1)`
		if engine == "sqlite" {
			q = `SELECT COUNT(*) FROM pragma_foreign_key_list($1)`
		}
		for table, want := range map[string]bool{"orders": false, "order_lines": false, "order_units": false, "publication_log": false,
			"stock": true, "listings": true, "sync_pending": true} {
			var n int
			if err := db.Raw().QueryRowContext(context.Background(), q, table).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if want = want || engine == "sqlite"; (n > 0) != want {
				t.Errorf("%s has %d foreign keys; want some: %v", table, n, want)
			}
		}
	})
}

// SQLite's writes, taking turns from many goroutines, prepare each
// statement once: the same work again prepares nothing new, and a text
// that does not parse still reports its error.
func TestSQLiteWritesKeepTheirStatementsPrepared(t *testing.T) {
	db, m := merchantDB(t, "sqlite")
	ctx := context.Background()
	round := func(r int) {
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for g := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- db.Write(ctx, m, "t", time.Now(), func(tx *store.Tx) error {
					_, _, err := tx.PutProduct(allot.Product{SKU: fmt.Sprintf("sku-%d-%d", r, g), Name: "P"}, nil)
					return err
				})
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	round(1)
	first := db.CachedStatementsForTest()
	if first == 0 {
		t.Fatal("no statement kept prepared")
	}
	round(2)
	if n := db.CachedStatementsForTest(); n != first {
		t.Errorf("the same writes again kept %d statements, then %d", first, n)
	}
	err := db.Write(ctx, m, "t", time.Now(), func(tx *store.Tx) error {
		_, err := tx.ExecForTest(`UPDATE nowhere SET x = 1`)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "nowhere") {
		t.Errorf("a statement that does not parse: %v", err)
	}
}

// SQLite's migration 7 rebuilds the pending pushes and the publications
// with the listing's id as rowid: the rows written before it are kept.
func TestMigrationSevenKeepsPendingPushesAndPublications(t *testing.T) {
	ctx := context.Background()
	db := open(t, allottest.Database(t, "sqlite"))
	if err := db.MigrateToForTest(ctx, 6); err != nil {
		t.Fatal(err)
	}
	raw := db.Raw()
	for _, q := range []string{
		`INSERT INTO merchants (id, code, name, created_at) VALUES (1, 'm', 'M', 0)`,
		`INSERT INTO channels (id, merchant_id, code, name, platform, created_at, updated_at) VALUES (1, 1, 'shop', 'Shop', 'generic', 0, 0)`,
		`INSERT INTO listings (id, merchant_id, channel_id, external_id, created_at, updated_at) VALUES (7, 1, 1, 'L-7', 0, 0), (9, 1, 1, 'L-9', 0, 0)`,
		`INSERT INTO sync_pending (listing_id, channel_id, merchant_id, quantity, version, due_at, first_at, attempts, last_error, done)
			VALUES (7, 1, 1, 3, 4, 100, 90, 1, 'timeout', FALSE), (9, 1, 1, 5, 2, 0, 0, 0, '', TRUE)`,
		`INSERT INTO publications (listing_id, channel_id, merchant_id, quantity, pushed_at, confirmed, error) VALUES (9, 1, 1, 5, 80, TRUE, '')`,
	} {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	dump := func() string {
		var b strings.Builder
		for _, q := range []string{
			`SELECT listing_id, channel_id, merchant_id, quantity, version, due_at, first_at, attempts, last_error, done FROM sync_pending ORDER BY listing_id`,
			`SELECT listing_id, channel_id, merchant_id, quantity, pushed_at, confirmed, error FROM publications ORDER BY listing_id`,
		} {
			rows, err := raw.QueryContext(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			cols, _ := rows.Columns()
			for rows.Next() {
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					t.Fatal(err)
				}
				fmt.Fprintln(&b, vals...)
			}
			rows.Close()
		}
		return b.String()
	}
	before := dump()
	if err := db.MigrateToForTest(ctx, 7); err != nil {
		t.Fatal(err)
	}
	if after := dump(); after != before || strings.Count(after, "\n") != 3 {
		t.Errorf("rows before migration 7:\n%safter:\n%s", before, after)
	}
	var pk string
	if err := raw.QueryRowContext(ctx, `SELECT type FROM pragma_table_info('sync_pending') WHERE pk = 1`).Scan(&pk); err != nil || pk != "INTEGER" {
		t.Errorf("sync_pending's key is %q (%v), want the rowid (INTEGER)", pk, err)
	}
}

// Two transactions that both find no row and both insert it: the loser is
// run again and finds the winner's row.
func TestConcurrentCreatesOfOneThingMakeOneThing(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		dsn := allottest.Database(t, engine)
		db := open(t, dsn)
		ctx := context.Background()
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		var m int64
		if err := db.Admin(ctx, func(tx *store.Tx) (err error) { m, err = tx.CreateMerchant("m", "M"); return err }); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var created sync.Map
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				other := open(t, dsn) // as another process would
				err := other.Write(ctx, m, "t", time.Now(), func(tx *store.Tx) error {
					_, isNew, err := tx.PutProduct(allot.Product{SKU: "tee", Name: fmt.Sprint("T-shirt ", i)}, nil)
					if isNew {
						created.Store(i, true)
					}
					return err
				})
				if err != nil {
					t.Errorf("put product: %v", err)
				}
			}()
		}
		wg.Wait()
		var n int
		db.Read(ctx, m, time.Now(), func(tx *store.Tx) error {
			ps, err := tx.Products("", 0)
			n = len(ps)
			return err
		})
		if n != 1 {
			t.Fatalf("%d products, want 1", n)
		}
	})
}

// What a write transaction committed is there for the next reader, after
// the database is closed and opened again.
func TestCommittedWritesSurviveReopening(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		dsn := allottest.Database(t, engine)
		ctx := context.Background()
		db, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		var m int64
		db.Admin(ctx, func(tx *store.Tx) (err error) { m, err = tx.CreateMerchant("m", "M"); return err })
		err = db.Write(ctx, m, "t", time.Now(), func(tx *store.Tx) error {
			_, _, err := tx.PutProduct(allot.Product{SKU: "tee", Name: "T-shirt"}, nil)
			tx.Record("product.put", "tee", "", "created", nil)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
		db = open(t, dsn)
		db.Read(ctx, m, time.Now(), func(tx *store.Tx) error {
			if _, err := tx.Product("tee"); err != nil {
				t.Errorf("after reopening: %v", err)
			}
			h, err := tx.History(store.HistoryFilter{SKU: "tee"})
			if err != nil || len(h) != 1 {
				t.Errorf("history %v, %v; want one entry", h, err)
			}
			return nil
		})
	})
}

// A transaction that fails leaves nothing behind, its history included.
func TestFailedWriteLeavesNothing(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		db := open(t, allottest.Database(t, engine))
		ctx := context.Background()
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		var m int64
		db.Admin(ctx, func(tx *store.Tx) (err error) { m, err = tx.CreateMerchant("m", "M"); return err })
		err := db.Write(ctx, m, "t", time.Now(), func(tx *store.Tx) error {
			if _, _, err := tx.PutProduct(allot.Product{SKU: "tee", Name: "T-shirt"}, nil); err != nil {
				return err
			}
			tx.Record("product.put", "tee", "", "created", nil)
			return allot.Errorf(allot.Invalid, "changed my mind")
		})
		if allot.ErrorCode(err) != allot.Invalid {
			t.Fatalf("write: %v", err)
		}
		db.Read(ctx, m, time.Now(), func(tx *store.Tx) error {
			if ps, _ := tx.Products("", 0); len(ps) != 0 {
				t.Errorf("products %v after a failed write", ps)
			}
			if h, _ := tx.History(store.HistoryFilter{}); len(h) != 0 {
				t.Errorf("history %v after a failed write", h)
			}
			return nil
		})
	})
}

// After a bulk write, PostgreSQL's statistics of the table are refreshed
// at once, not a minute later by autovacuum: the planner then finds a few
// rows of a table filled moments ago by its indexes.
func TestBulkWritesRefreshTheStatistics(t *testing.T) {
	if os.Getenv(allottest.PostgresEnv) == "" {
		t.Skipf("%s is not set", allottest.PostgresEnv)
	}
	db, m := merchantDB(t, "postgres")
	ctx := context.Background()
	ps := make([]allot.Product, 3000)
	for i := range ps {
		ps[i] = allot.Product{SKU: fmt.Sprintf("SKU-%05d", i), Name: "P"}
	}
	if err := db.Write(ctx, m, "t", time.Now(), func(tx *store.Tx) error { return tx.InsertProducts(ps) }); err != nil {
		t.Fatal(err)
	}
	waitTuples(t, db, "products", 3000)
}

// waitTuples waits until PostgreSQL's statistics say table holds at least
// n rows.
func waitTuples(t *testing.T, db *store.DB, table string, n float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var tuples float64
		if err := db.Raw().QueryRowContext(context.Background(), `SELECT reltuples FROM pg_class WHERE oid = to_regclass($1)`, table).Scan(&tuples); err != nil {
			t.Fatal(err)
		}
		if tuples >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the planner believes %s holds %v rows after %v were inserted", table, tuples, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Lists of keys go to the database as one value where they can (a JSON
// array on SQLite, an array on PostgreSQL): every SKU, however awkward,
// must still find its product, and only its own.
func TestLookupsBySKUFindAwkwardSKUs(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		db, m := merchantDB(t, engine)
		ctx := context.Background()
		stored := []string{`plain`, `with "quotes"`, `back\slash`, `\"`, `é-ü-漢字`, "emoji-🧦", "soft\u00adhyphen",
			"del\x7f", "tab\tinside", "line\nbreak", "U+FFFD-\ufffd", `[1,2]`, `null`, `42`}
		var ps []allot.Product
		for _, sku := range stored {
			ps = append(ps, allot.Product{SKU: sku, Name: "n"})
		}
		for i := range 3000 { // more than one statement's worth
			ps = append(ps, allot.Product{SKU: fmt.Sprintf("bulk-%04d", i), Name: "n"})
		}
		if err := db.Write(ctx, m, "t", time.Now(), func(tx *store.Tx) error { return tx.InsertProducts(ps) }); err != nil {
			t.Fatal(err)
		}
		missing := []string{"missing", "U+FFFD-?", "PLAIN"}
		if engine == "sqlite" {
			// PostgreSQL refuses such text outright; SQLite must not find
			// U+FFFD-\ufffd by it.
			missing = append(missing, "U+FFFD-\xff")
		}
		printable := slices.DeleteFunc(slices.Clone(stored), func(k string) bool { return strings.ContainsAny(k, "\t\n") })
		all := append(append(slices.Clone(stored), missing...), "bulk-0007")
		whole := append(slices.Clone(stored), missing...) // a whole catalogue's worth: another plan
		for i := range 3000 {
			whole = append(whole, fmt.Sprintf("bulk-%04d", i))
		}
		for _, keys := range [][]string{printable, append(slices.Clone(printable), missing...), stored, missing, {"tab\tinside", "plain"}, all, whole} {
			err := db.Read(ctx, m, time.Now(), func(tx *store.Tx) error {
				refs, err := tx.ProductRefs(keys)
				if err != nil {
					return err
				}
				want := 0
				for _, k := range keys {
					r, ok := refs[k]
					known := !slices.Contains(missing, k)
					if known {
						want++
					}
					if ok != known || (ok && r.SKU != k) {
						t.Errorf("%q: found %v (%q), want found %v", k, ok, r.SKU, known)
					}
				}
				if len(refs) != want {
					t.Errorf("found %d products for %d keys, want %d", len(refs), len(keys), want)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	})
}

// Migration 9 moves each publication onto its listing's pending row:
// a pending push, a done one and a publication without a pending row all
// come through, and the publications table is gone.
func TestMigrationNineMovesPublicationsOntoPendingRows(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db := open(t, allottest.Database(t, engine))
		if err := db.MigrateToForTest(ctx, 8); err != nil {
			t.Fatal(err)
		}
		raw := db.Raw()
		for _, q := range []string{
			`INSERT INTO merchants (id, code, name, created_at) VALUES (1, 'm', 'M', 0)`,
			`INSERT INTO channels (id, merchant_id, code, name, platform, created_at, updated_at) VALUES (1, 1, 'shop', 'Shop', 'generic', 0, 0)`,
			`INSERT INTO listings (id, merchant_id, channel_id, external_id, created_at, updated_at) VALUES (7, 1, 1, 'L-7', 0, 0), (8, 1, 1, 'L-8', 0, 0), (9, 1, 1, 'L-9', 0, 0)`,
			`INSERT INTO sync_pending (listing_id, channel_id, merchant_id, quantity, version, due_at, first_at, attempts, last_error, done)
				VALUES (7, 1, 1, 3, 4, 100, 90, 1, 'timeout', FALSE), (9, 1, 1, 5, 2, 0, 0, 0, '', TRUE)`,
			`INSERT INTO publications (listing_id, channel_id, merchant_id, quantity, pushed_at, confirmed, error)
				VALUES (7, 1, 1, 6, 70, TRUE, ''), (8, 1, 1, 2, 60, TRUE, ''), (9, 1, 1, 5, 80, TRUE, '')`,
		} {
			if _, err := raw.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		rows, err := raw.QueryContext(ctx, `SELECT listing_id, quantity, version, due_at, attempts, last_error, done, published, pushed_at
			FROM sync_pending ORDER BY listing_id`)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for rows.Next() {
			var id, q, v, due, attempts, pub, at int64
			var msg string
			var done bool
			if err := rows.Scan(&id, &q, &v, &due, &attempts, &msg, &done, &pub, &at); err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("%d %d %d %d %d %q %v %d %d", id, q, v, due, attempts, msg, done, pub, at))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		want := []string{`7 3 4 100 1 "timeout" false 6 70`, `8 2 0 0 0 "" true 2 60`, `9 5 2 0 0 "" true 5 80`}
		if !slices.Equal(got, want) {
			t.Errorf("pending rows after migration 9:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		var n int
		q := `SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'publications' AND table_schema = current_schema()`
		if engine == "sqlite" {
			q = `SELECT COUNT(*) FROM sqlite_master WHERE name = 'publications'`
		}
		if err := raw.QueryRowContext(ctx, q).Scan(&n); err != nil || n != 0 {
			t.Errorf("publications still there: %d, %v", n, err)
		}
	})
}
