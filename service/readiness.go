package service

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/store"
)

// StaleReport is how old a warehouse's newest stock report may be before
// readiness says inventory is not synchronised.
const StaleReport = 24 * time.Hour

// Readiness is the spec's section 6 for one channel: four checks, and
// warnings about allocations.
type Readiness struct {
	Channel  string    `json:"channel"`
	Ready    bool      `json:"ready"`
	Checks   []Check   `json:"checks"`
	Warnings []Warning `json:"warnings"`
}

// Check is one of the four things to check before trusting allocations.
type Check struct {
	Name   string   `json:"name"` // connected, products_linked, inventory_synchronised, orders_synchronised
	OK     bool     `json:"ok"`
	Detail string   `json:"detail"`
	Items  []string `json:"items,omitempty"` // what needs fixing: listings, SKUs, orders
}

// Warning is something about an allocation worth a look.
type Warning struct {
	Kind       string `json:"kind"` // backorder_risk, presell_beyond_inbound, reserve_cut
	Allocation int64  `json:"allocation"`
	SKU        string `json:"sku"`
	Channel    string `json:"channel,omitempty"`
	Message    string `json:"message"`
}

// maxWarnings bounds the warnings of one kind per channel.
const maxWarnings = 50

// ReadinessOf computes readiness for every channel (or one, if named).
func (s *Service) ReadinessOf(ctx context.Context, who Actor, channel string) ([]Readiness, error) {
	var out []Readiness
	err := s.read(ctx, who, func(tx *store.Tx) error {
		channels, err := tx.Channels()
		if err != nil {
			return err
		}
		if channel != "" {
			c, err := tx.Channel(channel)
			if err != nil {
				return err
			}
			channels = []store.ChannelRow{c}
		}
		_, wids, err := tx.Warehouses()
		if err != nil {
			return err
		}
		snap, err := tx.Snapshot(nil)
		if err != nil {
			return err
		}
		inbound, perInbound, err := tx.InboundBySKU()
		if err != nil {
			return err
		}
		allocs, err := tx.Allocations(true)
		if err != nil {
			return err
		}
		for _, c := range channels {
			r := Readiness{Channel: c.Code, Warnings: []Warning{}}
			st, err := tx.SyncStateOf(c.ID)
			if err != nil {
				return err
			}
			r.Checks = append(r.Checks, connected(c, st, tx.Now))
			linked, err := productsLinked(tx, c)
			if err != nil {
				return err
			}
			r.Checks = append(r.Checks, linked)
			ids := c.WarehouseIDs
			if c.AllWarehouses {
				ids = wids
			}
			inv, err := inventorySynchronised(tx, ids, snap, tx.Now)
			if err != nil {
				return err
			}
			r.Checks = append(r.Checks, inv)
			ord, err := ordersSynchronised(tx, c)
			if err != nil {
				return err
			}
			r.Checks = append(r.Checks, ord)
			r.Ready = true
			for _, ch := range r.Checks {
				r.Ready = r.Ready && ch.OK
			}
			r.Warnings = warnings(snap, c.Code, allocs, inbound, perInbound)
			out = append(out, r)
		}
		return nil
	})
	return out, err
}

func connected(c store.ChannelRow, st store.SyncState, now time.Time) Check {
	ch := Check{Name: "connected", OK: true}
	required := map[allot.Platform][]string{
		allot.Shopify: {"shop_url", "access_token", "location_id", "webhook_secret"},
		allot.Generic: {"push_url", "secret"},
		allot.File:    {"folder"},
	}[c.Platform]
	var missing []string
	for _, k := range required {
		if v, _ := c.Settings[k].(string); v == "" {
			missing = append(missing, k)
		}
	}
	switch {
	case len(missing) > 0:
		ch.OK = false
		ch.Detail = fmt.Sprintf("settings missing: %v", missing)
		ch.Items = missing
	case len(required) == 0:
		ch.Detail = fmt.Sprintf("%s channel: nothing to connect", c.Platform)
	case st.LastSuccess == nil && st.LastErrorAt == nil:
		ch.OK, ch.Detail = false, "configured; not contacted yet"
	case st.LastErrorAt != nil && (st.LastSuccess == nil || st.LastErrorAt.After(*st.LastSuccess)):
		ch.OK = false
		ch.Detail = fmt.Sprintf("last call failed %s ago: %s", now.Sub(*st.LastErrorAt).Round(time.Second), st.LastError)
	default:
		ch.Detail = fmt.Sprintf("last successful call %s ago", now.Sub(*st.LastSuccess).Round(time.Second))
	}
	if st.Pending > 0 {
		ch.Detail += fmt.Sprintf("; %s waiting to be pushed", plural(st.Pending, "quantity", "quantities"))
		if st.Failing > 0 {
			ch.Detail += fmt.Sprintf(", %d after a failure", st.Failing)
		}
	}
	return ch
}

func productsLinked(tx *store.Tx, c store.ChannelRow) (Check, error) {
	ch := Check{Name: "products_linked", OK: true}
	listings, err := tx.Listings(c.ID)
	if err != nil {
		return ch, err
	}
	bySKU := c.Platform == allot.Manual || c.Platform == allot.API
	if bySKU && len(listings) == 0 {
		ch.Detail = "orders name SKUs directly: no listings needed"
		return ch, nil
	}
	var unlinked []string
	for _, l := range listings {
		if l.ProductID == nil {
			unlinked = append(unlinked, l.ExternalID)
		}
	}
	// Channels that sell by SKU need no listing per product; their orders
	// may still name listings, which must then be linked.
	n, unlisted := 0, []string(nil)
	if !bySKU {
		if n, unlisted, err = tx.UnlistedProducts(c.ID); err != nil {
			return ch, err
		}
	}
	ch.OK = len(unlinked) == 0 && n == 0
	ch.Detail = fmt.Sprintf("%s without a product; %s without a listing", plural(len(unlinked), "listing", "listings"),
		plural(n, "product", "products"))
	if len(unlinked) > 10 {
		unlinked = unlinked[:10]
	}
	for _, l := range unlinked {
		ch.Items = append(ch.Items, "listing:"+l)
	}
	for _, sku := range unlisted {
		ch.Items = append(ch.Items, "sku:"+sku)
	}
	return ch, nil
}

func inventorySynchronised(tx *store.Tx, warehouseIDs []int64, snap *store.Snapshot, now time.Time) (Check, error) {
	ch := Check{Name: "inventory_synchronised", OK: true}
	if len(warehouseIDs) == 0 {
		ch.OK, ch.Detail = false, "no warehouse feeds this channel"
		return ch, nil
	}
	var parts []string
	for _, id := range warehouseIDs {
		code := snap.WarehouseCode[id]
		r, err := tx.Reports(id, code)
		if err != nil {
			return ch, err
		}
		switch {
		case r.LastReport == nil:
			ch.OK = false
			parts = append(parts, fmt.Sprintf("%s: never reported", code))
		case now.Sub(*r.LastReport) > StaleReport:
			ch.OK = false
			parts = append(parts, fmt.Sprintf("%s: last report %s ago", code, now.Sub(*r.LastReport).Round(time.Minute)))
		default:
			parts = append(parts, fmt.Sprintf("%s: last report %s ago", code, now.Sub(*r.LastReport).Round(time.Second)))
		}
		if r.NeverReported > 0 {
			ch.OK = false
			parts[len(parts)-1] += fmt.Sprintf(", %s never reported", plural(r.NeverReported, "SKU", "SKUs"))
			for _, sku := range r.Examples {
				ch.Items = append(ch.Items, "sku:"+sku)
			}
		}
	}
	ch.Detail = strings.Join(parts, "; ")
	return ch, nil
}

func ordersSynchronised(tx *store.Tx, c store.ChannelRow) (Check, error) {
	ch := Check{Name: "orders_synchronised", OK: true}
	o, err := tx.OrdersOf(c.ID)
	if err != nil {
		return ch, err
	}
	last := "no order received yet"
	if o.LastOrder != nil {
		last = "last order received " + o.LastOrder.Format(time.RFC3339)
	}
	ch.OK = o.NeedsAttention == 0
	ch.Detail = fmt.Sprintf("%s; %s in needs attention", last, plural(o.NeedsAttention, "order", "orders"))
	for _, id := range o.Examples {
		ch.Items = append(ch.Items, "order:"+id)
	}
	return ch, nil
}

// warnings lists, for a channel, the allocations worth a look: those whose
// follow_allocation quantity exceeds the stock (backorder risk), presells
// larger than what is inbound, and use_available reserves the stock cut.
func warnings(snap *store.Snapshot, channel string, allocs []store.AllocationRow, inbound map[string]int, perInbound map[int64]map[string]int) []Warning {
	out := []Warning{}
	count := map[string]int{}
	add := func(w Warning) {
		if count[w.Kind] < maxWarnings {
			out = append(out, w)
		}
		count[w.Kind]++
	}
	skus := make([]string, 0, len(snap.SKUs))
	for sku := range snap.SKUs {
		skus = append(skus, sku)
	}
	sort.Strings(skus)
	for _, sku := range skus {
		if len(snap.SKUs[sku].Components) > 0 {
			continue
		}
		a := snap.Covering(channel, sku)
		if a == nil {
			continue
		}
		rem, avail := a.Rem(sku), snap.Available(channel, sku)
		switch {
		case a.Channels[channel] == allot.FollowAllocation && rem > avail && !(a.Purpose == allot.Presell && rem == 0):
			add(Warning{Kind: "backorder_risk", Allocation: a.ID, SKU: sku, Channel: channel,
				Message: fmt.Sprintf("%s %q shows %d of %s on %s with follow_allocation, but only %d are available: orders beyond become backorders",
					a.Purpose, a.Name, rem, sku, channel, avail)})
		case a.Purpose == allot.Reserve && a.Channels[channel] == allot.UseAvailable:
			if cut := snap.Cut(a, channel, sku); cut > 0 {
				add(Warning{Kind: "reserve_cut", Allocation: a.ID, SKU: sku, Channel: channel,
					Message: fmt.Sprintf("reserve %q stands for %d of %s but the stock serves only %d on %s (cut by %d)",
						a.Name, rem, sku, rem-cut, channel, cut)})
			}
		}
		if a.Purpose == allot.Presell {
			q, _ := a.Quantity(sku)
			expected := inbound[sku]
			for _, r := range allocs {
				if r.ID == a.ID && r.Inbound != nil {
					expected = perInbound[*r.Inbound][sku]
				}
			}
			if q > 0 && q > expected {
				add(Warning{Kind: "presell_beyond_inbound", Allocation: a.ID, SKU: sku, Channel: channel,
					Message: fmt.Sprintf("presell %q sells %d of %s but only %d are inbound", a.Name, q, sku, expected)})
			}
		}
	}
	for kind, n := range count {
		if n > maxWarnings {
			out = append(out, Warning{Kind: kind, Message: fmt.Sprintf("and %d more %s warnings", n-maxWarnings, kind)})
		}
	}
	return out
}
