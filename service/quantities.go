package service

import (
	"context"
	"sort"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/engine"
	"github.com/allot/allot/store"
)

// Quantity is what a channel may show of one SKU, through one listing
// (Listing nil: the channel has no listing of the SKU; manual and API
// channels sell by SKU).
type Quantity struct {
	SKU      string  `json:"sku"`
	Listing  *string `json:"listing"`
	Quantity int     `json:"quantity"`
}

// ChannelQuantities computes what a channel may show of every product and
// bundle: one entry per enabled linked listing, and one without listing for
// each SKU the channel has no listing of.
func (s *Service) ChannelQuantities(ctx context.Context, who Actor, channel string) ([]Quantity, error) {
	var out []Quantity
	err := s.read(ctx, who, func(tx *store.Tx) error {
		c, err := tx.Channel(channel)
		if err != nil {
			return err
		}
		snap, err := tx.Snapshot(nil)
		if err != nil {
			return err
		}
		listings, err := tx.Listings(c.ID)
		if err != nil {
			return err
		}
		listed := map[string]bool{}
		for _, l := range listings {
			if l.ProductID == nil {
				continue
			}
			listed[l.SKU] = true
			if !l.Enabled {
				continue
			}
			id := l.ExternalID
			out = append(out, Quantity{SKU: l.SKU, Listing: &id, Quantity: snap.Published(channel, l.SKU)})
		}
		for sku := range snap.SKUs {
			if !listed[sku] {
				out = append(out, Quantity{SKU: sku, Quantity: snap.Published(channel, sku)})
			}
		}
		sort.Slice(out, func(i, j int) bool {
			if out[i].SKU != out[j].SKU {
				return out[i].SKU < out[j].SKU
			}
			return out[i].Listing != nil && (out[j].Listing == nil || *out[i].Listing < *out[j].Listing)
		})
		return nil
	})
	return out, err
}

// Explain computes what a channel may show of one SKU, with the terms of
// the computation.
func (s *Service) Explain(ctx context.Context, who Actor, channel, sku string) (engine.Explanation, error) {
	var out engine.Explanation
	err := s.read(ctx, who, func(tx *store.Tx) error {
		if _, err := tx.Channel(channel); err != nil {
			return err
		}
		ref, err := tx.ProductRef(sku)
		if err != nil {
			return err
		}
		snap, err := tx.Snapshot([]int64{ref.ID})
		if err != nil {
			return err
		}
		out = snap.Explain(channel, sku)
		return nil
	})
	return out, err
}

// Quantities computes, for a set of SKUs (nil: all), what every channel may
// show: SKU → channel → quantity.
func (s *Service) Quantities(ctx context.Context, who Actor, skus []string) (map[string]map[string]int, error) {
	out := map[string]map[string]int{}
	err := s.read(ctx, who, func(tx *store.Tx) error {
		var ids []int64
		if skus != nil {
			refs, err := tx.ProductRefs(skus)
			if err != nil {
				return err
			}
			for _, sku := range skus {
				r, ok := refs[sku]
				if !ok {
					return allot.Errorf(allot.NotFound, "product %q not found", sku)
				}
				ids = append(ids, r.ID)
			}
			if ids == nil {
				return nil
			}
		}
		snap, err := tx.Snapshot(ids)
		if err != nil {
			return err
		}
		for sku := range snap.SKUs {
			if skus != nil && !contains(skus, sku) {
				continue
			}
			row := map[string]int{}
			for c := range snap.Channels {
				row[c] = snap.Published(c, sku)
			}
			out[sku] = row
		}
		return nil
	})
	return out, err
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// SyncStatus is what the synchronisation knows of a channel: its
// connection, what waits to be pushed, and the last publications.
type SyncStatus struct {
	Channel        string        `json:"channel"`
	LastSuccessAt  *time.Time    `json:"last_success_at"`
	LastErrorAt    *time.Time    `json:"last_error_at"`
	LastError      string        `json:"last_error"`
	DriftCheckedAt *time.Time    `json:"drift_checked_at"`
	DriftMended    int           `json:"drift_mended"`
	Pending        int           `json:"pending"`
	Failing        int           `json:"failing"`
	OldestPending  *time.Time    `json:"oldest_pending"`
	Publications   []Publication `json:"publications"`
}

// Publication is the last quantity pushed to a channel for a listing.
type Publication struct {
	Listing   string    `json:"listing"`
	SKU       string    `json:"sku"`
	Quantity  int       `json:"quantity"`
	PushedAt  time.Time `json:"pushed_at"`
	Confirmed bool      `json:"confirmed"`
}

// Sync reads a channel's synchronisation status.
func (s *Service) Sync(ctx context.Context, who Actor, channel string) (SyncStatus, error) {
	out := SyncStatus{Channel: channel, Publications: []Publication{}}
	err := s.read(ctx, who, func(tx *store.Tx) error {
		c, err := tx.Channel(channel)
		if err != nil {
			return err
		}
		st, err := tx.SyncStateOf(c.ID)
		if err != nil {
			return err
		}
		out.LastSuccessAt, out.LastErrorAt, out.LastError = st.LastSuccess, st.LastErrorAt, st.LastError
		out.DriftCheckedAt, out.DriftMended = st.DriftCheckedAt, st.DriftMended
		out.Pending, out.Failing, out.OldestPending = st.Pending, st.Failing, st.OldestPending
		pubs, err := tx.Publications(c.ID)
		for _, p := range pubs {
			out.Publications = append(out.Publications, Publication{Listing: p.ExternalID, SKU: p.SKU, Quantity: p.Quantity,
				PushedAt: p.PushedAt, Confirmed: p.Confirmed})
		}
		return err
	})
	return out, err
}
