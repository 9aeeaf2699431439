// Package shopifysim is a Shopify store simulator: it serves the part of
// the Admin GraphQL API (version APIVersion) that allot uses, with
// Shopify's rules and error shapes, and sends order webhooks signed the way
// Shopify signs them. allot's tests and its demo run against it instead of
// a real store.
//
// What it serves: products, productVariants, inventory items and levels,
// locations, nodes, shop, and the inventorySetQuantities mutation with its
// compare-and-swap (changeFromQuantity), the mandatory @idempotent
// directive and the 250-item input limit. Every document is parsed and
// validated against an embedded SDL of that subset; the calculated query
// cost is charged to a leaky bucket exactly as the throttleStatus in the
// response describes it.
//
// What it does not: introspection, any other mutation, REST, multiple
// locations per item, fulfillment, refunds, and the resource-based
// throttles Shopify applies to very large stores.
package shopifysim

import (
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Standard-plan figures of the GraphQL Admin API: a bucket of 2,000 points
// that refills at 100 points a second, and no single query above 1,000.
const (
	DefaultBucketSize  = 2000
	DefaultRestoreRate = 100
	MaxQueryCost       = 1000
	// MaxInputArraySize is the largest list Shopify accepts in any input
	// argument.
	MaxInputArraySize = 250
	// MaxPageSize is the largest first/last a connection accepts.
	MaxPageSize = 250
)

// Options configure a Store.
type Options struct {
	// Domain is the shop's myshopify domain, sent as X-Shopify-Shop-Domain.
	Domain string
	// AccessToken is the only X-Shopify-Access-Token the API accepts.
	AccessToken string
	// LocationID is the gid of the one location every inventory item is
	// stocked at, e.g. "gid://shopify/Location/1".
	LocationID string
	// WebhookSecret signs webhook bodies (X-Shopify-Hmac-Sha256).
	WebhookSecret string
	// BucketSize and RestoreRate are the leaky bucket's maximumAvailable
	// and restoreRate; zero means the standard plan's figures.
	BucketSize  float64
	RestoreRate float64
	// Clock gives the time for the bucket, timestamps and fault windows;
	// nil means time.Now. A fixed clock makes the store deterministic.
	Clock func() time.Time
	// WebhookRetries is how many times a failed delivery is retried
	// (Shopify: 8); zero means 8, negative means none.
	WebhookRetries int
	// WebhookBackoff is the first retry delay, doubled for each further
	// retry and capped at one second; zero means 10ms. Shopify spreads its
	// retries over four hours; the simulator keeps the shape but is fast.
	WebhookBackoff time.Duration
	// WebhookTimeout bounds one delivery attempt (Shopify: 5s); zero means
	// 5s.
	WebhookTimeout time.Duration
}

// Variant describes a variant to create with AddProduct.
type Variant struct {
	SKU       string
	Barcode   string
	Available int
	// Title defaults to the SKU; Price defaults to "10.00".
	Title string
	Price string
}

// Product is a product created by AddProduct, with its gids.
type Product struct {
	ID       string
	Title    string
	Handle   string
	Variants []ProductVariant
}

// ProductVariant is a created variant with its gids.
type ProductVariant struct {
	ID              string
	InventoryItemID string
	SKU             string
	Barcode         string
	Title           string
	Price           string
}

// Stats counts what the API did, for tests.
type Stats struct {
	// Calls is every authenticated request to the GraphQL endpoint.
	Calls int
	// MutationCalls is every mutation document that ran.
	MutationCalls int
	// QuantitiesSet is the number of quantities inventorySetQuantities
	// applied (replays not counted).
	QuantitiesSet int
	// ThrottledCalls were refused with THROTTLED.
	ThrottledCalls int
	// IdempotentReplays were answered from an earlier call with the same
	// idempotency key instead of being applied again.
	IdempotentReplays int
	// FaultedCalls were answered by an injected fault.
	FaultedCalls int
}

// SetRecord is one quantity applied by inventorySetQuantities.
type SetRecord struct {
	Seq             int
	InventoryItemID string
	LocationID      string
	Name            string
	Quantity        int
	Previous        int
	// ChangeFrom is the changeFromQuantity sent, nil when the caller opted
	// out of the compare-and-swap check.
	ChangeFrom     *int
	IdempotencyKey string
	At             time.Time
}

// Store is a simulated Shopify store. It is an http.Handler serving
// POST /admin/api/{version}/graphql.json. All methods are safe for
// concurrent use.
type Store struct {
	opts  Options
	clock func() time.Time

	mu        sync.Mutex
	seq       int64
	shopID    int64
	location  *locationRec
	products  []*productRec
	byGID     map[string]any
	orders    map[int64]*orderRec
	orderSeq  []int64
	orderNum  int
	stats     Stats
	setLog    []SetRecord
	idem      map[string]*idemRecord
	groups    map[int64]*adjustmentGroup
	bucket    bucket
	faults    []*faultState
	webhook   string
	hooks     *deliveryQueue
	uuidSeq   uint64
	requestID uint64

	srv      *http.Server
	ln       net.Listener
	baseURL  string
	closed   chan struct{}
	closeOne sync.Once
}

// New creates an empty store with one location.
func New(opts Options) *Store {
	if opts.Domain == "" {
		opts.Domain = "shopifysim.myshopify.com"
	}
	if opts.LocationID == "" {
		opts.LocationID = "gid://shopify/Location/1"
	}
	if opts.BucketSize <= 0 {
		opts.BucketSize = DefaultBucketSize
	}
	if opts.RestoreRate <= 0 {
		opts.RestoreRate = DefaultRestoreRate
	}
	if opts.WebhookRetries == 0 {
		opts.WebhookRetries = 8
	} else if opts.WebhookRetries < 0 {
		opts.WebhookRetries = 0
	}
	if opts.WebhookBackoff <= 0 {
		opts.WebhookBackoff = 10 * time.Millisecond
	}
	if opts.WebhookTimeout <= 0 {
		opts.WebhookTimeout = 5 * time.Second
	}
	clock := opts.Clock
	if clock == nil {
		clock = time.Now
	}
	s := &Store{
		opts:   opts,
		clock:  clock,
		seq:    1000,
		shopID: 1,
		byGID:  map[string]any{},
		orders: map[int64]*orderRec{},
		idem:   map[string]*idemRecord{},
		groups: map[int64]*adjustmentGroup{},
		closed: make(chan struct{}),
	}
	locNum, _ := legacyID(opts.LocationID)
	s.location = &locationRec{id: locNum, gid: opts.LocationID, name: "Shop location"}
	s.byGID[opts.LocationID] = s.location
	now := clock()
	s.bucket = bucket{max: opts.BucketSize, rate: opts.RestoreRate, available: opts.BucketSize, at: now}
	s.hooks = newDeliveryQueue(s)
	return s
}

// nextID hands out ids from one sequence for every kind of object, so an id
// of one kind never equals an id of another: a client that confuses a
// variant id with a product id is caught.
func (s *Store) nextID() int64 {
	s.seq++
	return s.seq
}

func gid(kind string, id int64) string {
	return "gid://shopify/" + kind + "/" + strconv.FormatInt(id, 10)
}

var gidPattern = regexp.MustCompile(`^gid://shopify/([A-Za-z]+)/(\d+)(\?.*)?$`)

// legacyID is the numeric id inside a gid.
func legacyID(g string) (int64, bool) {
	m := gidPattern.FindStringSubmatch(g)
	if m == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(m[2], 10, 64)
	return n, err == nil
}

// AddProduct creates a product with the given variants. Every variant gets
// an inventory item stocked at the store's location with Available units.
func (s *Store) AddProduct(title string, variants ...Variant) Product {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	p := &productRec{id: s.nextID(), title: title, handle: handleize(title), createdAt: now, updatedAt: now}
	s.products = append(s.products, p)
	s.byGID[p.gid()] = p
	out := Product{ID: p.gid(), Title: title, Handle: p.handle}
	for i, v := range variants {
		if v.Title == "" {
			v.Title = v.SKU
		}
		if v.Price == "" {
			v.Price = "10.00"
		}
		vr := &variantRec{id: s.nextID(), product: p, title: v.Title, sku: v.SKU, barcode: v.Barcode, price: v.Price, position: i + 1, createdAt: now, updatedAt: now}
		it := &itemRec{id: s.nextID(), levelID: s.nextID(), variant: vr, available: v.Available, createdAt: now, updatedAt: now}
		vr.item = it
		p.variants = append(p.variants, vr)
		s.byGID[vr.gid()] = vr
		s.byGID[it.gid()] = it
		out.Variants = append(out.Variants, ProductVariant{
			ID: vr.gid(), InventoryItemID: it.gid(), SKU: v.SKU, Barcode: v.Barcode, Title: v.Title, Price: v.Price,
		})
	}
	return out
}

var nonHandle = regexp.MustCompile(`[^a-z0-9]+`)

func handleize(title string) string {
	return strings.Trim(nonHandle.ReplaceAllString(strings.ToLower(title), "-"), "-")
}

func (s *Store) item(inventoryItemID string) (*itemRec, bool) {
	it, ok := s.byGID[inventoryItemID].(*itemRec)
	return it, ok
}

// Available is the "available" quantity of the inventory item at the
// store's location, or 0 for an unknown item.
func (s *Store) Available(inventoryItemID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if it, ok := s.item(inventoryItemID); ok {
		return it.available
	}
	return 0
}

// SetAvailable changes the available quantity as a merchant would in the
// Shopify admin: it is not an API call, is not logged as one, and is what
// makes a later compare-and-swap from a client go stale.
func (s *Store) SetAvailable(inventoryItemID string, n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	it, ok := s.item(inventoryItemID)
	if !ok {
		return fmt.Errorf("shopifysim: unknown inventory item %q", inventoryItemID)
	}
	it.available = n
	it.updatedAt = s.clock()
	return nil
}

// Stats returns the counters so far.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// SetLog returns every quantity inventorySetQuantities applied, in order,
// so a test can check that no older value overwrote a newer one.
func (s *Store) SetLog() []SetRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SetRecord, len(s.setLog))
	copy(out, s.setLog)
	return out
}

// ThrottleStatus returns the bucket as the next response would report it.
func (s *Store) ThrottleStatus() (maximumAvailable, currentlyAvailable, restoreRate float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bucket.refill(s.clock())
	return s.bucket.max, s.bucket.available, s.bucket.rate
}

// SetWebhook sets the address order webhooks are POSTed to; "" stops
// deliveries (they are still recorded).
func (s *Store) SetWebhook(url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhook = url
}

// Start serves the store on a new listener at 127.0.0.1 and returns its
// base URL, which is what allot's "shop_url" channel setting takes.
func (s *Store) Start() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return s.baseURL, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	s.ln = ln
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.baseURL = "http://" + ln.Addr().String()
	go func() { _ = s.srv.Serve(ln) }()
	return s.baseURL, nil
}

// URL is the base URL given by Start, or "" before it.
func (s *Store) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.baseURL
}

// Close stops the server started by Start, releases requests held by a
// timeout fault and stops webhook deliveries.
func (s *Store) Close() error {
	s.closeOne.Do(func() { close(s.closed) })
	s.hooks.stop()
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv != nil {
		return srv.Close()
	}
	return nil
}

// newUUID returns a UUID-shaped id from a counter, so ids are unique and
// the same across runs.
func (s *Store) newUUID() string {
	s.uuidSeq++
	n := s.uuidSeq
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", uint32(s.shopID), uint16(n>>48), uint16(n>>36)&0xfff, uint16(n>>24)&0xfff, n&0xffffffffffff)
}
