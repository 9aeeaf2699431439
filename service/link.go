package service

import (
	"context"
	"fmt"

	"github.com/allot/allot/store"
)

// RemoteListing is an item a channel's catalogue holds: its id, what the
// channel needs to push its quantity, and what allot links it by.
type RemoteListing struct {
	ExternalID string
	PushRef    string
	SKU        string
	Barcode    string
}

// LinkResult says what linking a channel's catalogue did.
type LinkResult struct {
	Channel   string   `json:"channel"`
	Linked    int      `json:"linked"`    // newly linked, by SKU or barcode
	Kept      int      `json:"kept"`      // already linked, left as they were
	Unmatched []string `json:"unmatched"` // listings no product matches (at most 20 named)
	Total     int      `json:"total"`
}

// LinkListings links a channel's catalogue to products and bundles: by SKU,
// then by barcode. A listing already linked is kept as it is (a link made
// by hand wins); one no product matches is recorded unlinked, so that
// readiness shows it. Orders waiting for these listings are reprocessed.
func (s *Service) LinkListings(ctx context.Context, who Actor, channel string, remote []RemoteListing) (LinkResult, error) {
	res := LinkResult{Channel: channel, Unmatched: []string{}, Total: len(remote)}
	err := s.write(ctx, who, func(tx *store.Tx) error {
		res = LinkResult{Channel: channel, Unmatched: []string{}, Total: len(remote)}
		c, err := tx.Channel(channel)
		if err != nil {
			return err
		}
		existing, err := tx.Listings(c.ID)
		if err != nil {
			return err
		}
		linked := map[string]bool{}
		for _, l := range existing {
			linked[l.ExternalID] = l.ProductID != nil
		}
		skus := make([]string, 0, len(remote))
		for _, r := range remote {
			if r.SKU != "" {
				skus = append(skus, r.SKU)
			}
		}
		bySKU, err := tx.ProductRefs(skus)
		if err != nil {
			return err
		}
		byBarcode, err := tx.ProductsByBarcode()
		if err != nil {
			return err
		}
		for _, r := range remote {
			if linked[r.ExternalID] {
				res.Kept++
			} else {
				ref, ok := bySKU[r.SKU]
				if !ok && r.Barcode != "" {
					ref, ok = byBarcode[r.Barcode]
				}
				if ok {
					id := ref.ID
					if err := tx.PutListing(c.ID, r.ExternalID, &id, true); err != nil {
						return err
					}
					tx.Touch(id)
					res.Linked++
					tx.Record("listing.link", ref.SKU, channel, fmt.Sprintf("listing %s linked to %s by %s", r.ExternalID, ref.SKU,
						map[bool]string{true: "SKU", false: "barcode"}[ref.SKU == r.SKU]), nil)
				} else {
					if err := tx.NoteListing(c.ID, r.ExternalID); err != nil {
						return err
					}
					if len(res.Unmatched) < 20 {
						res.Unmatched = append(res.Unmatched, r.ExternalID)
					}
				}
			}
			if r.PushRef != "" {
				if err := tx.SetPushRef(c.ID, r.ExternalID, r.PushRef); err != nil {
					return err
				}
			}
		}
		if res.Linked > 0 {
			return reprocessChannel(tx, c.ID)
		}
		return nil
	})
	return res, err
}
