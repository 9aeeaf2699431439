package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/engine"
	"github.com/allot/allot/store"
)

// Placed orders, and imports of new orders, go through group commit: the orders that arrive while a
// transaction is running wait, then are checked one after the other, in
// arrival order, against one snapshot of the stock that each accepted
// order updates, and are written in one transaction. Each caller gets its
// answer only after that transaction committed, so every acknowledged
// order is durable, and the check is exactly the one-at-a-time check: an
// order sees every order accepted before it. What it saves is a commit
// (an fsync) and a snapshot per order: under a flash sale, one per group.

// beforeLock, set by tests, runs in a group's transaction between its
// reads of the definitions and its product lock: where a change committed
// by another transaction goes unseen.
var beforeLock atomic.Pointer[func()]

// maxGroup bounds the orders of one transaction.
const maxGroup = 512

type placeRequest struct {
	who  Actor
	kind allot.OrderKind // Placed or Imported
	p    OrderParams
	done chan placeResult
}

type placeResult struct {
	order   allot.Order
	created bool
	err     error
}

// placer queues placed orders for the group-commit loop.
type placer struct {
	once  sync.Once
	queue chan *placeRequest
	stop  chan struct{}
	done  chan struct{}
}

func (s *Service) startPlacer() *placer {
	s.placer.once.Do(func() {
		s.placer.queue = make(chan *placeRequest, 4*maxGroup)
		s.placer.stop = make(chan struct{})
		s.placer.done = make(chan struct{})
		n := s.placers()
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() { defer wg.Done(); s.placeLoop() }()
		}
		go func() { wg.Wait(); close(s.placer.done) }()
	})
	return &s.placer
}

// Close stops the group-commit loop once the orders queued are answered.
func (s *Service) Close() {
	if s.placer.queue == nil {
		return
	}
	select {
	case <-s.placer.stop:
	default:
		close(s.placer.stop)
	}
	<-s.placer.done
}

// placeLoop takes the orders queued, a group at a time, grouped by who
// placed them.
func (s *Service) placeLoop() {
	for {
		var first *placeRequest
		select {
		case first = <-s.placer.queue:
		case <-s.placer.stop:
			// Answer what is still queued, then stop.
			for {
				select {
				case r := <-s.placer.queue:
					s.placeGroup([]*placeRequest{r})
				default:
					return
				}
			}
		}
		batch := []*placeRequest{first}
	drain:
		for len(batch) < maxGroup {
			select {
			case r := <-s.placer.queue:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		groups := map[Actor][]*placeRequest{}
		var order []Actor
		for _, r := range batch {
			if _, ok := groups[r.who]; !ok {
				order = append(order, r.who)
			}
			groups[r.who] = append(groups[r.who], r)
		}
		for _, who := range order {
			s.placeGroup(groups[who])
		}
	}
}

// placeGroup places one actor's orders in one transaction and answers each.
func (s *Service) placeGroup(reqs []*placeRequest) {
	results := make([]placeResult, len(reqs))
	place := func(ahead bool) error {
		return s.write(context.Background(), reqs[0].who, func(tx *store.Tx) error {
			clear(results)
			return placeAll(tx, reqs, results, s.Settle, ahead)
		})
	}
	err := place(s.DB.Engine() == "postgres" && len(reqs) >= aheadFrom)
	if errors.Is(err, errDecidedOtherwise) {
		err = place(false)
	}
	if err != nil && len(reqs) > 1 && allot.ErrorCode(err) == allot.Internal {
		// The database refused the group: place each alone, so that one
		// order's trouble is not everyone's.
		for _, r := range reqs {
			s.placeGroup([]*placeRequest{r})
		}
		return
	}
	for i, r := range reqs {
		if err != nil {
			results[i] = placeResult{err: err}
		}
		r.done <- results[i]
	}
}

// placeAll checks and writes a group of placed orders: results[i] is the
// answer to reqs[i]. Refused orders change nothing. With ahead, the orders
// are written before the lock (see writeAhead).
func placeAll(tx *store.Tx, reqs []*placeRequest, results []placeResult, settle time.Duration, ahead bool) error {
	// Channels, products and rules as kept between groups while unchanged.
	if err := tx.KeepDefinitions(); err != nil {
		return err
	}
	channels, err := tx.Channels()
	if err != nil {
		return err
	}
	byCode := map[string]store.ChannelRow{}
	for _, c := range channels {
		byCode[c.Code] = c
	}
	// What the orders name, read once for the group.
	keys := map[int64][]string{}
	lines := map[int64][][]allot.Line{}
	for i, r := range reqs {
		ch, ok := byCode[r.p.Channel]
		if !ok {
			results[i].err = allot.FieldError("channel", "unknown channel %q", r.p.Channel)
			continue
		}
		keys[ch.ID] = append(keys[ch.ID], r.p.ExternalID)
		lines[ch.ID] = append(lines[ch.ID], r.p.Lines)
	}
	existing := map[int64]map[string]*store.OrderRow{}
	for id, ks := range keys {
		if existing[id], err = tx.OrdersByKeys(id, ks); err != nil {
			return err
		}
	}
	res := newResolver()
	if err := res.loadMany(tx, lines); err != nil {
		return err
	}
	orders := make([]*store.OrderRow, len(reqs))
	var ids []int64
	var later []int // imports of orders that exist: applied one by one after the group
	seen := map[[2]string]bool{}
	for i, r := range reqs {
		if results[i].err != nil {
			continue
		}
		ch := byCode[r.p.Channel]
		key := [2]string{ch.Code, r.p.ExternalID}
		if r.kind == allot.Imported && (existing[ch.ID][r.p.ExternalID] != nil || seen[key]) {
			later = append(later, i)
			continue
		}
		seen[key] = true
		o := &store.OrderRow{ChannelID: ch.ID, Channel: ch.Code, ExternalID: r.p.ExternalID, Kind: r.kind, Payment: r.p.Payment,
			SourceUpdatedAt: r.p.UpdatedAt}
		if o.Lines, err = res.resolve(tx, ch, r.p.Lines, r.kind == allot.Placed); err != nil {
			if allot.ErrorCode(err) == allot.Internal {
				return err
			}
			results[i].err = err
			continue
		}
		o.NeedsAttention = unresolved(o)
		if r.p.Cancelled {
			for j := range o.Lines {
				o.Lines[j].Cancelled = o.Lines[j].Quantity
			}
		}
		orders[i] = o
		ids = append(ids, unitProducts(o)...)
	}
	// What orders do not change is read before the products are locked;
	// the stock and what orders took of it, after: the lock is held for
	// the counters and the writes alone.
	var snap *store.Snapshot
	var scope []int64
	var listings []store.PushListing // of the products and the bundles made of them
	if len(ids) > 0 {
		// The bundles too: their listings' pushes are queued with the rest.
		if scope, err = tx.WithBundles(ids); err != nil {
			return err
		}
		if snap, err = tx.SnapshotDefinitions(scope); err != nil {
			return err
		}
		if listings, err = tx.PlanListings(scope); err != nil {
			return err
		}
		snap.Name(listings)
	}
	if err := tx.OrderIDsAhead(len(reqs)); err != nil {
		return err
	}
	var written []*store.OrderRow // before the lock
	if ahead && snap != nil && len(later) == 0 {
		if written, err = writeAhead(tx, scope, byCode, reqs, orders, existing); err != nil {
			return err
		}
	}
	if f := beforeLock.Load(); f != nil {
		(*f)()
	}
	if err := tx.LockAndReadCounters(ids, snap); err != nil {
		return err
	}
	d := decide(snap, byCode, reqs, orders, existing, results)
	accepted, dupOf, created, total := d.accepted, d.dupOf, d.created, d.total
	if written != nil {
		if !sameOrders(written, created) {
			return errDecidedOtherwise
		}
		for i, o := range created {
			o.ID, o.CreatedAt, o.UpdatedAt = written[i].ID, written[i].CreatedAt, written[i].UpdatedAt
		}
	}
	if len(created) > 0 {
		if written == nil {
			if err := tx.InsertOrders(created); err != nil {
				return err
			}
		}
		if err := applyDelta(tx, contribution{}, total); err != nil {
			return err
		}
	}
	if len(created) > 0 && snap != nil {
		all, err := planPushes(tx, snap, listings, settle)
		if err != nil {
			return err
		}
		if all {
			tx.PlannedHere(ids)
		}
	}
	if written == nil {
		recordOrders(tx, created)
	}
	// Imports of orders that exist, now that the group's new ones are
	// written: each sees them.
	for _, i := range later {
		o, isNew, err := importOrder(tx, reqs[i].p, "")
		if err != nil {
			if allot.ErrorCode(err) == allot.Internal {
				return err
			}
			results[i].err = err
			continue
		}
		results[i] = placeResult{order: o.Public(), created: isNew}
	}
	for _, i := range accepted {
		results[i] = placeResult{order: orders[i].Public(), created: true}
	}
	for i, j := range dupOf {
		results[i] = placeResult{order: orders[j].Public()}
	}
	return nil
}

// aheadFrom is the fewest orders of a group written ahead of its lock. A
// group that large formed while others held the lock: orders come faster
// than groups commit, and the time the lock is held is what limits them.
// A smaller one would only pay the two round trips more of writeAhead (its
// read of the counters, its inserts sent apart from the commit).
const aheadFrom = 16

// errDecidedOtherwise ends a group's transaction whose orders, written
// before the lock, came out otherwise once checked under it: the group is
// placed again, its orders written under the lock.
var errDecidedOtherwise = errors.New("the orders written ahead were decided otherwise under the lock")

// writeAhead writes, on PostgreSQL, a group's orders before it locks
// their products: decided on the stock as committed then, on copies of
// orders, and written with their history. A flash sale's group held its
// product's lock about 4 ms, more than half of it for the server to write
// its orders, lines, units and history, while the next group waited.
// Under the lock every order is decided again on the counters read there,
// which alone count; if any comes out otherwise (the stock ran out, an
// allocation filled, a change committed meanwhile), the transaction is
// rolled back (errDecidedOtherwise). Rows written ahead are the group's
// own until its commit: no other transaction sees them, and one that
// inserts the same order waits for the commit, as it did for the rows
// written under the lock.
func writeAhead(tx *store.Tx, scope []int64, byCode map[string]store.ChannelRow, reqs []*placeRequest,
	orders []*store.OrderRow, existing map[int64]map[string]*store.OrderRow) ([]*store.OrderRow, error) {
	snap, err := tx.SnapshotDefinitions(scope)
	if err != nil {
		return nil, err
	}
	if err := tx.ReadCounters(snap); err != nil {
		return nil, err
	}
	copies := make([]*store.OrderRow, len(orders))
	for i, o := range orders {
		if o != nil {
			copies[i] = o.Clone()
		}
	}
	d := decide(snap, byCode, reqs, copies, existing, make([]placeResult, len(reqs)))
	if len(d.created) == 0 {
		return nil, nil
	}
	if err := tx.InsertOrders(d.created); err != nil {
		return nil, err
	}
	recordOrders(tx, d.created)
	return d.created, tx.WriteNow()
}

// sameOrders is whether the orders written ahead are those decided under
// the lock, row for row: all but what writing them set.
func sameOrders(written, decided []*store.OrderRow) bool {
	if len(written) != len(decided) {
		return false
	}
	for i, w := range written {
		a, b := *w, *decided[i]
		a.ID, a.CreatedAt, a.UpdatedAt = 0, time.Time{}, time.Time{}
		b.ID, b.CreatedAt, b.UpdatedAt = 0, time.Time{}, time.Time{}
		if !reflect.DeepEqual(a, b) {
			return false
		}
	}
	return true
}

// decided is what decide made of a group's orders.
type decided struct {
	accepted map[[2]string]int // (channel, external id) → index of the accepted order
	dupOf    map[int]int       // a repeated order → the index of the one accepted
	created  []*store.OrderRow
	total    contribution
}

// decide checks a group's orders one after the other, in arrival order,
// against snap, which each accepted order updates: it completes the
// accepted orders[i], and answers in results[i] those it refuses or that
// exist.
func decide(snap *store.Snapshot, byCode map[string]store.ChannelRow, reqs []*placeRequest, orders []*store.OrderRow,
	existing map[int64]map[string]*store.OrderRow, results []placeResult) decided {
	allocs := map[int64]*engine.Allocation{}
	if snap != nil {
		for _, a := range snap.Allocations {
			allocs[a.ID] = a
		}
	}
	accepted := map[[2]string]int{}
	dupOf := map[int]int{}
	var created []*store.OrderRow
	total := contribution{committed: map[[2]int64]int{}, consumed: map[[2]int64]int{}}
	for i, r := range reqs {
		o := orders[i]
		if o == nil {
			continue
		}
		ch := byCode[r.p.Channel]
		key := [2]string{ch.Code, o.ExternalID}
		prev := existing[ch.ID][o.ExternalID]
		if j, ok := accepted[key]; ok {
			// Placed twice in one group: the same order is answered once
			// it is written, another is a conflict.
			if sameOrder(orders[j], r.p) {
				dupOf[i] = j
				continue
			}
			prev = orders[j]
		}
		if prev != nil {
			if prev.Kind == allot.Placed && sameOrder(prev, r.p) {
				results[i] = placeResult{order: prev.Public()}
			} else {
				results[i].err = &allot.Error{Code: allot.Conflict, Field: "external_id",
					Message: fmt.Sprintf("channel %s already has a different order %q", ch.Code, o.ExternalID)}
			}
			continue
		}
		skus, demand := demandOf(o)
		if r.kind == allot.Placed {
			if short := snap.Shortfalls(ch.Code, skus, demand); len(short) > 0 {
				results[i].err = &allot.Error{Code: allot.InsufficientStock, Shortfall: short,
					Message: fmt.Sprintf("not enough to sell on %s: %s", ch.Code, describeShortfall(short))}
				continue
			}
		}
		if !o.NeedsAttention {
			assign(snap, ch, o)
		}
		o.Counts = counts(o, ch.CountUnpaid)
		if r.kind == allot.Imported && o.Counts {
			// Sold already: accepted, and flagged if beyond what was shown.
			o.Oversold = snap.Exceeds(ch.Code, demand)
		}
		o.State = stateOf(o)
		c := contributionOf(o)
		total.add(c)
		applyToSnapshot(snap, allocs, o, c)
		accepted[key] = i
		created = append(created, o)
	}
	return decided{accepted: accepted, dupOf: dupOf, created: created, total: total}
}

// recordOrders records the group's new orders in the history.
func recordOrders(tx *store.Tx, created []*store.OrderRow) {
	for _, o := range created {
		if o.Kind == allot.Placed {
			recordOrder(tx, o, "order.place", fmt.Sprintf("order %s placed on %s: %s", o.ExternalID, o.Channel, describeLines(o)))
			continue
		}
		summary := fmt.Sprintf("order %s imported from %s: %s", o.ExternalID, o.Channel, describeLines(o))
		if o.NeedsAttention {
			summary += "; needs attention: a listing is not linked"
		}
		if o.Oversold {
			summary += "; oversold"
		}
		recordOrder(tx, o, "order.import", summary)
	}
}

// add sums another order's contribution into c.
func (c contribution) add(o contribution) {
	for k, n := range o.committed {
		c.committed[k] += n
	}
	for k, n := range o.consumed {
		c.consumed[k] += n
	}
}

// applyToSnapshot makes the snapshot see an order just accepted, so that
// the next order of the group is checked against the stock after it.
func applyToSnapshot(snap *store.Snapshot, allocs map[int64]*engine.Allocation, o *store.OrderRow, c contribution) {
	for k, n := range c.committed {
		sku := snap.SKUs[snap.SKUOf[k[0]]]
		w := snap.WarehouseCode[k[1]]
		if sku == nil {
			continue
		}
		l := sku.Stock[w]
		l.Committed += n
		sku.Stock[w] = l
	}
	for k, n := range c.consumed {
		if a := allocs[k[0]]; a != nil {
			a.Consumed[snap.SKUOf[k[1]]] += n
		}
	}
}

// placers is how many groups are placed at once. On PostgreSQL two: while
// one group holds the product lock and writes, the next reads what it
// needs and waits on the lock, so the lock is never idle. SQLite has one
// writer: one.
func (s *Service) placers() int {
	if n, err := strconv.Atoi(os.Getenv("ALLOT_PLACERS")); err == nil && n > 0 {
		return n
	}
	if s.DB.Engine() == "postgres" {
		return 2
	}
	return 1
}

// planPushes records, in the group's own transaction, the pushes its
// orders call for: the snapshot at hand already holds their products'
// quantities, so the pushes are queued with the orders, not a worker's
// round later. On PostgreSQL the products keep their outbox marks all the
// same: a change committed by another transaction while the group ran (an
// allocation, which does not lock products) may be missing from the
// group's snapshot, and the worker, planning again after the group's
// commit, computes from what is then committed and mends a stale push.
// On SQLite nothing commits while the group runs (see store.Tx.PlannedHere).
// listings are those of the products and of the bundles made of them,
// read with the definitions, before the lock: only the worker changes
// what they hold of the last publication, and it takes no product lock.
// It returns whether it planned every listing of the products: one the
// snapshot does not hold is left to the worker.
func planPushes(tx *store.Tx, snap *store.Snapshot, listings []store.PushListing, settle time.Duration) (all bool, err error) {
	known := snap.Holding(listings)
	return len(known) == len(listings), tx.PlanPushes(snap, known, tx.Now, settle, false)
}
