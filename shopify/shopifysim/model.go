package shopifysim

import (
	"strconv"
	"time"
)

type locationRec struct {
	id   int64
	gid  string
	name string
}

type productRec struct {
	id        int64
	title     string
	handle    string
	variants  []*variantRec
	createdAt time.Time
	updatedAt time.Time
}

func (p *productRec) gid() string { return gid("Product", p.id) }

type variantRec struct {
	id        int64
	product   *productRec
	title     string
	sku       string
	barcode   string
	price     string
	position  int
	item      *itemRec
	createdAt time.Time
	updatedAt time.Time
}

func (v *variantRec) gid() string { return gid("ProductVariant", v.id) }

// itemRec is an inventory item and its one inventory level, at the store's
// location.
type itemRec struct {
	id        int64
	levelID   int64
	variant   *variantRec
	available int
	// committed is what open orders hold; on_hand = available + committed.
	committed int
	createdAt time.Time
	updatedAt time.Time
}

func (it *itemRec) gid() string { return gid("InventoryItem", it.id) }

// levelRec is an inventory level: an item at a location.
type levelRec struct {
	item *itemRec
	loc  *locationRec
}

func (l *levelRec) gid() string {
	return "gid://shopify/InventoryLevel/" + strconv.FormatInt(l.item.levelID, 10) +
		"?inventory_item_id=" + strconv.FormatInt(l.item.id, 10)
}

type quantityRec struct {
	level *levelRec
	name  string
	qty   int
}

// shopRec stands for the shop itself; its fields come from the Store.
type shopRec struct{}

// adjustmentGroup is what one applied inventorySetQuantities produced.
type adjustmentGroup struct {
	id        int64
	createdAt time.Time
	reason    string
	reference *string
	changes   []changeRec
}

type changeRec struct {
	item  *itemRec
	loc   *locationRec
	name  string
	delta int
	after int
}

type setPayload struct {
	group      *adjustmentGroup
	userErrors []userError
}

type userError struct {
	code    string
	field   []string
	message string
}

// idemRecord is the first result for an idempotency key, with the input it
// was given, so a retry returns it and a different input is refused.
type idemRecord struct {
	params  string
	payload *setPayload
}

// bucket is Shopify's leaky bucket: it holds up to max points, refills at
// rate points a second, and a query runs only if it holds the requested
// cost.
type bucket struct {
	max       float64
	rate      float64
	available float64
	at        time.Time
}

func (b *bucket) refill(now time.Time) {
	if now.After(b.at) {
		b.available += now.Sub(b.at).Seconds() * b.rate
		if b.available > b.max {
			b.available = b.max
		}
	}
	b.at = now
}
