package syncer

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/allot/allot/store"
)

// staleWaits is how many times a push waits, when the channel shows fewer
// units than allot last published, for the channel's orders to arrive
// before allot sets its own number over the channel's.
const staleWaits = 3

// PushDue pushes what is due on every channel whose lease this worker can
// take, the channels side by side.
func (w *Worker) PushDue(ctx context.Context) error {
	w.defaults()
	due, err := w.DB.DueChannels(ctx, w.Now(), w.Owner)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(due))
	for i, d := range due {
		if w.OneByOne {
			errs[i] = w.pushChannel(ctx, d.Merchant, d.Channel)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = w.pushChannel(ctx, d.Merchant, d.Channel)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// pushChannel pushes a channel's due quantities, batch after batch, while
// it holds the channel's lease.
func (w *Worker) pushChannel(ctx context.Context, merchant, channelID int64) error {
	var ch store.ChannelRow
	var batch []store.Push
	var conn Connector
	var connErr error
	err := w.DB.Write(ctx, merchant, "allot", w.Now(), func(tx *store.Tx) error {
		got, err := tx.AcquireLease(channelID, w.Owner, tx.Now.Add(w.Lease))
		if err != nil || !got {
			return err
		}
		chs, err := tx.PushChannels()
		if err != nil {
			return err
		}
		for _, c := range chs {
			if c.ID == channelID {
				ch = c
			}
		}
		if ch.ID == 0 {
			return tx.ReleaseLease(channelID, w.Owner) // no longer a channel allot pushes to
		}
		if conn, connErr = w.connector(ch); connErr != nil {
			if err := tx.ChannelCalled(channelID, "cannot connect: "+connErr.Error()); err != nil {
				return err
			}
			return tx.ReleaseLease(channelID, w.Owner)
		}
		batch, err = tx.DuePushes(channelID, max(1, conn.MaxBatch()))
		if err == nil && len(batch) == 0 {
			err = tx.ReleaseLease(channelID, w.Owner)
		}
		return err
	})
	// One transaction a batch: the one that records a batch's outcome
	// also renews the lease and reads the next batch (or gives the lease
	// up when nothing is due).
	for err == nil && len(batch) > 0 && ctx.Err() == nil {
		batch, err = w.pushBatch(ctx, merchant, ch, conn, batch)
	}
	return err
}

// pushBatch sends one batch and records what became of each push.
func (w *Worker) pushBatch(ctx context.Context, merchant int64, ch store.ChannelRow, conn Connector, batch []store.Push) ([]store.Push, error) {
	items := make([]Item, len(batch))
	for i, p := range batch {
		items[i] = Item{ExternalID: p.ExternalID, PushRef: p.PushRef, SKU: p.SKU, Quantity: p.Quantity,
			Key: strconv.FormatInt(p.ListingID, 10) + "-" + strconv.FormatInt(p.Version, 10)}
		if p.Published != nil && p.Confirmed {
			prev := *p.Published
			items[i].Previous = &prev
		}
	}
	// A push under way when the worker is stopped finishes (for a while)
	// and is recorded: cut short, the channel might apply it while allot
	// records a failure and pushes it again.
	callCtx, cancel := w.draining(ctx)
	results, callErr := conn.Push(callCtx, items)
	cancel()
	if callErr == nil && len(results) != len(items) {
		callErr = fmt.Errorf("the channel answered %d results for %d quantities", len(results), len(items))
	}
	if callErr != nil {
		w.Log.Warn("push failed", "merchant", merchant, "channel", ch.Code, "quantities", len(items), "err", callErr)
	}
	if callErr == nil && len(batch) < max(1, conn.MaxBatch()) {
		w.gather(ctx)
	}
	label := w.Metrics.label(merchant, ch.Code)
	if callErr == nil {
		for start := 0; start+recordPart < len(batch); start += recordPart {
			part, res := batch[start:start+recordPart], results[start:start+recordPart]
			if err := w.DB.Write(context.WithoutCancel(ctx), merchant, "allot", w.Now(), func(tx *store.Tx) error {
				return w.record(tx, part, res, label)
			}); err != nil {
				return nil, err
			}
		}
	}
	var next []store.Push
	err := w.DB.Write(context.WithoutCancel(ctx), merchant, "allot", w.Now(), func(tx *store.Tx) error {
		next = nil
		if callErr != nil {
			msg := callErr.Error()
			w.Metrics.Failures.WithLabelValues(label...).Inc()
			for _, p := range batch {
				w.Metrics.Retries.WithLabelValues(label...).Inc()
				if err := tx.Retry(p, tx.Now.Add(w.backoff(p.Attempts)), msg); err != nil {
					return err
				}
			}
			if err := tx.ChannelCalled(ch.ID, msg); err != nil {
				return err
			}
			return tx.ReleaseLease(ch.ID, w.Owner)
		}
		// The outcomes are recorded recordPart pushes a transaction, the
		// last part with the lease: on SQLite the one writer is not held
		// by a thousand confirmations while orders wait for it.
		last := len(batch) - (len(batch)-1)%recordPart - 1
		unrecorded := batch[last:]
		// On PostgreSQL the next batch is read before the outcomes are
		// recorded, past the rows being recorded (still due until then):
		// recording locks the pending rows that orders queueing pushes of
		// the same listings wait for, until the commit. SQLite has no row
		// locks: recorded first, they are not read again.
		readFirst := !w.DB.OneWriter()
		var ok bool
		readNext := func() error {
			var err error
			if ok, err = tx.AcquireLease(ch.ID, w.Owner, tx.Now.Add(w.Lease)); err != nil || !ok {
				return err // lost the lease: another worker goes on
			}
			limit, skip := max(1, conn.MaxBatch()), 0
			if readFirst {
				skip = len(unrecorded)
			}
			due, err := tx.DuePushes(ch.ID, limit+skip)
			if err != nil {
				return err
			}
			next = notIn(due, unrecorded)
			next = next[:min(len(next), limit)]
			return nil
		}
		if readFirst {
			if err := readNext(); err != nil {
				return err
			}
		}
		if err := w.record(tx, unrecorded, results[last:], label); err != nil {
			return err
		}
		if err := tx.ChannelCalled(ch.ID, ""); err != nil {
			return err
		}
		if !readFirst {
			if err := readNext(); err != nil {
				return err
			}
		}
		if ok && len(next) == 0 {
			return tx.ReleaseLease(ch.ID, w.Owner)
		}
		return nil
	})
	return next, err
}

// notIn is due without the pushes of batch, which are being recorded:
// a newer value of one of their listings has a newer version.
func notIn(due, batch []store.Push) []store.Push {
	sent := make(map[[2]int64]bool, len(batch))
	for _, p := range batch {
		sent[[2]int64{p.ListingID, p.Version}] = true
	}
	out := due[:0]
	for _, p := range due {
		if !sent[[2]int64{p.ListingID, p.Version}] {
			out = append(out, p)
		}
	}
	return out
}

// gather waits Gather, or until ctx ends.
func (w *Worker) gather(ctx context.Context) {
	w.waitUntil(ctx, time.Now().Add(w.Gather))
}

// recordPart is how many pushes' outcomes one transaction records.
const recordPart = 200

// record records what became of pushes, as the channel answered them:
// confirmed, stale (the channel shows another value), or to retry.
func (w *Worker) record(tx *store.Tx, batch []store.Push, results []Result, label []string) error {
	var confirmed []store.Push
	for i, p := range batch {
		r := results[i]
		switch {
		case r.Err == nil, r.Actual != nil && *r.Actual == p.Quantity:
			confirmed = append(confirmed, p)
			w.Metrics.Pushes.WithLabelValues(label...).Inc()
			w.Metrics.Lag.WithLabelValues(label...).Observe(tx.Now.Sub(p.FirstAt).Seconds())
		case r.Actual != nil:
			if err := w.stale(tx, p, *r.Actual, label); err != nil {
				return err
			}
		default:
			w.Metrics.Failures.WithLabelValues(label...).Inc()
			w.Metrics.Retries.WithLabelValues(label...).Inc()
			if err := tx.Retry(p, tx.Now.Add(w.backoff(p.Attempts)), r.Err.Error()); err != nil {
				return err
			}
		}
	}
	return tx.ConfirmMany(confirmed)
}

// draining returns the context of a call that must not be cut short when
// ctx ends: it ends after CallTimeout, or Drain after ctx ends.
func (w *Worker) draining(ctx context.Context) (context.Context, context.CancelFunc) {
	call, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.CallTimeout)
	stop := context.AfterFunc(ctx, func() {
		t := time.NewTimer(w.Drain)
		defer t.Stop()
		select {
		case <-call.Done():
		case <-t.C:
			cancel()
		}
	})
	return call, func() { stop(); cancel() }
}

// stale handles a push the channel refused because it shows another
// number than allot last published. If it shows fewer, an order sold there
// is probably on its way to allot: wait a little, a few times, for it.
// Otherwise, or after waiting, allot's number is right: take what the
// channel shows as the base of the next comparison (drift mended) and push
// again at once.
func (w *Worker) stale(tx *store.Tx, p store.Push, actual int, label []string) error {
	if p.Published != nil && actual < *p.Published && p.Attempts < staleWaits {
		return tx.Retry(p, tx.Now.Add(2*time.Second), fmt.Sprintf("the channel shows %d, not %d: waiting for its orders", actual, *p.Published))
	}
	w.Metrics.Drift.WithLabelValues(label...).Inc()
	if err := tx.Confirm(p, actual, "drift", fmt.Sprintf("the channel showed %d; setting %d", actual, p.Quantity)); err != nil {
		return err
	}
	if err := tx.DriftMended(p.ChannelID, 1); err != nil {
		return err
	}
	// Confirm dropped the pending push of this version: put it back.
	return tx.SetPending(p.PushListing, p.Quantity, tx.Now, p.FirstAt)
}

// CheckDrift reads back what a channel shows of every listing allot
// published, and pushes again where it differs: it returns how many.
func (w *Worker) CheckDrift(ctx context.Context, merchant int64, channel string) (int, error) {
	w.defaults()
	var ch store.ChannelRow
	var pubs []store.Publication
	err := w.DB.Read(ctx, merchant, w.Now(), func(tx *store.Tx) error {
		var err error
		if ch, err = tx.Channel(channel); err != nil {
			return err
		}
		pubs, err = tx.Publications(ch.ID)
		return err
	})
	if err != nil || len(pubs) == 0 || !store.Pushed(ch.Platform) {
		return 0, err
	}
	conn, err := w.connector(ch)
	if err != nil {
		return 0, err
	}
	mended := 0
	for start := 0; start < len(pubs); start += max(1, conn.MaxBatch()) {
		part := pubs[start:min(len(pubs), start+max(1, conn.MaxBatch()))]
		items := make([]Item, len(part))
		for i, p := range part {
			items[i] = Item{ExternalID: p.ExternalID, PushRef: p.PushRef, SKU: p.SKU, Quantity: p.Quantity}
		}
		callCtx, cancel := context.WithTimeout(ctx, w.CallTimeout)
		shown, err := conn.Read(callCtx, items)
		cancel()
		if err != nil {
			return mended, err
		}
		err = w.DB.Write(ctx, merchant, "allot", w.Now(), func(tx *store.Tx) error {
			// A push confirmed while the channel was read makes what was
			// read no base for a comparison: that listing waits for the
			// next check.
			read := make([]int64, len(part))
			for i, p := range part {
				read[i] = p.ListingID
			}
			now, err := tx.PublicationsOf(ch.ID, read)
			if err != nil {
				return err
			}
			current := make(map[int64]store.Publication, len(now))
			for _, p := range now {
				current[p.ListingID] = p
			}
			var ids []int64
			for _, p := range part {
				q, ok := shown[p.ExternalID]
				if !ok || q == p.Quantity {
					continue
				}
				if c := current[p.ListingID]; c.Quantity != p.Quantity || !c.PushedAt.Equal(p.PushedAt) || c.Confirmed != p.Confirmed {
					continue
				}
				// Take what the channel shows as the base of the next
				// comparison, and push allot's number again.
				push := store.Push{PushListing: store.PushListing{ListingID: p.ListingID, ChannelID: ch.ID}, Version: -1}
				if err := tx.Confirm(push, q, "drift", fmt.Sprintf("the channel showed %d instead of %d", q, p.Quantity)); err != nil {
					return err
				}
				ids = append(ids, p.ListingID)
			}
			if len(ids) > 0 {
				mended += len(ids)
				w.Metrics.Drift.WithLabelValues(w.Metrics.label(merchant, ch.Code)...).Add(float64(len(ids)))
				if err := w.replan(tx, ch.ID, ids); err != nil {
					return err
				}
			}
			return tx.DriftChecked(ch.ID, len(ids))
		})
		if err != nil {
			return mended, err
		}
	}
	return mended, nil
}

// replan records a push, due now, of the given listings of a channel.
func (w *Worker) replan(tx *store.Tx, channelID int64, listingIDs []int64) error {
	listings, err := tx.Listings(channelID)
	if err != nil {
		return err
	}
	want := map[int64]bool{}
	for _, id := range listingIDs {
		want[id] = true
	}
	var products []int64
	for _, l := range listings {
		if want[l.ID] && l.ProductID != nil {
			products = append(products, *l.ProductID)
		}
	}
	if len(products) == 0 {
		return nil
	}
	return planChannel(tx, channelID, products, tx.Now)
}

// driftDue checks the drift of every channel not checked for DriftEvery.
func (w *Worker) driftDue(ctx context.Context) error {
	merchants, err := w.DB.MerchantsWithPushChannels(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range merchants {
		var due []string
		err := w.DB.Read(ctx, m, w.Now(), func(tx *store.Tx) error {
			chs, err := tx.PushChannels()
			for _, c := range chs {
				st, err := tx.SyncStateOf(c.ID)
				if err != nil {
					return err
				}
				if st.DriftCheckedAt == nil || w.Now().Sub(*st.DriftCheckedAt) >= w.DriftEvery {
					due = append(due, c.Code)
				}
			}
			return err
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, code := range due {
			if _, err := w.CheckDrift(ctx, m, code); err != nil {
				errs = append(errs, fmt.Errorf("drift check of %s: %w", code, err))
				w.DB.Write(ctx, m, "allot", w.Now(), func(tx *store.Tx) error {
					c, cerr := tx.Channel(code)
					if cerr != nil {
						return cerr
					}
					tx.DriftChecked(c.ID, 0) // not again before DriftEvery
					return tx.ChannelCalled(c.ID, err.Error())
				})
			}
		}
	}
	return errors.Join(errs...)
}

// checkConnections calls Check on the channels allot pushes to that were
// never contacted, or not for ConnectionEvery, so that readiness always
// knows whether their credentials work.
func (w *Worker) checkConnections(ctx context.Context) error {
	merchants, err := w.DB.MerchantsWithPushChannels(ctx)
	if err != nil {
		return err
	}
	for _, m := range merchants {
		var due []store.ChannelRow
		err := w.DB.Read(ctx, m, w.Now(), func(tx *store.Tx) error {
			chs, err := tx.PushChannels()
			for _, c := range chs {
				st, err := tx.SyncStateOf(c.ID)
				if err != nil {
					return err
				}
				last, every := st.LastSuccess, ConnectionEvery
				if st.LastErrorAt != nil && (last == nil || st.LastErrorAt.After(*last)) {
					last, every = st.LastErrorAt, ConnectionRetry // failing: look again soon
				}
				if last == nil || w.Now().Sub(*last) >= every {
					due = append(due, c)
				}
			}
			return err
		})
		if err != nil {
			return err
		}
		for _, c := range due {
			msg := ""
			conn, err := w.connector(c)
			if err == nil {
				callCtx, cancel := context.WithTimeout(ctx, w.CallTimeout)
				err = conn.Check(callCtx)
				cancel()
			}
			if err != nil {
				msg = err.Error()
				w.Log.Warn("channel check failed", "merchant", m, "channel", c.Code, "err", err)
			}
			if err := w.DB.Write(ctx, m, "allot", w.Now(), func(tx *store.Tx) error { return tx.ChannelCalled(c.ID, msg) }); err != nil {
				return err
			}
			// A channel that answers and lists its catalogue gets its
			// listings linked by SKU and barcode, now and then.
			if _, ok := conn.(Cataloger); ok && msg == "" && w.Service != nil {
				if _, err := w.Link(ctx, m, c.Code); err != nil {
					w.Log.Warn("link listings", "channel", c.Code, "err", err)
				}
			}
		}
	}
	return nil
}

// ConnectionEvery is how often an idle channel's connection is checked;
// ConnectionRetry, how soon after a failed call.
const (
	ConnectionEvery = 10 * time.Minute
	ConnectionRetry = 30 * time.Second
)
