package service

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/store"
)

// OrderParams is an order placed through the API or imported from a channel.
type OrderParams struct {
	Channel    string        `json:"channel"`
	ExternalID string        `json:"external_id"`
	Lines      []allot.Line  `json:"lines"`
	Payment    allot.Payment `json:"payment"`
	// Cancelled, on an import: the channel cancelled the order.
	Cancelled bool `json:"cancelled,omitempty"`
	// UpdatedAt, on an import: the channel's version of the order; an
	// import older than the one applied is ignored.
	UpdatedAt *time.Time `json:"updated_at,omitempty"`
}

func checkOrder(p *OrderParams, kind allot.OrderKind) error {
	if err := checkCode("channel", p.Channel); err != nil {
		return err
	}
	if err := checkKey("external_id", p.ExternalID, MaxSKULen); err != nil {
		return err
	}
	if err := checkLines(p.Lines, true, 1); err != nil {
		return err
	}
	switch p.Payment {
	case "":
		p.Payment = allot.Paid
	case allot.Paid, allot.Terms, allot.Unpaid:
	default:
		return allot.FieldError("payment", "must be paid, terms or unpaid; not %q", p.Payment)
	}
	if kind != allot.Imported && p.Cancelled {
		return allot.FieldError("cancelled", "only an imported order may say it was cancelled")
	}
	if kind != allot.Imported && p.UpdatedAt != nil {
		return allot.FieldError("updated_at", "only an imported order may give the channel's updated_at")
	}
	return nil
}

// PlaceOrder places a checked order: it is accepted only if every SKU it
// takes fits what its channel may sell at this instant, all lines or none;
// otherwise InsufficientStock with the shortfall per SKU. Placing the same
// order again (same channel, external id, lines and payment) returns the
// first one with created false.
func (s *Service) PlaceOrder(ctx context.Context, who Actor, p OrderParams) (allot.Order, bool, error) {
	if err := checkOrder(&p, allot.Placed); err != nil {
		return allot.Order{}, false, err
	}
	return s.group(ctx, who, allot.Placed, p)
}

// group hands an order to the group commit and waits for its answer.
func (s *Service) group(ctx context.Context, who Actor, kind allot.OrderKind, p OrderParams) (allot.Order, bool, error) {
	req := &placeRequest{who: who, kind: kind, p: p, done: make(chan placeResult, 1)}
	pl := s.startPlacer()
	select {
	case pl.queue <- req:
	case <-ctx.Done():
		return allot.Order{}, false, ctx.Err()
	}
	// Once queued, the order is decided whatever the caller does: wait
	// for the answer so that it is never reported failed when it was
	// placed.
	r := <-req.done
	return r.order, r.created, r.err
}

// checkAndCreate resolves lines for a placed order or a hold, checks them
// against what the channel may sell, and stores the order.
func checkAndCreate(tx *store.Tx, ch store.ChannelRow, o *store.OrderRow, lines []allot.Line) error {
	var err error
	if o.Lines, err = resolveLines(tx, ch, lines, true); err != nil {
		return err
	}
	ids := unitProducts(o)
	if err := tx.LockProducts(ids); err != nil {
		return err
	}
	snap, err := tx.Snapshot(ids)
	if err != nil {
		return err
	}
	skus, demand := demandOf(o)
	if short := snap.Shortfalls(ch.Code, skus, demand); len(short) > 0 {
		return &allot.Error{Code: allot.InsufficientStock, Shortfall: short,
			Message: fmt.Sprintf("not enough to sell on %s: %s", ch.Code, describeShortfall(short))}
	}
	assign(snap, ch, o)
	return insertOrder(tx, ch, o)
}

func insertOrder(tx *store.Tx, ch store.ChannelRow, o *store.OrderRow) error {
	o.Counts = counts(o, ch.CountUnpaid)
	o.State = stateOf(o)
	if err := tx.InsertOrder(o); err != nil {
		return err
	}
	return applyDelta(tx, contribution{}, contributionOf(o))
}

// ImportOrder imports a channel's order. It is always accepted, since the
// sale happened; a line beyond what the channel published is flagged
// oversold. Importing the same order again changes nothing; a later
// version (other lines, payment, a cancellation) updates it. Lines whose
// listing is not linked leave the order waiting in needs attention.
func (s *Service) ImportOrder(ctx context.Context, who Actor, p OrderParams) (allot.Order, bool, error) {
	if err := checkOrder(&p, allot.Imported); err != nil {
		return allot.Order{}, false, err
	}
	return s.group(ctx, who, allot.Imported, p)
}

func importOrder(tx *store.Tx, p OrderParams, prefix string) (*store.OrderRow, bool, error) {
	ch, err := tx.Channel(p.Channel)
	if err != nil {
		return nil, false, ifMissing(err, prefix+"channel", "unknown channel %q", p.Channel)
	}
	prev, found, err := tx.OrderByKey(ch.ID, p.ExternalID)
	if err != nil {
		return nil, false, err
	}
	if found {
		if prev.Kind == allot.Hold {
			return nil, false, &allot.Error{Code: allot.Conflict, Field: prefix + "external_id", Message: "that external id belongs to a hold"}
		}
		o, err := updateImported(tx, ch, prev, p, prefix)
		return o, false, err
	}
	o := &store.OrderRow{ChannelID: ch.ID, Channel: ch.Code, ExternalID: p.ExternalID, Kind: allot.Imported,
		Payment: p.Payment, SourceUpdatedAt: p.UpdatedAt}
	if o.Lines, err = resolveLines(tx, ch, p.Lines, false); err != nil {
		return nil, false, prefixed(err, prefix)
	}
	o.NeedsAttention = unresolved(o)
	if p.Cancelled {
		for i := range o.Lines {
			o.Lines[i].Cancelled = o.Lines[i].Quantity
		}
	}
	ids := unitProducts(o)
	if err := tx.LockProducts(ids); err != nil {
		return nil, false, err
	}
	snap, err := tx.Snapshot(ids)
	if err != nil {
		return nil, false, err
	}
	if !o.NeedsAttention {
		assign(snap, ch, o)
		if counts(o, ch.CountUnpaid) {
			_, demand := demandOf(o)
			o.Oversold = snap.Exceeds(ch.Code, demand)
		}
	}
	if err := insertOrder(tx, ch, o); err != nil {
		return nil, false, err
	}
	summary := fmt.Sprintf("order %s imported from %s: %s", o.ExternalID, ch.Code, describeLines(o))
	if o.NeedsAttention {
		summary += "; needs attention: a listing is not linked"
	}
	if o.Oversold {
		summary += "; oversold"
	}
	recordOrder(tx, o, "order.import", summary)
	return o, true, nil
}

// updateImported applies a later version of an imported (or placed) order.
func updateImported(tx *store.Tx, ch store.ChannelRow, prev *store.OrderRow, p OrderParams, prefix string) (*store.OrderRow, error) {
	if p.UpdatedAt != nil && prev.SourceUpdatedAt != nil && p.UpdatedAt.Before(*prev.SourceUpdatedAt) {
		return prev, nil // an older version, arrived late
	}
	if sameOrder(prev, p) && p.Cancelled == (prev.State == allot.Cancelled) {
		// Nothing changes but the channel's version, which must move on all
		// the same: a version older than this one (and different), arriving
		// after it, would otherwise be applied over it.
		if p.UpdatedAt != nil && (prev.SourceUpdatedAt == nil || p.UpdatedAt.After(*prev.SourceUpdatedAt)) {
			prev.SourceUpdatedAt = p.UpdatedAt
			return prev, tx.SetSourceUpdatedAt(prev.ID, *p.UpdatedAt)
		}
		return prev, nil
	}
	before := contributionOf(prev)
	o := cloneOrder(prev)
	o.Payment = p.Payment
	if p.UpdatedAt != nil {
		o.SourceUpdatedAt = p.UpdatedAt
	}
	linesChanged := !sameLines(prev, p.Lines)
	if linesChanged {
		for _, l := range prev.Lines {
			if l.Shipped > 0 || l.Cancelled > 0 {
				return nil, &allot.Error{Code: allot.Conflict, Field: prefix + "lines",
					Message: fmt.Sprintf("order %s has shipped or cancelled lines; its lines can no longer change", prev.ExternalID)}
			}
		}
		var err error
		if o.Lines, err = resolveLines(tx, ch, p.Lines, false); err != nil {
			return nil, prefixed(err, prefix)
		}
		o.NeedsAttention = unresolved(o)
	}
	if p.Cancelled {
		for i := range o.Lines {
			o.Lines[i].Cancelled += o.Lines[i].Open()
		}
	}
	ids := append(unitProducts(prev), unitProducts(o)...)
	if err := tx.LockProducts(ids); err != nil {
		return nil, err
	}
	snap, err := tx.Snapshot(ids)
	if err != nil {
		return nil, err
	}
	if !o.NeedsAttention && (linesChanged || prev.NeedsAttention) {
		assign(snap, ch, o)
	}
	o.Counts = counts(o, ch.CountUnpaid)
	if o.Counts && !p.Cancelled {
		// What this version takes beyond what the stored one already took.
		_, demand := demandOf(o)
		if prev.Counts {
			_, old := demandOf(prev)
			for sku, n := range old {
				demand[sku] -= n
			}
		}
		o.Oversold = o.Oversold || snap.Exceeds(ch.Code, demand)
	}
	o.State = stateOf(o)
	if err := tx.UpdateOrder(o, linesChanged); err != nil {
		return nil, err
	}
	if err := applyDelta(tx, before, contributionOf(o)); err != nil {
		return nil, err
	}
	recordOrder(tx, o, "order.update", fmt.Sprintf("order %s updated from %s: %s, %s, %s", o.ExternalID, ch.Code,
		describeLines(o), o.Payment, o.State))
	return o, nil
}

// resolveLines turns request lines into stored lines with their units. A
// line naming a SKU must name a known one. A line naming a listing that is
// not linked (or disabled) is an error for a placed order; for an import it
// is kept unresolved, the listing noted, and the order waits.
func resolveLines(tx *store.Tx, ch store.ChannelRow, lines []allot.Line, placed bool) ([]store.OrderLineRow, error) {
	r := newResolver()
	if err := r.load(tx, ch.ID, lines); err != nil {
		return nil, err
	}
	return r.resolve(tx, ch, lines, placed)
}

// resolver looks up, for many orders at once, the products, listings and
// bundle expansions their lines name: a few queries for a whole group of
// orders instead of a few per line.
type resolver struct {
	refs     map[string]store.ProductRef
	listings map[int64]map[string]store.ListingRow // channel → external id → listing
	parts    map[int64][]store.Part
}

func newResolver() *resolver {
	return &resolver{refs: map[string]store.ProductRef{}, listings: map[int64]map[string]store.ListingRow{}, parts: map[int64][]store.Part{}}
}

// load reads what the lines of one channel's order name, adding to what is
// loaded already.
func (r *resolver) load(tx *store.Tx, channelID int64, lines []allot.Line) error {
	return r.loadMany(tx, map[int64][][]allot.Line{channelID: {lines}})
}

// loadMany reads what the lines of many orders, by channel, name.
func (r *resolver) loadMany(tx *store.Tx, byChannel map[int64][][]allot.Line) error {
	var skus []string
	for channelID, orders := range byChannel {
		var ext []string
		for _, lines := range orders {
			for _, l := range lines {
				switch {
				case l.SKU != "":
					if _, ok := r.refs[l.SKU]; !ok {
						skus = append(skus, l.SKU)
					}
				case l.Listing != "":
					if _, ok := r.listings[channelID][l.Listing]; !ok {
						ext = append(ext, l.Listing)
					}
				}
			}
		}
		if len(ext) > 0 {
			found, err := tx.ListingsByExternal(channelID, ext)
			if err != nil {
				return err
			}
			if r.listings[channelID] == nil {
				r.listings[channelID] = map[string]store.ListingRow{}
			}
			for k, v := range found {
				r.listings[channelID][k] = v
			}
		}
	}
	if len(skus) > 0 {
		refs, err := tx.ProductRefs(skus)
		if err != nil {
			return err
		}
		for k, v := range refs {
			r.refs[k] = v
		}
	}
	var expand []store.ProductRef
	seen := map[int64]bool{}
	add := func(ref store.ProductRef) {
		if _, ok := r.parts[ref.ID]; !ok && !seen[ref.ID] {
			seen[ref.ID] = true
			expand = append(expand, ref)
		}
	}
	for _, ref := range r.refs {
		add(ref)
	}
	for _, ls := range r.listings {
		for _, l := range ls {
			if l.ProductID != nil {
				add(store.ProductRef{ID: *l.ProductID, SKU: l.SKU, Bundle: l.Bundle})
			}
		}
	}
	if len(expand) == 0 {
		return nil
	}
	parts, err := tx.Expansion(expand)
	if err != nil {
		return err
	}
	for k, v := range parts {
		r.parts[k] = v
	}
	return nil
}

// resolve resolves one order's lines from what load read.
func (r *resolver) resolve(tx *store.Tx, ch store.ChannelRow, lines []allot.Line, placed bool) ([]store.OrderLineRow, error) {
	out := make([]store.OrderLineRow, len(lines))
	for i, l := range lines {
		out[i] = store.OrderLineRow{Listing: l.Listing, Quantity: l.Quantity}
		if l.SKU != "" {
			ref, ok := r.refs[l.SKU]
			if !ok {
				return nil, allot.FieldError(lineField(i, "sku"), "unknown SKU %q", l.SKU)
			}
			out[i].ProductID, out[i].SKU, out[i].Bundle = ref.ID, ref.SKU, ref.Bundle
			continue
		}
		lr, found := r.listings[ch.ID][l.Listing]
		switch {
		case found && lr.ProductID != nil && lr.Enabled:
			out[i].ProductID, out[i].SKU, out[i].Bundle = *lr.ProductID, lr.SKU, lr.Bundle
		case placed && found && lr.ProductID != nil:
			return nil, allot.FieldError(lineField(i, "listing"), "listing %q is disabled on %s", l.Listing, ch.Code)
		case placed:
			return nil, allot.FieldError(lineField(i, "listing"), "listing %q is not linked to a product on %s", l.Listing, ch.Code)
		case !found:
			if err := tx.NoteListing(ch.ID, l.Listing); err != nil {
				return nil, err
			}
		}
	}
	for i := range out {
		if out[i].ProductID == 0 {
			continue
		}
		ps := r.parts[out[i].ProductID]
		if len(ps) == 0 {
			return nil, allot.FieldError(lineField(i, "sku"), "bundle %q has no components", out[i].SKU)
		}
		for _, p := range ps {
			out[i].Units = append(out[i].Units, store.Unit{ProductID: p.ProductID, SKU: p.SKU, PerLine: p.PerLine})
		}
	}
	return out, nil
}

// assign picks the order's warehouse and, for each unit, the allocation
// that covers its (channel, SKU) now, which it consumes.
func assign(snap *store.Snapshot, ch store.ChannelRow, o *store.OrderRow) {
	_, demand := demandOf(o)
	o.WarehouseID, o.Warehouse = 0, ""
	if w := snap.AssignWarehouse(ch.Code, demand); w != "" {
		o.WarehouseID, o.Warehouse = snap.WarehouseOf[w], w
	}
	for i := range o.Lines {
		for j := range o.Lines[i].Units {
			u := &o.Lines[i].Units[j]
			u.AllocationID = 0
			if a := snap.Covering(ch.Code, u.SKU); a != nil {
				u.AllocationID = a.ID
			}
		}
	}
}

// counts says whether an order counts against the stock: not waiting for a
// listing, not cancelled, and paid, or unpaid with payment terms on a
// channel that counts those. A live hold always counts.
func counts(o *store.OrderRow, countUnpaid bool) bool {
	if o.NeedsAttention || o.State == allot.Cancelled || allCancelled(o) {
		return false
	}
	if o.Kind == allot.Hold {
		return true
	}
	return o.Payment == allot.Paid || (o.Payment == allot.Terms && countUnpaid)
}

func allCancelled(o *store.OrderRow) bool {
	for _, l := range o.Lines {
		if l.Cancelled < l.Quantity {
			return false
		}
	}
	return true
}

// stateOf derives an order's state from its lines.
func stateOf(o *store.OrderRow) allot.OrderState {
	if allCancelled(o) {
		return allot.Cancelled
	}
	open, shipped := 0, 0
	for _, l := range o.Lines {
		open += l.Open()
		shipped += l.Shipped
	}
	switch {
	case open == 0:
		return allot.Shipped
	case shipped > 0:
		return allot.PartiallyShipped
	}
	return allot.Open
}

func unresolved(o *store.OrderRow) bool {
	for _, l := range o.Lines {
		if l.ProductID == 0 {
			return true
		}
	}
	return false
}

// demandOf sums an order's units per SKU of product: the SKUs in order of
// first appearance, and the demand.
func demandOf(o *store.OrderRow) ([]string, map[string]int) {
	var skus []string
	demand := map[string]int{}
	for _, l := range o.Lines {
		for _, u := range l.Units {
			if _, ok := demand[u.SKU]; !ok {
				skus = append(skus, u.SKU)
			}
			demand[u.SKU] += (l.Quantity - l.Cancelled) * u.PerLine
		}
	}
	return skus, demand
}

func unitProducts(o *store.OrderRow) []int64 {
	var ids []int64
	for _, l := range o.Lines {
		for _, u := range l.Units {
			ids = append(ids, u.ProductID)
		}
	}
	return ids
}

// contribution is what an order adds to the counters: committed units per
// (product, warehouse) and consumed units per (allocation, product).
type contribution struct {
	committed map[[2]int64]int
	consumed  map[[2]int64]int
}

// contributionOf is what a counted order holds: its open units, committed
// at its warehouse, and its units not cancelled (shipped ones included),
// consumed from the allocation each took. Holds are not in the counters:
// the store sums live holds when it reads, so that they expire alone.
func contributionOf(o *store.OrderRow) contribution {
	c := contribution{committed: map[[2]int64]int{}, consumed: map[[2]int64]int{}}
	if o == nil || !o.Counts || o.Kind == allot.Hold {
		return c
	}
	for _, l := range o.Lines {
		for _, u := range l.Units {
			if o.WarehouseID != 0 {
				c.committed[[2]int64{u.ProductID, o.WarehouseID}] += l.Open() * u.PerLine
			}
			if u.AllocationID != 0 {
				c.consumed[[2]int64{u.AllocationID, u.ProductID}] += (l.Quantity - l.Cancelled) * u.PerLine
			}
		}
	}
	return c
}

// applyDelta moves the counters from what before held to what after holds,
// and touches the products whose quantities that changes.
func applyDelta(tx *store.Tx, before, after contribution) error {
	committed := map[[2]int64]int{}
	consumed := map[[2]int64]int{}
	for k, n := range after.committed {
		committed[k] += n
	}
	for k, n := range before.committed {
		committed[k] -= n
	}
	for k, n := range after.consumed {
		consumed[k] += n
	}
	for k, n := range before.consumed {
		consumed[k] -= n
	}
	var cs, us []store.Delta
	for k, d := range committed {
		if d != 0 {
			cs = append(cs, store.Delta{Key: k, N: d})
			tx.Touch(k[0])
		}
	}
	for k, d := range consumed {
		if d != 0 {
			us = append(us, store.Delta{Key: k, N: d})
			tx.Touch(k[1])
		}
	}
	if err := tx.AddCommittedMany(cs); err != nil {
		return err
	}
	return tx.AddConsumedMany(us)
}

func sameLines(o *store.OrderRow, lines []allot.Line) bool {
	if len(o.Lines) != len(lines) {
		return false
	}
	for i, l := range lines {
		ol := o.Lines[i]
		if ol.Quantity != l.Quantity || ol.Listing != l.Listing || (l.Listing == "" && ol.SKU != l.SKU) {
			return false
		}
	}
	return true
}

func sameOrder(o *store.OrderRow, p OrderParams) bool {
	return o.Payment == p.Payment && sameLines(o, p.Lines)
}

func cloneOrder(o *store.OrderRow) *store.OrderRow {
	c := *o
	c.Lines = make([]store.OrderLineRow, len(o.Lines))
	for i, l := range o.Lines {
		l.Units = slices.Clone(l.Units)
		c.Lines[i] = l
	}
	return &c
}

func describeLines(o *store.OrderRow) string {
	parts := make([]string, len(o.Lines))
	for i, l := range o.Lines {
		name := l.SKU
		if name == "" {
			name = "listing " + l.Listing
		}
		parts[i] = fmt.Sprintf("%d × %s", l.Quantity, name)
	}
	return strings.Join(parts, ", ")
}

func describeShortfall(short []allot.Shortfall) string {
	parts := make([]string, len(short))
	for i, s := range short {
		parts[i] = fmt.Sprintf("%s requested %d, sellable %d", s.SKU, s.Requested, s.Sellable)
	}
	return strings.Join(parts, "; ")
}

// recordOrder adds an order's change to the history: one entry under its
// SKU when it takes one product, else a summary entry and one under each
// SKU it takes, so that a SKU's history shows every order that moved it.
func recordOrder(tx *store.Tx, o *store.OrderRow, action, summary string) {
	skus, demand := demandOf(o)
	if len(skus) == 1 {
		tx.Record(action, skus[0], o.Channel, summary, orderEntry{o.ExternalID, o.ID, demand[skus[0]]})
		return
	}
	tx.Record(action, "", o.Channel, summary, nil)
	for _, sku := range skus {
		tx.Record(action, sku, o.Channel, fmt.Sprintf("order %s: %d × %s (%s, %s)", o.ExternalID, demand[sku], sku, o.Payment, o.State),
			orderEntry{o.ExternalID, o.ID, demand[sku]})
	}
}

// orderEntry is the detail of an order's history entry for one SKU. Its
// fields are in the order of their names, the order in which the map it
// replaced was written: the entries read the same. A struct is written
// without sorting keys or boxing values, a flash sale's every order.
type orderEntry struct {
	ExternalID string `json:"external_id"`
	Order      int64  `json:"order"`
	Units      int    `json:"units"`
}

// prefixed adds prefix to the field of an Invalid error: a CSV line, say.
func prefixed(err error, prefix string) error {
	if prefix == "" {
		return err
	}
	if e, ok := err.(*allot.Error); ok && e.Field != "" {
		c := *e
		c.Field = prefix + c.Field
		return &c
	}
	return err
}

// recount brings the counters of orders in line with their channel's
// count_unpaid setting, after it changed.
func recount(tx *store.Tx, orders []*store.OrderRow) error {
	for _, o := range orders {
		ch, err := tx.Channel(o.Channel)
		if err != nil {
			return err
		}
		before := contributionOf(o)
		if err := tx.LockProducts(unitProducts(o)); err != nil {
			return err
		}
		o.Counts = counts(o, ch.CountUnpaid)
		if err := tx.UpdateOrder(o, false); err != nil {
			return err
		}
		if err := applyDelta(tx, before, contributionOf(o)); err != nil {
			return err
		}
	}
	return nil
}

// reprocessChannel retries the channel's orders waiting in needs attention.
func reprocessChannel(tx *store.Tx, channelID int64) error {
	orders, err := tx.OrdersNeedingAttention(channelID)
	if err != nil {
		return err
	}
	for _, o := range orders {
		if _, err := reprocess(tx, o); err != nil {
			return err
		}
	}
	return nil
}

// reprocess resolves the listings of an order waiting in needs attention;
// once all are linked, the order counts like any other, checked for
// oversell at this moment. It reports whether the order left needs attention.
func reprocess(tx *store.Tx, o *store.OrderRow) (bool, error) {
	ch, err := tx.Channel(o.Channel)
	if err != nil {
		return false, err
	}
	lines := make([]allot.Line, len(o.Lines))
	for i, l := range o.Lines {
		lines[i] = allot.Line{SKU: l.SKU, Listing: l.Listing, Quantity: l.Quantity}
		if l.Listing != "" {
			lines[i].SKU = ""
		}
	}
	resolved, err := resolveLines(tx, ch, lines, false)
	if err != nil {
		return false, err
	}
	before := contributionOf(o)
	for i := range resolved {
		resolved[i].Shipped, resolved[i].Cancelled = o.Lines[i].Shipped, o.Lines[i].Cancelled
	}
	o.Lines = resolved
	if unresolved(o) {
		return false, nil
	}
	o.NeedsAttention = false
	ids := unitProducts(o)
	if err := tx.LockProducts(ids); err != nil {
		return false, err
	}
	snap, err := tx.Snapshot(ids)
	if err != nil {
		return false, err
	}
	assign(snap, ch, o)
	o.Counts = counts(o, ch.CountUnpaid)
	if o.Counts {
		_, demand := demandOf(o)
		o.Oversold = o.Oversold || snap.Exceeds(ch.Code, demand)
	}
	o.State = stateOf(o)
	if err := tx.UpdateOrder(o, true); err != nil {
		return false, err
	}
	if err := applyDelta(tx, before, contributionOf(o)); err != nil {
		return false, err
	}
	recordOrder(tx, o, "order.reprocess", fmt.Sprintf("order %s no longer needs attention: %s", o.ExternalID, describeLines(o)))
	return true, nil
}

// ReprocessOrder retries one order waiting in needs attention.
func (s *Service) ReprocessOrder(ctx context.Context, who Actor, channel, externalID string) (allot.Order, error) {
	var out allot.Order
	err := s.write(ctx, who, func(tx *store.Tx) error {
		o, err := findOrder(tx, channel, externalID)
		if err != nil {
			return err
		}
		if !o.NeedsAttention {
			out = o.Public()
			return nil
		}
		ok, err := reprocess(tx, o)
		if err != nil {
			return err
		}
		if !ok {
			return allot.Errorf(allot.Conflict, "order %s still has lines whose listing is not linked or is disabled", externalID)
		}
		out = o.Public()
		return nil
	})
	return out, err
}

func findOrder(tx *store.Tx, channel, externalID string) (*store.OrderRow, error) {
	ch, err := tx.Channel(channel)
	if err != nil {
		return nil, err
	}
	o, found, err := tx.OrderByKey(ch.ID, externalID)
	if err != nil {
		return nil, err
	}
	if !found || o.Kind == allot.Hold {
		return nil, allot.Errorf(allot.NotFound, "order %q not found on channel %s", externalID, channel)
	}
	return o, nil
}

// GetOrder reads one order.
func (s *Service) GetOrder(ctx context.Context, who Actor, channel, externalID string) (allot.Order, error) {
	var out allot.Order
	err := s.read(ctx, who, func(tx *store.Tx) error {
		o, err := findOrder(tx, channel, externalID)
		if err == nil {
			out = o.Public()
		}
		return err
	})
	return out, err
}

// ListOrders lists orders, newest first.
func (s *Service) ListOrders(ctx context.Context, who Actor, f store.OrderFilter) ([]allot.Order, error) {
	var out []allot.Order
	err := s.read(ctx, who, func(tx *store.Tx) error {
		os, err := tx.Orders(f)
		for _, o := range os {
			out = append(out, o.Public())
		}
		return err
	})
	return out, err
}

// CancelOrder cancels an order's open units: all of them, or those named by
// lines (SKU or listing as ordered, and a quantity). They go back to the
// stock and to the allocation they consumed.
func (s *Service) CancelOrder(ctx context.Context, who Actor, channel, externalID string, lines []allot.Line) (allot.Order, error) {
	return s.progress(ctx, who, channel, externalID, lines, "cancel")
}

// ShipOrder ships an order's open units: all of them, or those named by
// lines. Shipped units leave committed and the warehouse's stock together.
func (s *Service) ShipOrder(ctx context.Context, who Actor, channel, externalID string, lines []allot.Line) (allot.Order, error) {
	return s.progress(ctx, who, channel, externalID, lines, "ship")
}

func (s *Service) progress(ctx context.Context, who Actor, channel, externalID string, lines []allot.Line, verb string) (allot.Order, error) {
	if lines != nil {
		if err := checkLines(lines, true, 1); err != nil {
			return allot.Order{}, err
		}
	}
	var out allot.Order
	err := s.write(ctx, who, func(tx *store.Tx) error {
		o, err := findOrder(tx, channel, externalID)
		if err != nil {
			return err
		}
		ch, err := tx.Channel(channel)
		if err != nil {
			return err
		}
		after := cloneOrder(o)
		moved, err := take(after, lines, verb)
		if err != nil {
			return err
		}
		if moved == nil {
			out = o.Public() // nothing open: cancelling or shipping again changes nothing
			return nil
		}
		if verb == "ship" && o.WarehouseID == 0 {
			return allot.Errorf(allot.Conflict, "order %s has no warehouse to ship from: its channel has none", externalID)
		}
		if err := tx.LockProducts(unitProducts(o)); err != nil {
			return err
		}
		if verb == "ship" {
			for i, n := range moved {
				for _, u := range after.Lines[i].Units {
					if err := tx.MoveStock(u.ProductID, o.WarehouseID, -n*u.PerLine); err != nil {
						return err
					}
					tx.Touch(u.ProductID)
				}
			}
		}
		after.Counts = counts(after, ch.CountUnpaid)
		after.State = stateOf(after)
		if err := tx.UpdateOrder(after, false); err != nil {
			return err
		}
		if err := applyDelta(tx, contributionOf(o), contributionOf(after)); err != nil {
			return err
		}
		for i, n := range moved {
			l := after.Lines[i]
			for _, u := range l.Units {
				tx.Record("order."+verb, u.SKU, channel, fmt.Sprintf("order %s: %s %d × %s", externalID, pastTense(verb), n*u.PerLine, u.SKU),
					map[string]any{"order": o.ID, "external_id": externalID, "units": n * u.PerLine})
			}
		}
		out = after.Public()
		return nil
	})
	return out, err
}

func pastTense(verb string) string {
	if verb == "ship" {
		return "shipped"
	}
	return "cancelled"
}

// take marks open units of o shipped or cancelled: all of them (lines nil)
// or as many as each request line asks, from the order's lines with that
// SKU or listing. It returns the units moved per line index, nil if none.
func take(o *store.OrderRow, lines []allot.Line, verb string) (map[int]int, error) {
	moved := map[int]int{}
	mark := func(i, n int) {
		if verb == "ship" {
			if o.Lines[i].ProductID == 0 {
				return
			}
			o.Lines[i].Shipped += n
		} else {
			o.Lines[i].Cancelled += n
		}
		moved[i] += n
	}
	if lines == nil {
		for i, l := range o.Lines {
			if n := l.Open(); n > 0 {
				mark(i, n)
			}
		}
	}
	for r, req := range lines {
		want := req.Quantity
		open := 0
		for _, l := range o.Lines {
			if matches(l, req) {
				open += l.Open()
			}
		}
		if open == 0 {
			name := req.SKU + req.Listing
			return nil, allot.FieldError(lineField(r, "sku"), "order %s has no open line for %q", o.ExternalID, name)
		}
		if want > open {
			return nil, allot.FieldError(lineField(r, "quantity"), "only %d open units to %s, not %d", open, verb, want)
		}
		for i, l := range o.Lines {
			if want == 0 {
				break
			}
			if matches(l, req) {
				n := min(want, l.Open())
				if verb == "ship" && l.ProductID == 0 {
					return nil, allot.Errorf(allot.Conflict, "line %d waits for its listing to be linked; it cannot ship", i)
				}
				mark(i, n)
				want -= n
			}
		}
	}
	if len(moved) == 0 {
		return nil, nil
	}
	return moved, nil
}

func matches(l store.OrderLineRow, req allot.Line) bool {
	if req.Listing != "" {
		return l.Listing == req.Listing
	}
	return l.SKU == req.SKU
}

// ImportDelivery imports an order a channel delivered (a webhook), once per
// delivery id: a delivery seen before changes nothing and reports
// duplicate. The receipt is written in the import's transaction.
func (s *Service) ImportDelivery(ctx context.Context, who Actor, deliveryID string, p OrderParams) (allot.Order, bool, error) {
	if err := checkOrder(&p, allot.Imported); err != nil {
		return allot.Order{}, false, err
	}
	var out allot.Order
	var duplicate bool
	err := s.write(ctx, who, func(tx *store.Tx) error {
		duplicate = false
		ch, err := tx.Channel(p.Channel)
		if err != nil {
			return err
		}
		if deliveryID != "" {
			fresh, err := tx.ReceiveWebhook(ch.ID, deliveryID)
			if err != nil {
				return err
			}
			if !fresh {
				duplicate = true
				return nil
			}
		}
		o, _, err := importOrder(tx, p, "")
		if err != nil {
			return err
		}
		out = o.Public()
		return nil
	})
	return out, duplicate, err
}

// ChannelOwner finds who owns a channel that sent something: among the
// channels of that code and platform, across merchants, the one whose
// settings open it (a webhook secret verifying the signature). NotFound if
// none does.
func (s *Service) ChannelOwner(ctx context.Context, platform allot.Platform, code string, opens func(settings map[string]any) bool) (Actor, error) {
	owners, err := s.DB.ChannelsByCode(ctx, code, string(platform))
	if err != nil {
		return Actor{}, err
	}
	for _, o := range owners {
		var settings map[string]any
		if json.Unmarshal([]byte(o.Settings), &settings) != nil {
			continue
		}
		if opens(settings) {
			return Actor{Merchant: o.Merchant, Name: string(platform) + " webhook"}, nil
		}
	}
	return Actor{}, allot.Errorf(allot.Unauthorized, "the signature does not match channel %q", code)
}
