package bench_test

import (
	"context"
	"os"
	"testing"

	"github.com/allot/allot/allottest"
	"github.com/allot/allot/bench"
)

// A small flash sale on every engine: a test of correctness (nothing
// oversold, nothing acknowledged lost), not of speed.
func TestSmallFlashSaleNeverOversells(t *testing.T) {
	for _, engine := range allottest.Engines() {
		t.Run(engine, func(t *testing.T) {
			cfg := bench.Config{Engine: engine, Postgres: os.Getenv(allottest.PostgresEnv), Dir: t.TempDir(), Scale: 1, Out: os.Stdout}
			rs, err := bench.FlashSale(context.Background(), cfg, 300, 32)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rs {
				if r.Accepted != 300 || r.Oversold != 0 || r.Lost != 0 || r.Errors != 0 {
					t.Errorf("%s: %+v; want exactly the 300 units accepted, none oversold or lost, no error", r.Name, r)
				}
			}
			if testing.Verbose() {
				bench.PrintFlash(cfg, 300, 32, rs)
			}
		})
	}
}

// A small catalogue on every engine: steady imported orders all counted
// once, a full stock report by CSV and by the API each computed and queued
// for every listing, a recompute of every quantity, and the stores showing
// exactly what allot publishes once everything is pushed.
func TestSmallCatalogueCountsEveryOrderOnceAndPushesEveryQuantity(t *testing.T) {
	for _, engine := range allottest.Engines() {
		t.Run(engine, func(t *testing.T) {
			cfg := bench.Config{Engine: engine, Postgres: os.Getenv(allottest.PostgresEnv), Dir: t.TempDir(), Scale: 1, Out: os.Stdout}
			const skus, orders = 300, 400
			r, err := bench.Catalogue(context.Background(), cfg, skus, orders, 8)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range r.Steady {
				if s.Orders != orders || s.Errors != 0 {
					t.Errorf("%s: %d orders accepted, %d errors; want all %d, none", s.Name, s.Orders, s.Errors, orders)
				}
			}
			if r.Committed != r.Steady[0].Units {
				t.Errorf("open orders commit %d units; the orders accepted hold %d", r.Committed, r.Steady[0].Units)
			}
			if r.Quantities != skus*r.Channels {
				t.Errorf("recompute: %d quantities, want %d", r.Quantities, skus*r.Channels)
			}
			if r.StockCSV.Queued < r.StockCSV.Applied || r.StockJSON.Queued < r.StockJSON.Applied {
				t.Errorf("queued before applied: %+v", r)
			}
			if r.StockCSV.PeakHeap == 0 || r.StockCSV.PeakResident < r.StockCSV.PeakHeap {
				t.Errorf("memory during the stock report: peak heap %d, resident %d bytes", r.StockCSV.PeakHeap, r.StockCSV.PeakResident)
			}
			if len(r.QueueLag) == 0 || len(r.QueueLagBusy) == 0 {
				t.Error("no order sent alone")
			}
			if len(r.QueueLagBaseline) != orders {
				t.Errorf("the baseline timed %d orders sent alone, want %d", len(r.QueueLagBaseline), orders)
			}
			for _, m := range r.Mismatches {
				t.Error(m)
			}
			if testing.Verbose() {
				bench.PrintCatalogue(cfg, orders, r)
			}
		})
	}
}

// A small push fan-out on every engine: every change reaches the simulated
// Shopify stores, in calls of many quantities.
func TestSmallFanoutPushesEveryChange(t *testing.T) {
	for _, engine := range allottest.Engines() {
		t.Run(engine, func(t *testing.T) {
			cfg := bench.Config{Engine: engine, Postgres: os.Getenv(allottest.PostgresEnv), Dir: t.TempDir(), Scale: 1, Out: os.Stdout}
			r, err := bench.Fanout(context.Background(), cfg, 300, 2)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range r.Mismatches {
				t.Error(m)
			}
			if r.Pushed < r.Changes/2 || r.Calls == 0 {
				t.Errorf("%d quantities pushed in %d calls for %d changes", r.Pushed, r.Calls, r.Changes)
			}
			if r.CallsPer1000() > 20 {
				t.Errorf("%.1f calls per 1,000 changes: pushes are not batched", r.CallsPer1000())
			}
			if testing.Verbose() {
				bench.PrintFanout(cfg, r)
			}
		})
	}
}
