package service

import (
	"context"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/store"
)

// OverviewParams selects a page of the overview: the products whose SKU or
// name contains Query, Limit of them after skipping Offset.
type OverviewParams struct {
	Query  string
	Offset int
	Limit  int // 0: 50; at most 500
}

// Overview is one page of products × channels: what every channel may
// show of each product, with what needs a look.
type Overview struct {
	Total    int      // products matching the query, on every page
	Channels []string // channel codes, in the order the merchant created them
	Rows     []OverviewRow
	// Computed is how many products the page computed quantities for:
	// the page's own and their bundles' components, never the whole
	// catalogue.
	Computed int
}

// OverviewRow is one product of an overview page.
type OverviewRow struct {
	SKU         string
	Name        string
	Bundle      bool
	Available   int // over every warehouse
	Backordered int // over every warehouse
	Cells       map[string]OverviewCell
}

// OverviewCell is what one channel may show of one product.
type OverviewCell struct {
	Quantity    int
	Explanation string
	// Cut is what a use_available reserve of this channel stands for but
	// the stock could not serve.
	Cut int
	// Oversold counts the channel's orders of this product flagged
	// oversold and not yet shipped or cancelled.
	Oversold int
	// Unpushed lists the channel's listings of this product whose newest
	// quantity the channel has not confirmed yet.
	Unpushed []store.Unpushed
}

// Overview computes one page of the overview in one read transaction,
// reading and computing only the page's products.
func (s *Service) Overview(ctx context.Context, who Actor, p OverviewParams) (Overview, error) {
	if p.Limit <= 0 {
		p.Limit = 50
	}
	p.Limit = min(p.Limit, 500)
	var out Overview
	err := s.read(ctx, who, func(tx *store.Tx) error {
		matches, total, err := tx.SearchProducts(p.Query, p.Offset, p.Limit)
		if err != nil {
			return err
		}
		out.Total = total
		channels, err := tx.Channels()
		if err != nil {
			return err
		}
		for _, c := range channels {
			out.Channels = append(out.Channels, c.Code)
		}
		if len(matches) == 0 {
			return nil
		}
		ids := make([]int64, len(matches))
		for i, m := range matches {
			ids[i] = m.ID
		}
		snap, err := tx.Snapshot(ids)
		if err != nil {
			return err
		}
		out.Computed = len(snap.SKUs)
		unpushed, err := tx.UnpushedOf(ids)
		if err != nil {
			return err
		}
		oversold, err := tx.OversoldOf(ids)
		if err != nil {
			return err
		}
		for _, m := range matches {
			row := OverviewRow{SKU: m.SKU, Name: m.Name, Bundle: m.Bundle, Cells: map[string]OverviewCell{}}
			if sku := snap.SKUs[m.SKU]; sku != nil {
				for _, l := range sku.Stock {
					row.Available += l.Available()
					row.Backordered += l.Backordered()
				}
			}
			for _, c := range out.Channels {
				e := snap.Explain(c, m.SKU)
				cell := OverviewCell{Quantity: e.Quantity, Explanation: e.Text, Oversold: oversold[store.OversoldKey{Channel: c, SKU: m.SKU}]}
				for _, t := range e.Terms {
					if t.Kind == "cut" {
						cell.Cut += -t.Quantity
					}
				}
				for _, u := range unpushed {
					if u.Channel == c && u.SKU == m.SKU {
						cell.Unpushed = append(cell.Unpushed, u)
					}
				}
				row.Cells[c] = cell
			}
			out.Rows = append(out.Rows, row)
		}
		return nil
	})
	return out, err
}

// PublicationLog lists what was pushed to channels, newest first: for the
// listings of one product (sku), of one channel, or both.
func (s *Service) PublicationLog(ctx context.Context, who Actor, sku, channel string, since time.Time, limit int) ([]store.PublicationEntry, error) {
	var out []store.PublicationEntry
	err := s.read(ctx, who, func(tx *store.Tx) error {
		f := store.PublicationLogFilter{Since: since, Limit: limit}
		if sku != "" {
			ref, err := tx.ProductRef(sku)
			if err != nil {
				return err
			}
			f.ProductID = ref.ID
		}
		if channel != "" {
			c, err := tx.Channel(channel)
			if err != nil {
				return err
			}
			f.ChannelID = c.ID
		}
		var err error
		out, err = tx.PublicationLog(f)
		return err
	})
	return out, err
}

// ExplainAll explains what every channel may show of one SKU, in one read
// transaction, channels in the order they were created.
func (s *Service) ExplainAll(ctx context.Context, who Actor, sku string) ([]ExplainedQuantity, error) {
	var out []ExplainedQuantity
	err := s.read(ctx, who, func(tx *store.Tx) error {
		ref, err := tx.ProductRef(sku)
		if err != nil {
			return err
		}
		snap, err := tx.Snapshot([]int64{ref.ID})
		if err != nil {
			return err
		}
		channels, err := tx.Channels()
		if err != nil {
			return err
		}
		for _, ch := range channels {
			c := ch.Code
			e := snap.Explain(c, sku)
			q := ExplainedQuantity{Channel: c, Quantity: e.Quantity, Explanation: e.Text}
			if a := snap.Covering(c, sku); a != nil {
				q.Allocation, q.Purpose, q.Rule = a.ID, a.Purpose, a.Channels[c]
			}
			out = append(out, q)
		}
		return nil
	})
	return out, err
}

// ExplainedQuantity is what one channel may show of a SKU, why, and the
// allocation that covers the pair, if any.
type ExplainedQuantity struct {
	Channel     string
	Quantity    int
	Explanation string
	Allocation  int64 // 0: none
	Purpose     allot.Purpose
	Rule        allot.Rule
}
