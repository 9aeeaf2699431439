package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/allot/allot"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// world builds a State with one warehouse "w1" feeding channels b2b, b2c,
// manual and amazon, and one SKU "tee" with the given available stock.
func world(available int) *State {
	st := &State{Now: t0, Channels: map[string]*Channel{}, SKUs: map[string]*SKU{}}
	for _, c := range []string{"b2b", "b2c", "manual", "amazon"} {
		st.Channels[c] = &Channel{Code: c, Warehouses: []string{"w1"}}
	}
	st.SKUs["tee"] = &SKU{Code: "tee", Stock: map[string]Level{"w1": {InWarehouse: available}}}
	return st
}

func (st *State) alloc(id int64, purpose allot.Purpose, rule allot.Rule, qty int, channels ...string) *Allocation {
	a := &Allocation{ID: id, Seq: id, Name: strings.Join(channels, "+"), Purpose: purpose,
		Channels: map[string]allot.Rule{}, Lines: map[string]int{"tee": qty}, Consumed: map[string]int{}}
	for _, c := range channels {
		a.Channels[c] = rule
	}
	st.Allocations = append(st.Allocations, a)
	st.indexed = false
	return a
}

func expect(t *testing.T, st *State, want map[string]int) {
	t.Helper()
	st.indexed = false
	for c, q := range want {
		if got := st.Published(c, "tee"); got != q {
			t.Errorf("%s: published %d, want %d (%s)", c, got, q, st.Explain(c, "tee").Text)
		}
	}
}

func TestWorkedExample1ReservesFollowAllocation(t *testing.T) {
	st := world(100)
	b2b := st.alloc(1, allot.Reserve, allot.FollowAllocation, 30, "b2b")
	st.alloc(2, allot.Reserve, allot.FollowAllocation, 50, "b2c")
	st.alloc(3, allot.Reserve, allot.FollowAllocation, 30, "manual")
	expect(t, st, map[string]int{"b2b": 30, "b2c": 50, "manual": 30, "amazon": 0})

	// A b2b order of 5 units: committed and consumed.
	st.SKUs["tee"].Stock["w1"] = Level{InWarehouse: 100, Committed: 5}
	b2b.Consumed["tee"] = 5
	expect(t, st, map[string]int{"b2b": 25, "b2c": 50, "manual": 30, "amazon": 0})
}

func TestWorkedExample2ReservesUseAvailableServedInCreationOrder(t *testing.T) {
	st := world(100)
	st.alloc(1, allot.Reserve, allot.UseAvailable, 30, "b2b")
	st.alloc(2, allot.Reserve, allot.UseAvailable, 50, "b2c")
	st.alloc(3, allot.Reserve, allot.UseAvailable, 30, "manual")
	expect(t, st, map[string]int{"b2b": 30, "b2c": 50, "manual": 20, "amazon": 0})
}

func TestReserveUseAvailableServesInPriorityOrder(t *testing.T) {
	st := world(100)
	st.alloc(1, allot.Reserve, allot.UseAvailable, 30, "b2b").Priority = 5
	st.alloc(2, allot.Reserve, allot.UseAvailable, 50, "b2c").Priority = 5
	st.alloc(3, allot.Reserve, allot.UseAvailable, 30, "manual").Priority = 1
	expect(t, st, map[string]int{"manual": 30, "b2b": 30, "b2c": 40})
}

func TestWorkedExample3ReserveUseAvailableComesBackWithStock(t *testing.T) {
	st := world(20)
	st.alloc(1, allot.Reserve, allot.UseAvailable, 30, "b2b")
	expect(t, st, map[string]int{"b2b": 20, "b2c": 0, "manual": 0, "amazon": 0})
	st.SKUs["tee"].Stock["w1"] = Level{InWarehouse: 70}
	expect(t, st, map[string]int{"b2b": 30, "b2c": 40, "manual": 40, "amazon": 40})
}

func TestWorkedExample4PresellBackordersThenStockArrives(t *testing.T) {
	for _, rule := range []allot.Rule{allot.FollowAllocation, allot.UseAvailable} {
		st := world(0)
		p := st.alloc(1, allot.Presell, rule, 150, "b2c")
		if rule == allot.FollowAllocation {
			expect(t, st, map[string]int{"b2c": 150, "b2b": 0, "amazon": 0})
		}
		st.SKUs["tee"].Stock["w1"] = Level{InWarehouse: 0, Committed: 150}
		p.Consumed["tee"] = 150
		if got := st.SKUs["tee"].Stock["w1"].Backordered(); got != 150 {
			t.Fatalf("backordered %d, want 150", got)
		}
		expect(t, st, map[string]int{"b2c": 0})
		st.SKUs["tee"].Stock["w1"] = Level{InWarehouse: 200, Committed: 150}
		want := map[string]int{"b2b": 50, "amazon": 50, "manual": 50, "b2c": 0}
		if rule == allot.UseAvailable {
			want["b2c"] = 50
		}
		expect(t, st, want)
	}
}

func TestWorkedExample5StopSellingOnOneChannel(t *testing.T) {
	st := world(80)
	st.alloc(1, allot.Presell, allot.FollowAllocation, 0, "amazon")
	expect(t, st, map[string]int{"amazon": 0, "b2c": 80, "b2b": 80, "manual": 80})
}

func TestBufferWithoutChannelIsSubtractedEverywhere(t *testing.T) {
	st := world(10)
	st.alloc(1, allot.Reserve, allot.UseAvailable, 3)
	expect(t, st, map[string]int{"b2c": 7, "amazon": 7})
}

func TestAllocationOutsideItsWindowIsIgnored(t *testing.T) {
	st := world(10)
	a := st.alloc(1, allot.Presell, allot.FollowAllocation, 0, "b2c")
	later := t0.Add(time.Hour)
	a.StartsAt = &later
	expect(t, st, map[string]int{"b2c": 10})
	st.Now = later
	expect(t, st, map[string]int{"b2c": 0})
	a.EndsAt = &later
	expect(t, st, map[string]int{"b2c": 10})
}

func TestAllSKUAllocationCoversEverySKU(t *testing.T) {
	st := world(10)
	st.SKUs["cap"] = &SKU{Code: "cap", Stock: map[string]Level{"w1": {InWarehouse: 4}}}
	zero := 0
	st.Allocations = append(st.Allocations, &Allocation{ID: 9, Purpose: allot.Presell,
		Channels: map[string]allot.Rule{"amazon": allot.FollowAllocation}, AllSKUs: &zero, Consumed: map[string]int{}})
	for _, sku := range []string{"tee", "cap"} {
		if q := st.Published("amazon", sku); q != 0 {
			t.Errorf("amazon %s = %d, want 0", sku, q)
		}
	}
	if q := st.Published("b2c", "cap"); q != 4 {
		t.Errorf("b2c cap = %d, want 4", q)
	}
}

func TestChannelRulesApplyPercentThenZeroAtThenMax(t *testing.T) {
	p, z, m := 50, 5, 40
	cases := []struct {
		available int
		rules     allot.ChannelRules
		want      int
	}{
		{100, allot.ChannelRules{Percent: &p}, 50},
		{99, allot.ChannelRules{Percent: &p}, 49},
		{10, allot.ChannelRules{Percent: &p, ZeroAt: &z}, 0},
		{12, allot.ChannelRules{Percent: &p, ZeroAt: &z}, 6},
		{100, allot.ChannelRules{Percent: &p, ZeroAt: &z, Max: &m}, 40},
		{5, allot.ChannelRules{ZeroAt: &z}, 0},
	}
	for _, c := range cases {
		st := world(c.available)
		st.Channels["b2c"].Rules = c.rules
		if got := st.Published("b2c", "tee"); got != c.want {
			t.Errorf("A=%d rules %+v: %d, want %d", c.available, c.rules, got, c.want)
		}
	}
}

func TestPairRuleWinsOverChannelRuleFieldByField(t *testing.T) {
	st := world(100)
	p50, p10, m := 50, 10, 8
	st.Channels["b2c"].Rules = allot.ChannelRules{Percent: &p50, Max: &m}
	st.SKUs["tee"].Rules = map[string]allot.ChannelRules{"b2c": {Percent: &p10}}
	// percent 10% of 100 = 10, then the channel's max 8.
	if got := st.Published("b2c", "tee"); got != 8 {
		t.Fatalf("got %d, want 8: %s", got, st.Explain("b2c", "tee").Text)
	}
}

func TestBundlePublishesWholeBundlesOfItsComponents(t *testing.T) {
	st := world(10)
	st.SKUs["cap"] = &SKU{Code: "cap", Stock: map[string]Level{"w1": {InWarehouse: 7}}}
	st.SKUs["kit"] = &SKU{Code: "kit", Components: []allot.Component{{SKU: "tee", Quantity: 2}, {SKU: "cap", Quantity: 1}}}
	if got := st.Published("b2c", "kit"); got != 5 {
		t.Fatalf("kit = %d, want 5", got)
	}
	st.alloc(1, allot.Presell, allot.FollowAllocation, 0, "b2c")
	if got := st.Published("b2c", "kit"); got != 0 {
		t.Fatalf("kit with tee stopped = %d, want 0", got)
	}
}

func TestAvailableSumsTheChannelsWarehousesOnly(t *testing.T) {
	st := world(0)
	st.SKUs["tee"].Stock = map[string]Level{"w1": {InWarehouse: 8}, "w2": {InWarehouse: 7, Damaged: 2}, "w3": {InWarehouse: 100}}
	st.Channels["b2c"].Warehouses = []string{"w2", "w1"}
	if got := st.Published("b2c", "tee"); got != 13 {
		t.Fatalf("got %d, want 13", got)
	}
	if w := st.AssignWarehouse("b2c", map[string]int{"tee": 5}); w != "w2" {
		t.Fatalf("assigned %q, want w2", w)
	}
	if w := st.AssignWarehouse("b2c", map[string]int{"tee": 6}); w != "w1" {
		t.Fatalf("assigned %q, want w1 (first that can ship)", w)
	}
	if w := st.AssignWarehouse("b2c", map[string]int{"tee": 60}); w != "w2" {
		t.Fatalf("assigned %q, want w2 (none can: the first)", w)
	}
}

func TestExplanationNamesEveryTerm(t *testing.T) {
	st := world(100)
	st.alloc(1, allot.Reserve, allot.FollowAllocation, 30, "b2b").Name = "B2B"
	st.alloc(2, allot.Reserve, allot.UseAvailable, 28, "manual").Name = "Manual"
	e := st.Explain("b2c", "tee")
	want := `b2c 42 = available 100 − reserve "B2B" 30 − reserve "Manual" 28`
	if e.Text != want || e.Quantity != 42 {
		t.Fatalf("got %q (%d), want %q", e.Text, e.Quantity, want)
	}
}

func TestLevelBackorderedAndAvailable(t *testing.T) {
	l := Level{InWarehouse: 10, Damaged: 2, Committed: 12}
	if l.Sellable() != 8 || l.Available() != 0 || l.Backordered() != 4 {
		t.Fatalf("sellable %d available %d backordered %d", l.Sellable(), l.Available(), l.Backordered())
	}
}
