// Package syncer pushes published quantities to the channels and proves
// that they arrived (spec section 5). Every change marks, in its own
// transaction, the products whose quantities it may have changed (the
// outbox, store.Tx.markDirty). The worker turns marks into pushes due per
// listing (newest value wins; decreases due at once, increases after a
// settling delay), pushes them in batches the channel accepts under a
// per-channel lease (so one worker pushes a channel at a time, and another
// takes over if it dies), records each publication, retries with
// exponential backoff, and detects and mends drift.
package syncer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/service"
	"github.com/allot/allot/store"
)

// Connector talks to one channel.
type Connector interface {
	// MaxBatch is how many quantities one Push may carry.
	MaxBatch() int
	// Push sets the quantities. An error means the call failed as a whole
	// (unreachable, throttled, 5xx): every item is retried later. Else
	// there is one Result per item, in order.
	Push(ctx context.Context, items []Item) ([]Result, error)
	// Read returns what the channel shows for the items, by ExternalID;
	// items it does not know are absent.
	Read(ctx context.Context, items []Item) (map[string]int, error)
	// Check makes a cheap call that proves the credentials work.
	Check(ctx context.Context) error
}

// Item is a listing's quantity to push.
type Item struct {
	ExternalID string
	PushRef    string // the channel's own reference, when it has one
	SKU        string
	Quantity   int
	// Previous is the quantity last confirmed on the channel (nil: none).
	// Channels that can compare and set refuse the push if they show
	// something else: a change made there meanwhile is detected, not
	// overwritten blindly.
	Previous *int
	// Key identifies this value of this listing, for idempotent calls.
	Key string
}

// Result is the outcome of one item of a Push.
type Result struct {
	// Err is nil when the channel now shows the item's quantity.
	Err error
	// Actual, on a failed comparison, is what the channel shows.
	Actual *int
}

// Cataloger is a connector that can list the channel's catalogue, so that
// allot links its listings to products by itself.
type Cataloger interface {
	Catalog(ctx context.Context) ([]service.RemoteListing, error)
}

// Factory returns the connector of a channel, from its settings.
type Factory func(ch store.ChannelRow) (Connector, error)

// Worker runs the synchronisation of every merchant of a database.
type Worker struct {
	DB *store.DB
	// Service links catalogues (optional: without it, no auto-linking).
	Service *service.Service
	Connect Factory
	Now     func() time.Time
	Log     *slog.Logger
	Metrics *Metrics
	// Owner names this worker in channel leases: unique per process.
	Owner string
	// Settle is how long an increase waits before it is pushed, so that an
	// order sold on the channel but not yet received does not make a
	// sold-out item come back for a moment. Decreases go at once.
	Settle time.Duration
	// Gather is how long the worker waits, after a push that did not fill
	// a call, before it reads the next due quantities (0: not at all).
	// Under a stream of orders, the changes of those milliseconds go in
	// one call, and a listing they change several times is pushed once:
	// fewer calls, and fewer outcomes to record in the one writer that
	// the orders need. A change after a quiet moment goes out at once.
	Gather time.Duration
	// Lease is how long a worker owns a channel's pushes without renewing.
	Lease time.Duration
	// DriftEvery is how often each channel is read back (0: never).
	DriftEvery time.Duration
	// PlanWriters is how many transactions write, side by side, the
	// pushes of a plan of every listing (0: one). On PostgreSQL, two use
	// both of a small machine's cores.
	PlanWriters int
	// Interval is the pause between two rounds of Run.
	Interval time.Duration
	// CallTimeout bounds one call to a channel.
	CallTimeout time.Duration
	// Drain is how long a push already sent may still take once Run's
	// context ends, so that its outcome is recorded before the process
	// exits (0: 10s).
	Drain time.Duration
	// Rand, if set, draws the jitter of the retries' backoff, and OneByOne
	// makes PushDue push the due channels one after the other instead of
	// side by side: together they let a seeded simulation run the same way
	// twice. Nil and false in production.
	Rand     *rand.Rand
	OneByOne bool

	wake  chan struct{}
	mu    sync.Mutex
	conns map[int64]cachedConnector
}

type cachedConnector struct {
	settings string
	conn     Connector
}

func (w *Worker) defaults() {
	if w.Now == nil {
		w.Now = time.Now
	}
	if w.Log == nil {
		w.Log = slog.Default()
	}
	if w.Metrics == nil {
		w.Metrics = NewMetrics(nil)
	}
	if w.Owner == "" {
		w.Owner = fmt.Sprintf("worker-%x", rand.Uint64())
	}
	if w.Settle == 0 {
		w.Settle = 5 * time.Second
	}
	if w.Lease == 0 {
		w.Lease = 30 * time.Second
	}
	if w.Interval == 0 {
		w.Interval = 200 * time.Millisecond
	}
	if w.CallTimeout == 0 {
		w.CallTimeout = 30 * time.Second
	}
	if w.Drain == 0 {
		w.Drain = 10 * time.Second
	}
}

// Run works until ctx ends: a round every Interval, and one as soon as a
// change is committed (Wake). The checks that read the channels back
// (connections, drift) run beside the rounds: reading a large store
// within its rate limit takes minutes, and pushes must not wait for it.
func (w *Worker) Run(ctx context.Context) {
	w.defaults()
	t := time.NewTicker(w.Interval)
	defer t.Stop()
	defer w.closeConnectors()
	defer w.releaseLeases()
	var checks sync.WaitGroup
	defer checks.Wait()
	checks.Go(func() { w.checkLoop(ctx) })
	for {
		start := time.Now()
		if err := w.Round(ctx); err != nil && ctx.Err() == nil {
			w.Log.Error("sync round", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.wakeup():
		}
		// Rounds back to back (changes committed while one ran) are
		// Gather apart: under a stream of orders each group marks its
		// products, and a round for each kept a planning transaction
		// beside every group, waiting on its outbox rows. A change after
		// a quiet moment starts a round at once.
		w.waitUntil(ctx, start.Add(w.Gather))
	}
}

// waitUntil waits until t, or until ctx ends.
func (w *Worker) waitUntil(ctx context.Context, t time.Time) {
	d := time.Until(t)
	if d <= 0 {
		return
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
}

func (w *Worker) wakeup() chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.wake == nil {
		w.wake = make(chan struct{}, 1)
	}
	return w.wake
}

// Wake asks for a round now: a change was committed. It never blocks;
// wakes that come while a round runs make one more round.
func (w *Worker) Wake(int64) {
	select {
	case w.wakeup() <- struct{}{}:
	default:
	}
}

// Round does one round of work: turn marks into pushes, push what is due.
func (w *Worker) Round(ctx context.Context) error {
	w.defaults()
	return errors.Join(w.Plan(ctx), w.PushDue(ctx))
}

// checkLoop checks the channels' connections, and reads back those whose
// drift check is due, now and every 5 seconds until ctx ends.
func (w *Worker) checkLoop(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		err := w.checkConnections(ctx)
		if w.DriftEvery > 0 {
			err = errors.Join(err, w.driftDue(ctx))
		}
		if err != nil && ctx.Err() == nil {
			w.Log.Error("sync checks", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Plan turns every outbox mark into the pushes it calls for, a batch at
// a time, and plans each product once: it stops after a batch of products
// all planned already (marked again since). Those are the next round's
// (the commit that marked them wakes the worker). Under a stream of
// orders on PostgreSQL, where each group of orders marks its products,
// planning them as often as they came kept the worker in Plan for as long
// as the stream lasted: a transaction every few milliseconds, each
// waiting on a group's outbox row and a group then on it, and no push
// sent meanwhile. Marks of products not yet planned (a stock report still
// arriving) are taken in the same round.
func (w *Worker) Plan(ctx context.Context) error {
	w.defaults()
	merchants, err := w.DB.MarkedMerchants(ctx)
	if err != nil {
		return err
	}
	for _, m := range merchants {
		planned := map[int64]bool{} // product ids; 0: every product
		for {
			marks, err := w.planBatch(ctx, m)
			if err != nil {
				return err
			}
			fresh := false
			for _, mk := range marks {
				if !planned[mk.Product] {
					fresh, planned[mk.Product] = true, true
				}
			}
			if !fresh {
				break
			}
		}
	}
	return nil
}

// planBatchSize is how many marks one transaction of Plan turns into pushes.
const planBatchSize = 500

// planBatch handles up to planBatchSize marks of a merchant; it returns them.
func (w *Worker) planBatch(ctx context.Context, m int64) ([]store.Mark, error) {
	var read []store.Mark
	var everything []store.Mark
	err := w.DB.Write(ctx, m, "allot", w.Now(), func(tx *store.Tx) error {
		marks, err := tx.Marks(planBatchSize)
		if err != nil || len(marks) == 0 {
			read = nil
			return err
		}
		read = marks
		all := slices.ContainsFunc(marks, func(mk store.Mark) bool { return mk.Product == 0 })
		if all && !w.DB.OneWriter() {
			everything = marks // planned outside this transaction
			return nil
		}
		// Plan at a time read after the marks: every change they stand
		// for committed before it, so a window one of them closed (an
		// allocation ended at its own transaction's time) is closed for
		// this plan too. The time the transaction was asked for may be
		// older than a change that committed while it waited for the
		// database; planning then would see that allocation still open
		// and clear its mark.
		tx.Now = w.Now().UTC()
		var ids []int64 // nil: every product
		if !all {
			ids = make([]int64, len(marks))
			for i, mk := range marks {
				ids[i] = mk.Product
			}
		}
		if err := plan(tx, ids, oldest(marks), w.Settle, false); err != nil {
			return err
		}
		return tx.ClearMarks(marks)
	})
	if err == nil && everything != nil {
		err = w.planEverything(ctx, m, everything)
	}
	return read, err
}

func oldest(marks []store.Mark) time.Time {
	first := marks[0].Since
	for _, mk := range marks {
		if mk.Since.Before(first) {
			first = mk.Since
		}
	}
	return first
}

// afterPlanRead, set by tests, runs in planEverything between its reads
// and its writes: where a change committed meanwhile goes unseen.
var afterPlanRead atomic.Pointer[func()]

// planEverything plans every listing of the merchant (after a full stock
// report, a change of a channel's rules…) on PostgreSQL, then clears
// marks. The whole catalogue is read in read-only transactions, the
// listings and the stock side by side, and the pushes it calls for are
// written by PlanWriters transactions side by side, each a range of
// listings, so that two server processes work at once. A change committed
// meanwhile has marks of its own, newer than those cleared here: the next
// plan mends a quantity planned from before it. (On SQLite a group of
// orders leaves no mark, see store.Tx.PlannedHere: planBatch plans
// everything there in one transaction, which nothing commits beside.)
func (w *Worker) planEverything(ctx context.Context, m int64, marks []store.Mark) error {
	now := w.Now().UTC() // after the marks were read: see planBatch
	var listings []store.PushListing
	var snap *store.Snapshot
	var wg sync.WaitGroup
	var errs [2]error
	wg.Go(func() {
		errs[0] = w.DB.Read(ctx, m, now, func(tx *store.Tx) (err error) { listings, err = tx.PlanListings(nil); return err })
	})
	wg.Go(func() {
		errs[1] = w.DB.Read(ctx, m, now, func(tx *store.Tx) (err error) { snap, err = tx.Snapshot(nil); return err })
	})
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		return err
	}
	if f := afterPlanRead.Load(); f != nil {
		(*f)()
	}
	snap.Name(listings)
	sets := store.PushesToQueue(snap, snap.Holding(listings), now, w.Settle, false)
	first := oldest(marks)
	parts := w.PlanWriters
	if parts < 1 || len(sets) < 10_000 {
		parts = 1
	}
	written := make([]error, parts)
	size := (len(sets) + parts - 1) / parts
	for i := range parts {
		part := sets[min(len(sets), i*size):min(len(sets), (i+1)*size)]
		wg.Go(func() {
			written[i] = w.DB.Write(ctx, m, "allot", now, func(tx *store.Tx) error { return tx.QueuePushes(part, first) })
		})
	}
	wg.Wait()
	if err := errors.Join(written...); err != nil {
		return err
	}
	return w.DB.Write(ctx, m, "allot", w.Now(), func(tx *store.Tx) error { return tx.ClearMarks(marks) })
}

// plan computes the quantities of the listings of products (nil: all) and
// records a push for each that differs from what the channel shows or
// waits to show; with force, for every listing.
func plan(tx *store.Tx, products []int64, first time.Time, settle time.Duration, force bool) error {
	var scope []int64 // the products and the bundles made of them; nil: all
	if products != nil {
		var err error
		if scope, err = tx.WithBundles(products); err != nil {
			return err
		}
	}
	listings, err := tx.PlanListings(scope)
	if err != nil || len(listings) == 0 {
		return err
	}
	var held []int64 // the products with listings; nil: all
	if scope != nil {
		held = make([]int64, len(listings))
		for i, l := range listings {
			held[i] = l.ProductID
		}
	}
	snap, err := tx.Snapshot(held)
	if err != nil {
		return err
	}
	snap.Name(listings)
	return tx.PlanPushes(snap, listings, first, settle, force)
}

// Resync pushes every listing of a channel again, whatever was published.
func (w *Worker) Resync(ctx context.Context, merchant int64, channel string) error {
	w.defaults()
	return w.DB.Write(ctx, merchant, "allot", w.Now(), func(tx *store.Tx) error {
		c, err := tx.Channel(channel)
		if err != nil {
			return err
		}
		if !store.Pushed(c.Platform) {
			return allot.Errorf(allot.Conflict, "channel %s is a %s channel: allot pushes nothing to it", channel, c.Platform)
		}
		listings, err := tx.Listings(c.ID)
		if err != nil {
			return err
		}
		var ids []int64
		for _, l := range listings {
			if l.ProductID != nil {
				ids = append(ids, *l.ProductID)
			}
		}
		if len(ids) == 0 {
			return nil
		}
		tx.Record("channel.resync", "", channel, fmt.Sprintf("full resynchronisation of %s requested", channel), nil)
		return planChannel(tx, c.ID, ids, tx.Now)
	})
}

// planChannel records a push, due now, of every listing of one channel
// among products' listings.
func planChannel(tx *store.Tx, channelID int64, products []int64, first time.Time) error {
	listings, err := tx.PushListings(products)
	if err != nil {
		return err
	}
	snap, err := tx.Snapshot(products)
	if err != nil {
		return err
	}
	var sets []store.PendingSet
	for _, l := range listings {
		if l.ChannelID == channelID {
			sets = append(sets, store.PendingSet{Listing: l, Quantity: snap.Published(l.Channel, l.SKU), Due: tx.Now})
		}
	}
	return tx.SetPendingMany(sets, first)
}

// connector returns the channel's connector, kept while its settings stay
// the same (a Shopify connector holds its throttle state).
func (w *Worker) connector(ch store.ChannelRow) (Connector, error) {
	key := fmt.Sprint(ch.Settings)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.conns == nil {
		w.conns = map[int64]cachedConnector{}
	}
	if c, ok := w.conns[ch.ID]; ok && c.settings == key {
		return c.conn, nil
	}
	conn, err := w.Connect(ch)
	if err != nil {
		return nil, err
	}
	if old, ok := w.conns[ch.ID]; ok {
		closeIdle(old.conn)
	}
	w.conns[ch.ID] = cachedConnector{settings: key, conn: conn}
	return conn, nil
}

// closeConnectors lets go of the connections the connectors keep open, so
// that a stopped worker leaves nothing running behind it.
// releaseLeases gives up this worker's channel leases as it stops (the
// pushes in flight are done and recorded by then).
func (w *Worker) releaseLeases() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.DB.ReleaseLeases(ctx, w.Owner); err != nil {
		w.Log.Error("releasing the channel leases", "err", err)
	}
}

func (w *Worker) closeConnectors() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, c := range w.conns {
		closeIdle(c.conn)
		delete(w.conns, id)
	}
}

// closeIdle closes the idle connections of a connector that keeps some.
func closeIdle(c Connector) {
	if ic, ok := c.(interface{ CloseIdleConnections() }); ok {
		ic.CloseIdleConnections()
	}
}

// backoff is the wait before the attempt-th retry: exponential from half a
// second, at most five minutes, with jitter so that retries spread.
func (w *Worker) backoff(attempt int) time.Duration {
	d := 500 * time.Millisecond << min(attempt, 10)
	d = min(d, 5*time.Minute)
	if w.Rand != nil {
		w.mu.Lock()
		defer w.mu.Unlock()
		return d/2 + time.Duration(w.Rand.Int64N(int64(d/2)+1))
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// Link reads a channel's catalogue and links its listings to products by
// SKU, then barcode.
func (w *Worker) Link(ctx context.Context, merchant int64, channel string) (service.LinkResult, error) {
	w.defaults()
	var ch store.ChannelRow
	err := w.DB.Read(ctx, merchant, w.Now(), func(tx *store.Tx) error {
		var err error
		ch, err = tx.Channel(channel)
		return err
	})
	if err != nil {
		return service.LinkResult{}, err
	}
	if !store.Pushed(ch.Platform) {
		return service.LinkResult{}, allot.Errorf(allot.Conflict, "channel %s is a %s channel: it has no catalogue to read", channel, ch.Platform)
	}
	conn, err := w.connector(ch)
	if err != nil {
		return service.LinkResult{}, allot.Errorf(allot.Conflict, "channel %s: %v", channel, err)
	}
	cat, ok := conn.(Cataloger)
	if !ok || w.Service == nil {
		return service.LinkResult{}, allot.Errorf(allot.Conflict, "channel %s cannot list its catalogue: link its listings one by one", channel)
	}
	callCtx, cancel := context.WithTimeout(ctx, 5*w.CallTimeout)
	remote, err := cat.Catalog(callCtx)
	cancel()
	if err != nil {
		return service.LinkResult{}, allot.Errorf(allot.Conflict, "could not read the catalogue of %s: %v", channel, err)
	}
	return w.Service.LinkListings(ctx, service.Actor{Merchant: merchant, Name: "allot"}, channel, remote)
}
