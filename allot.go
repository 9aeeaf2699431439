// Package allot holds the domain of allot, a stock allocation service: the
// things it knows (products, warehouses, channels, allocations, orders) and
// its error type. It does no I/O; the rules live in package engine, storage
// in package store, the use cases in package service and the HTTP API in
// package httpapi.
package allot

import "time"

// MaxQuantity bounds every quantity allot accepts, so that sums of many
// quantities never overflow and absurd figures are refused early.
const MaxQuantity = 1_000_000_000

// Purpose is what an allocation is for.
type Purpose string

const (
	// Reserve sets the quantity aside for the allocation's channels and
	// subtracts it from what every other channel sees.
	Reserve Purpose = "reserve"
	// Presell lets the allocation's channels sell the quantity, stock or
	// not; other channels are not affected.
	Presell Purpose = "presell"
)

// Rule is the auto-adjustment rule of one channel in an allocation.
type Rule string

const (
	// FollowAllocation publishes what the allocation says, whatever the stock.
	FollowAllocation Rule = "follow_allocation"
	// UseAvailable adjusts what the allocation says to the real stock.
	UseAvailable Rule = "use_available"
)

// Payment is the payment state of an order.
type Payment string

const (
	Paid   Payment = "paid"
	Terms  Payment = "terms"  // unpaid, with payment terms (B2B)
	Unpaid Payment = "unpaid" // unpaid, no terms: does not count until paid
)

// OrderState is where an order is in its life.
type OrderState string

const (
	Open             OrderState = "open"
	PartiallyShipped OrderState = "partially_shipped"
	Shipped          OrderState = "shipped"
	Cancelled        OrderState = "cancelled"
)

// OrderKind says how an order reached allot.
type OrderKind string

const (
	Placed   OrderKind = "placed"   // checked against what its channel may sell
	Imported OrderKind = "imported" // already sold on the channel: always accepted
	Hold     OrderKind = "hold"     // units kept for a while, then an order or nothing
)

// Platform is the kind of place a channel is.
type Platform string

const (
	Shopify Platform = "shopify"
	Generic Platform = "generic"
	Manual  Platform = "manual"
	API     Platform = "api"
	File    Platform = "file"
)

// Platforms lists every platform, in the order the docs give them.
var Platforms = []Platform{Shopify, Generic, Manual, API, File}

// Product is a physical item (a SKU) or, when Components is not empty, a
// bundle made of other products with no stock of its own.
type Product struct {
	SKU        string      `json:"sku"`
	Name       string      `json:"name"`
	Barcode    string      `json:"barcode,omitempty"`
	Components []Component `json:"components,omitempty"`
}

// IsBundle reports whether p is a bundle.
func (p Product) IsBundle() bool { return len(p.Components) > 0 }

// Component is one part of a bundle: a SKU and how many of it one bundle holds.
type Component struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

// Warehouse is a place where stock lies.
type Warehouse struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// StockReport is what a warehouse says it holds of one SKU at a time.
type StockReport struct {
	Warehouse   string    `json:"warehouse"`
	SKU         string    `json:"sku"`
	InWarehouse int       `json:"in_warehouse"`
	Damaged     int       `json:"damaged"`
	AsOf        time.Time `json:"as_of"`
}

// Stock is the state of one SKU in one warehouse, with what allot derives
// from it.
type Stock struct {
	Warehouse   string    `json:"warehouse"`
	SKU         string    `json:"sku"`
	InWarehouse int       `json:"in_warehouse"`
	Damaged     int       `json:"damaged"`
	Sellable    int       `json:"sellable"`
	Committed   int       `json:"committed"`
	Available   int       `json:"available"`
	Backordered int       `json:"backordered"`
	AsOf        time.Time `json:"as_of"`
	// ChangedAt is the time of the newest report, shipment or receipt
	// applied; a report older than it is ignored.
	ChangedAt time.Time `json:"changed_at"`
}

// Line is one line of an order, a hold or an inbound shipment: a SKU (or, on
// orders, a channel's listing) and a quantity.
type Line struct {
	SKU      string `json:"sku,omitempty"`
	Listing  string `json:"listing,omitempty"`
	Quantity int    `json:"quantity"`
}

// Inbound is a shipment on its way to a warehouse.
type Inbound struct {
	ID         int64      `json:"id"`
	Warehouse  string     `json:"warehouse"`
	ExpectedAt *time.Time `json:"expected_at,omitempty"`
	Lines      []Line     `json:"lines"`
	Received   bool       `json:"received"`
	ReceivedAt *time.Time `json:"received_at,omitempty"`
}

// Channel is a place where the merchant sells.
type Channel struct {
	Code        string         `json:"code"`
	Name        string         `json:"name"`
	Platform    Platform       `json:"platform"`
	Warehouses  []string       `json:"warehouses"` // in order; empty means all
	CountUnpaid bool           `json:"count_unpaid"`
	Settings    map[string]any `json:"settings,omitempty"`
	Rules       ChannelRules   `json:"rules"`
}

// ChannelRules shape a published quantity after the allocations: first
// Percent (rounded down), then ZeroAt, then Max. A nil field is unset.
type ChannelRules struct {
	Percent *int `json:"percent"`
	ZeroAt  *int `json:"zero_at"`
	Max     *int `json:"max"`
}

// Empty reports whether no rule is set.
func (r ChannelRules) Empty() bool { return r.Percent == nil && r.ZeroAt == nil && r.Max == nil }

// Over returns the rules of r, each unset one taken from base: a
// (channel, SKU) pair's rules win over its channel's, field by field.
func (r ChannelRules) Over(base ChannelRules) ChannelRules {
	if r.Percent == nil {
		r.Percent = base.Percent
	}
	if r.ZeroAt == nil {
		r.ZeroAt = base.ZeroAt
	}
	if r.Max == nil {
		r.Max = base.Max
	}
	return r
}

// Listing is one item on a channel, linked to a product or a bundle.
type Listing struct {
	Channel    string `json:"channel"`
	ExternalID string `json:"external_id"`
	SKU        string `json:"sku,omitempty"` // empty: not linked
	Enabled    bool   `json:"enabled"`
}

// Allocation is a decision about what some channels may show of some SKUs:
// see the spec, section 3.
type Allocation struct {
	ID       int64               `json:"id"`
	Name     string              `json:"name"`
	Note     string              `json:"note,omitempty"`
	Purpose  Purpose             `json:"purpose"`
	Channels []AllocationChannel `json:"channels"`
	Lines    []AllocationLine    `json:"lines"`
	AllSKUs  *AllSKUs            `json:"all_skus,omitempty"`
	Priority int                 `json:"priority"`
	StartsAt *time.Time          `json:"starts_at,omitempty"`
	EndsAt   *time.Time          `json:"ends_at,omitempty"`
	// Inbound ties a presell to a shipment: it ends when that is received.
	Inbound   *int64    `json:"inbound,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	Active    bool      `json:"active"`
}

// AllocationChannel is one channel of an allocation and its rule.
type AllocationChannel struct {
	Channel string `json:"channel"`
	Rule    Rule   `json:"rule"`
}

// AllocationLine is the quantity of an allocation for one SKU, with what its
// channels' orders have consumed of it.
type AllocationLine struct {
	SKU       string `json:"sku"`
	Quantity  int    `json:"quantity"`
	Consumed  int    `json:"consumed"`
	Remaining int    `json:"remaining"`
}

// AllSKUs is the one quantity of an allocation that covers every SKU.
type AllSKUs struct {
	Quantity int `json:"quantity"`
}

// Order is a channel's order (or a hold) as allot knows it.
type Order struct {
	ID             int64       `json:"id"`
	Channel        string      `json:"channel"`
	ExternalID     string      `json:"external_id"`
	Kind           OrderKind   `json:"kind"`
	Payment        Payment     `json:"payment"`
	State          OrderState  `json:"state"`
	Counts         bool        `json:"counts"`
	NeedsAttention bool        `json:"needs_attention"`
	Oversold       bool        `json:"oversold"`
	Warehouse      string      `json:"warehouse,omitempty"`
	Lines          []OrderLine `json:"lines"`
	ExpiresAt      *time.Time  `json:"expires_at,omitempty"`
	CreatedAt      time.Time   `json:"created_at"`
	UpdatedAt      time.Time   `json:"updated_at"`
}

// OrderLine is one line of an order as ordered (a product, a bundle or a
// listing) with its progress.
type OrderLine struct {
	SKU       string `json:"sku,omitempty"`
	Listing   string `json:"listing,omitempty"`
	Quantity  int    `json:"quantity"`
	Shipped   int    `json:"shipped"`
	Cancelled int    `json:"cancelled"`
	// Allocation is the allocation this line consumed, if any.
	Allocation *int64 `json:"allocation,omitempty"`
}

// Open returns the units of l neither shipped nor cancelled.
func (l OrderLine) Open() int { return l.Quantity - l.Shipped - l.Cancelled }

// HistoryEntry is one change in the audit history.
type HistoryEntry struct {
	ID      int64          `json:"id"`
	At      time.Time      `json:"at"`
	Actor   string         `json:"actor"`
	Action  string         `json:"action"`
	SKU     string         `json:"sku,omitempty"`
	Channel string         `json:"channel,omitempty"`
	Summary string         `json:"summary"`
	Detail  map[string]any `json:"detail,omitempty"`
}
