package service_test

import (
	"testing"

	"github.com/allot/allot"
	"github.com/allot/allot/allottest"
	"github.com/allot/allot/service"
	"github.com/allot/allot/store"
)

// A preview shows what every channel would show before and after a change,
// the very numbers that saving it gives, and changes nothing: no
// allocation, no history, the same quantities.
func TestPreviewShowsWhatSavingGivesAndSavesNothing(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		preview func(e *env) (service.Preview, error)
		create  func(e *env) error
	}{
		{"reserve", func(e *env) (service.Preview, error) {
			return e.svc.PreviewAllocation(e.ctx, e.who, reserveB2B)
		}, func(e *env) error { _, err := e.svc.CreateAllocation(e.ctx, e.who, reserveB2B); return err }},
		{"buffer", func(e *env) (service.Preview, error) {
			return e.svc.PreviewBuffer(e.ctx, e.who, buffer)
		}, func(e *env) error { _, err := e.svc.CreateBuffer(e.ctx, e.who, buffer); return err }},
		{"stop", func(e *env) (service.Preview, error) {
			return e.svc.PreviewStop(e.ctx, e.who, stopWeb)
		}, func(e *env) error { _, err := e.svc.CreateStop(e.ctx, e.who, stopWeb); return err }},
		{"every SKU", func(e *env) (service.Preview, error) {
			return e.svc.PreviewAllocation(e.ctx, e.who, everySKU)
		}, func(e *env) error { _, err := e.svc.CreateAllocation(e.ctx, e.who, everySKU); return err }},
	}
	allottest.Each(t, func(t *testing.T, engine string) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				e := previewShop(t, engine)
				e.report(t, "w1", "a", 100, 0, t0)
				e.report(t, "w1", "b", 40, 0, t0)
				before := e.quantities(t)
				history := must(e.svc.History(e.ctx, e.who, store.HistoryFilter{}))(t)
				p, err := c.preview(e)
				if err != nil {
					t.Fatal(err)
				}
				if len(p.SKUs) == 0 || len(p.Channels) != 3 {
					t.Fatalf("preview of %v on %v", p.SKUs, p.Channels)
				}
				if got := must(e.svc.ListAllocations(e.ctx, e.who, false))(t); len(got) != 0 {
					t.Fatalf("the preview created %d allocations", len(got))
				}
				if got := must(e.svc.History(e.ctx, e.who, store.HistoryFilter{}))(t); len(got) != len(history) {
					t.Fatalf("the preview wrote %d history entries", len(got)-len(history))
				}
				for _, sku := range p.SKUs {
					for _, ch := range p.Channels {
						if p.Before[sku][ch] != before[sku][ch] {
							t.Errorf("%s on %s: preview says %d before, the channel shows %d", sku, ch, p.Before[sku][ch], before[sku][ch])
						}
					}
				}
				if err := c.create(e); err != nil {
					t.Fatal(err)
				}
				after := e.quantities(t)
				changed := false
				for _, sku := range p.SKUs {
					for _, ch := range p.Channels {
						if p.After[sku][ch] != after[sku][ch] {
							t.Errorf("%s on %s: preview says %d after, saving gives %d", sku, ch, p.After[sku][ch], after[sku][ch])
						}
						changed = changed || p.Changed(sku, ch)
					}
				}
				if !changed {
					t.Error("the preview shows no change")
				}
			})
		}
	})
}

// previewShop is shop on an engine.
func previewShop(t *testing.T, engine string) *env {
	e := newEnv(t, engine, t.TempDir(), t.Cleanup)
	e.warehouse(t, "w1")
	e.product(t, "a")
	e.product(t, "b")
	e.product(t, "kit", allot.Component{SKU: "a", Quantity: 2}, allot.Component{SKU: "b", Quantity: 1})
	e.channel(t, "web", allot.Generic, false)
	e.channel(t, "b2b", allot.API, true)
	e.channel(t, "manual", allot.Manual, false)
	return e
}

var (
	reserveB2B = service.AllocationParams{Purpose: allot.Reserve, Channels: []allot.AllocationChannel{{Channel: "b2b"}},
		Lines: []allot.Line{{SKU: "a", Quantity: 30}, {SKU: "b", Quantity: 50}}}
	buffer   = service.BufferParams{Channel: "manual", Lines: []allot.Line{{SKU: "a", Quantity: 5}}}
	stopWeb  = service.StopParams{Channels: []string{"web"}, SKUs: []string{"b"}}
	everySKU = service.AllocationParams{Purpose: allot.Reserve, Channels: []allot.AllocationChannel{{Channel: "manual",
		Rule: allot.UseAvailable}}, AllSKUs: &allot.AllSKUs{Quantity: 3}}
)

// A preview refuses what saving refuses, naming the same field, and an
// allocation in the way is named as when saving.
func TestPreviewRefusesWhatSavingRefuses(t *testing.T) {
	t.Parallel()
	e := shop(t)
	bad := service.AllocationParams{Purpose: allot.Reserve, Channels: []allot.AllocationChannel{{Channel: "b2b"}},
		Lines: []allot.Line{{SKU: "a", Quantity: 1}, {SKU: "b", Quantity: -3}}}
	_, err := e.svc.PreviewAllocation(e.ctx, e.who, bad)
	if f := fieldOf(err); f != "lines[1].quantity" {
		t.Errorf("a negative quantity: %v, want the field lines[1].quantity", err)
	}
	_, err = e.svc.PreviewStop(e.ctx, e.who, service.StopParams{Channels: []string{"web"}, SKUs: []string{"nope"}})
	if f := fieldOf(err); f != "skus[0]" {
		t.Errorf("an unknown SKU to stop: %v, want the field skus[0]", err)
	}
	must(e.svc.CreateAllocation(e.ctx, e.who, reserveB2B))(t)
	_, err = e.svc.PreviewAllocation(e.ctx, e.who, reserveB2B)
	if code(err) != allot.Conflict {
		t.Errorf("a conflicting allocation: %v, want a conflict", err)
	}
}

func fieldOf(err error) string {
	if e, ok := err.(*allot.Error); ok {
		return e.Field
	}
	return ""
}
