package store_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/allot/allot"
	"github.com/allot/allot/allottest"
	"github.com/allot/allot/engine"
	"github.com/allot/allot/store"
)

// snapshotJSON reads the snapshot of ids at now, from the kept definitions
// or not, as JSON with its lists in one order.
func snapshotJSON(t interface {
	Helper()
	Fatal(...any)
}, db *store.DB, m int64, now time.Time, ids []int64, kept bool) string {
	t.Helper()
	var out []byte
	err := db.Write(context.Background(), m, "test", now, func(tx *store.Tx) error {
		if kept {
			if err := tx.KeepDefinitions(); err != nil {
				return err
			}
		}
		s, err := tx.SnapshotDefinitions(ids)
		if err != nil {
			return err
		}
		if err := tx.ReadCounters(s); err != nil {
			return err
		}
		slices.SortFunc(s.Allocations, func(a, b *engine.Allocation) int { return int(a.ID - b.ID) })
		for _, sku := range s.SKUs {
			slices.SortFunc(sku.Components, func(a, b allot.Component) int { return strings.Compare(a.SKU, b.SKU) })
		}
		out, err = json.Marshal(s)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// The definitions a group of orders keeps between transactions give the
// snapshot a read of them gives, after any sequence of changes to
// channels, warehouses, products, bundles, allocations and rules.
func TestKeptDefinitionsAreWhatAReadGives(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		db, m := merchantDB(t, engine)
		ctx := context.Background()
		base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		write := func(t interface{ Fatal(...any) }, now time.Time, fn func(tx *store.Tx) error) {
			if err := db.Write(ctx, m, "test", now, fn); err != nil {
				t.Fatal(err)
			}
		}
		var products, warehouses, channels, allocations []int64
		write(t, base, func(tx *store.Tx) error {
			w, _, err := tx.PutWarehouse(allot.Warehouse{Code: "w0"})
			warehouses = append(warehouses, w)
			for i := range 2 {
				c, _, err := tx.PutChannel(allot.Channel{Code: fmt.Sprint("c", i), Platform: allot.API}, nil)
				if err != nil {
					return err
				}
				channels = append(channels, c)
			}
			for i := range 4 {
				p, _, err := tx.PutProduct(allot.Product{SKU: fmt.Sprint("p", i)}, nil)
				if err != nil {
					return err
				}
				products = append(products, p.ID)
			}
			return err
		})
		if raceDetector {
			checks := flag.Lookup("rapid.checks")
			defer checks.Value.Set(checks.Value.String())
			checks.Value.Set("5")
		}
		rapid.Check(t, func(rt *rapid.T) {
			step := 0
			now := func() time.Time { return base.Add(time.Duration(step) * time.Minute) }
			pick := func(label string, ids []int64) int64 { return rapid.SampledFrom(ids).Draw(rt, label) }
			rt.Repeat(map[string]func(*rapid.T){
				"warehouse": func(rt *rapid.T) {
					write(rt, now(), func(tx *store.Tx) error {
						w, _, err := tx.PutWarehouse(allot.Warehouse{Code: fmt.Sprint("w", len(warehouses))})
						warehouses = append(warehouses, w)
						return err
					})
				},
				"channel": func(rt *rapid.T) {
					i := rapid.IntRange(0, len(channels)).Draw(rt, "channel")
					var ws []int64
					if rapid.Bool().Draw(rt, "chosen warehouses") {
						ws = []int64{pick("warehouse", warehouses)}
					}
					write(rt, now(), func(tx *store.Tx) error {
						c, created, err := tx.PutChannel(allot.Channel{Code: fmt.Sprint("c", i), Platform: allot.API}, ws)
						if created {
							channels = append(channels, c)
						}
						return err
					})
				},
				"channel rules": func(rt *rapid.T) {
					c, p := pick("channel", channels), rapid.IntRange(0, 50).Draw(rt, "percent")
					write(rt, now(), func(tx *store.Tx) error { return tx.SetChannelRules(c, allot.ChannelRules{Percent: &p}) })
				},
				"pair rules": func(rt *rapid.T) {
					c, p, z := pick("channel", channels), pick("product", products), rapid.IntRange(-1, 5).Draw(rt, "zero at")
					r := allot.ChannelRules{}
					if z >= 0 {
						r.ZeroAt = &z
					}
					write(rt, now(), func(tx *store.Tx) error { return tx.SetPairRules(c, p, r) })
				},
				"product": func(rt *rapid.T) {
					bundle := rapid.Bool().Draw(rt, "bundle")
					sku := fmt.Sprint("p", len(products))
					if bundle && rapid.Bool().Draw(rt, "existing") {
						sku = "b0" // a bundle's components replaced
					}
					write(rt, now(), func(tx *store.Tx) error {
						p := allot.Product{SKU: sku}
						var refs []store.ProductRef
						if bundle {
							c := pick("component", products)
							refs = []store.ProductRef{{ID: c}}
							p.Components = []allot.Component{{SKU: "x", Quantity: rapid.IntRange(1, 3).Draw(rt, "per bundle")}}
						}
						ref, created, err := tx.PutProduct(p, refs)
						if created {
							products = append(products, ref.ID)
						}
						return err
					})
				},
				"allocation": func(rt *rapid.T) {
					a := allot.Allocation{Name: "a", Purpose: allot.Reserve, Priority: rapid.IntRange(0, 3).Draw(rt, "priority")}
					if rapid.Bool().Draw(rt, "ends") {
						end := now().Add(time.Duration(rapid.IntRange(-3, 3).Draw(rt, "ends in")) * 30 * time.Second)
						a.EndsAt = &end
					}
					var lines []store.AllocationLine
					if rapid.Bool().Draw(rt, "every SKU") {
						a.AllSKUs = &allot.AllSKUs{Quantity: 3}
					} else {
						lines = []store.AllocationLine{{ProductID: pick("product", products), Quantity: 5}}
					}
					write(rt, now(), func(tx *store.Tx) error {
						id, err := tx.CreateAllocation(a, []store.AllocationChannel{{ChannelID: pick("channel", channels), Rule: allot.UseAvailable}}, lines)
						allocations = append(allocations, id)
						return err
					})
				},
				"allocation line": func(rt *rapid.T) {
					if len(allocations) == 0 {
						rt.Skip("no allocation")
					}
					a, p, q := pick("allocation", allocations), pick("product", products), rapid.IntRange(0, 9).Draw(rt, "quantity")
					write(rt, now(), func(tx *store.Tx) error { return tx.SetAllocationLine(a, p, q) })
				},
				"end allocation": func(rt *rapid.T) {
					if len(allocations) == 0 {
						rt.Skip("no allocation")
					}
					id := pick("allocation", allocations)
					write(rt, now(), func(tx *store.Tx) error {
						a, err := tx.Allocation(id)
						if err != nil {
							return err
						}
						end := now()
						a.Allocation.EndsAt = &end
						return tx.UpdateAllocation(a.Allocation)
					})
				},
				"time passes": func(rt *rapid.T) { step++ },
				"": func(rt *rapid.T) {
					ids := rapid.SliceOfNDistinct(rapid.SampledFrom(products), 1, 4, rapid.ID[int64]).Draw(rt, "scope")
					at := now().Add(time.Duration(rapid.IntRange(0, 59).Draw(rt, "seconds")) * time.Second)
					kept, read := snapshotJSON(rt, db, m, at, ids, true), snapshotJSON(rt, db, m, at, ids, false)
					if kept != read {
						rt.Fatalf("kept definitions give\n%s\na read gives\n%s", kept, read)
					}
				},
			})
		})
	})
}

// The kept definitions are kept: a change that bypasses the transactions
// (here, written straight to the database) is not seen until a
// transaction changes a definition.
func TestKeptDefinitionsAreReadOnceAVersion(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		db, m := merchantDB(t, engine)
		ctx := context.Background()
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		var p int64
		err := db.Write(ctx, m, "test", now, func(tx *store.Tx) error {
			c, _, err := tx.PutChannel(allot.Channel{Code: "c0", Platform: allot.API}, nil)
			if err != nil {
				return err
			}
			ref, _, err := tx.PutProduct(allot.Product{SKU: "p0"}, nil)
			p = ref.ID
			if err != nil {
				return err
			}
			return tx.SetPairRules(c, p, allot.ChannelRules{ZeroAt: new(2)})
		})
		if err != nil {
			t.Fatal(err)
		}
		zeroAt := func(kept bool) string {
			var s struct {
				SKUs map[string]struct{ Rules map[string]allot.ChannelRules }
			}
			if err := json.Unmarshal([]byte(snapshotJSON(t, db, m, now, []int64{p}, kept)), &s); err != nil {
				t.Fatal(err)
			}
			if z := s.SKUs["p0"].Rules["c0"].ZeroAt; z != nil {
				return fmt.Sprint(*z)
			}
			return "none"
		}
		if got := zeroAt(true); got != "2" {
			t.Fatalf("kept zero_at %s; want 2", got)
		}
		if _, err := db.Raw().ExecContext(ctx, `UPDATE pair_rules SET zero_at = 7`); err != nil {
			t.Fatal(err)
		}
		if kept, read := zeroAt(true), zeroAt(false); kept != "2" || read != "7" {
			t.Fatalf("zero_at kept %s, read %s; want 2 kept (the version did not change), 7 read", kept, read)
		}
		err = db.Write(ctx, m, "test", now, func(tx *store.Tx) error {
			_, _, err := tx.PutWarehouse(allot.Warehouse{Code: "w1"})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := zeroAt(true); got != "7" {
			t.Fatalf("kept zero_at %s after a definition changed; want 7", got)
		}
	})
}
