package service

import (
	"context"
	"fmt"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/store"
)

// Bulk imports (the CSV files) run in one transaction each: a file is
// applied whole or not at all, and an error names the file's line.

// ProductLine is a product (or bundle) read from line Line of a file.
type ProductLine struct {
	Line int
	allot.Product
}

// StockLine is a stock report read from line Line of a file, or, when
// Where is set, from the place it names as a field prefix, as
// "reports[3]." of a JSON body.
type StockLine struct {
	Line  int
	Where string
	allot.StockReport
}

func (l StockLine) where() string {
	if l.Where != "" {
		return l.Where
	}
	return at(l.Line)
}

// ListingLine is a listing read from line Line of a file.
type ListingLine struct {
	Line int
	ListingParams
}

// AllocationLines is one allocation read from one or more lines of a file;
// Lines[i] is the file line of Params.Lines[i].
type AllocationLines struct {
	Lines  []int
	Params AllocationParams
}

// OrderLines is one order read from one or more lines of a file.
type OrderLines struct {
	Lines  []int
	Params OrderParams
}

func at(line int) string { return fmt.Sprintf("line %d.", line) }

// ImportProducts creates or updates products and bundles. Products are
// written many rows a statement; bundles then one by one, so that their
// components may come anywhere in the file.
func (s *Service) ImportProducts(ctx context.Context, who Actor, rows []ProductLine) (int, error) {
	for _, r := range rows {
		if err := checkProduct(r.Product, at(r.Line)); err != nil {
			return 0, err
		}
	}
	return len(rows), s.write(ctx, who, func(tx *store.Tx) error {
		skus := make([]string, len(rows))
		for i, r := range rows {
			skus[i] = r.SKU
		}
		refs, err := tx.ProductRefs(skus)
		if err != nil {
			return err
		}
		var fresh []allot.Product
		index := map[string]int{}
		for _, r := range rows {
			if r.Components != nil {
				continue
			}
			if _, ok := refs[r.SKU]; ok {
				if _, err := putProduct(tx, r.Product, at(r.Line)); err != nil { // an update: rare in bulk
					return err
				}
				continue
			}
			if i, ok := index[r.SKU]; ok {
				fresh[i] = r.Product // the file names it twice: the later line wins
				continue
			}
			index[r.SKU] = len(fresh)
			fresh = append(fresh, r.Product)
		}
		if err := tx.InsertProducts(fresh); err != nil {
			return err
		}
		for _, p := range fresh {
			tx.Record("product.put", p.SKU, "", fmt.Sprintf("created product %q", p.Name), p)
		}
		for _, r := range rows {
			if r.Components != nil {
				if _, err := putProduct(tx, r.Product, at(r.Line)); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// ImportStock applies stock reports; older ones are ignored as always. It
// returns how many were applied. A whole file is read and written with a
// few statements, not a few per line: a warehouse reports its whole stock
// at once.
func (s *Service) ImportStock(ctx context.Context, who Actor, rows []StockLine) (int, error) {
	now := s.Now()
	for i := range rows {
		if err := checkStockReport(&rows[i].StockReport, rows[i].where(), now); err != nil {
			return 0, err
		}
	}
	applied := 0
	err := s.write(ctx, who, func(tx *store.Tx) error {
		applied = 0 // the transaction may run again after a conflict
		skus := make([]string, len(rows))
		for i, r := range rows {
			skus[i] = r.SKU
		}
		refs, err := tx.ProductRefs(skus)
		if err != nil {
			return err
		}
		ws, wids, err := tx.Warehouses()
		if err != nil {
			return err
		}
		warehouse := map[string]int64{}
		for i, w := range ws {
			warehouse[w.Code] = wids[i]
		}
		ids := make([]int64, 0, len(rows))
		for _, r := range rows {
			ref, ok := refs[r.SKU]
			switch {
			case !ok:
				return allot.FieldError(r.where()+"sku", "unknown SKU %q", r.SKU)
			case ref.Bundle:
				return allot.FieldError(r.where()+"sku", "%q is a bundle; bundles have no stock of their own", r.SKU)
			}
			if _, ok := warehouse[r.Warehouse]; !ok {
				return allot.FieldError(r.where()+"warehouse", "unknown warehouse %q", r.Warehouse)
			}
			ids = append(ids, ref.ID)
		}
		if err := tx.LockProducts(ids); err != nil {
			return err
		}
		current, err := tx.StockRows(ids)
		if err != nil {
			return err
		}
		// In file order: a later line about the same row sees the earlier.
		latest := map[store.StockKey]int{}
		var reports []store.Report
		for _, r := range rows {
			k := store.StockKey{Product: refs[r.SKU].ID, Warehouse: warehouse[r.Warehouse]}
			if r.AsOf.Before(current[k].ChangedAt) {
				tx.Record("stock.ignored", r.SKU, "", fmt.Sprintf("ignored report of %d in %s as of %s: older than the newest change applied",
					r.InWarehouse, r.Warehouse, r.AsOf.Format(time.RFC3339)), r.StockReport)
				continue
			}
			cur := current[k]
			cur.InWarehouse, cur.Damaged, cur.ChangedAt = r.InWarehouse, r.Damaged, r.AsOf
			current[k] = cur
			rep := store.Report{StockKey: k, InWarehouse: r.InWarehouse, Damaged: r.Damaged, AsOf: r.AsOf}
			if i, ok := latest[k]; ok {
				reports[i] = rep // one row a statement may change once
			} else {
				latest[k] = len(reports)
				reports = append(reports, rep)
			}
			applied++
			tx.Record("stock.report", r.SKU, "", fmt.Sprintf("%s: in warehouse %d, damaged %d (as of %s)", r.Warehouse, r.InWarehouse,
				r.Damaged, r.AsOf.Format(time.RFC3339)), r.StockReport)
		}
		if err := tx.ReportStockMany(reports); err != nil {
			return err
		}
		touchMany(tx, ids)
		return nil
	})
	return applied, err
}

// touchMany notes products whose quantities may have changed; past a few
// thousand it marks them all at once, which the synchronisation handles
// in one pass rather than a mark each.
func touchMany(tx *store.Tx, ids []int64) {
	if len(ids) > 2000 {
		tx.TouchAll()
		return
	}
	tx.Touch(ids...)
}

// ImportListings links listings, many rows a statement, then reprocesses
// once each channel's orders that waited for a listing.
func (s *Service) ImportListings(ctx context.Context, who Actor, rows []ListingLine) (int, error) {
	for _, r := range rows {
		if err := checkKey(at(r.Line)+"external_id", r.ExternalID, MaxSKULen); err != nil {
			return 0, err
		}
	}
	return len(rows), s.write(ctx, who, func(tx *store.Tx) error {
		channels, err := tx.Channels()
		if err != nil {
			return err
		}
		byCode := map[string]store.ChannelRow{}
		for _, c := range channels {
			byCode[c.Code] = c
		}
		var skus []string
		for _, r := range rows {
			if r.SKU != "" {
				skus = append(skus, r.SKU)
			}
		}
		refs, err := tx.ProductRefs(skus)
		if err != nil {
			return err
		}
		index := map[[2]string]int{}
		var ups []store.ListingUpsert
		external := map[int64][]string{}
		var touched []int64
		for _, r := range rows {
			c, ok := byCode[r.Channel]
			if !ok {
				return allot.FieldError(at(r.Line)+"channel", "unknown channel %q", r.Channel)
			}
			u := store.ListingUpsert{ChannelID: c.ID, ExternalID: r.ExternalID, Enabled: r.Enabled == nil || *r.Enabled}
			if r.SKU != "" {
				ref, ok := refs[r.SKU]
				if !ok {
					return allot.FieldError(at(r.Line)+"sku", "unknown SKU %q", r.SKU)
				}
				u.ProductID = &ref.ID
				touched = append(touched, ref.ID)
			}
			key := [2]string{r.Channel, r.ExternalID}
			if i, ok := index[key]; ok {
				ups[i] = u // named twice: the later line wins
			} else {
				index[key] = len(ups)
				ups = append(ups, u)
				external[c.ID] = append(external[c.ID], r.ExternalID)
			}
			summary := fmt.Sprintf("listing %s linked to %s", r.ExternalID, r.SKU)
			if r.SKU == "" {
				summary = fmt.Sprintf("listing %s unlinked", r.ExternalID)
			}
			if !u.Enabled {
				summary += " (disabled)"
			}
			tx.Record("listing.put", r.SKU, r.Channel, summary, allot.Listing{Channel: r.Channel, ExternalID: r.ExternalID, SKU: r.SKU, Enabled: u.Enabled})
		}
		for id, ext := range external {
			prev, err := tx.ListingsByExternal(id, ext)
			if err != nil {
				return err
			}
			for _, l := range prev {
				if l.ProductID != nil {
					touched = append(touched, *l.ProductID)
				}
			}
		}
		if err := tx.PutListings(ups); err != nil {
			return err
		}
		touchMany(tx, touched)
		for id := range external {
			if err := reprocessChannel(tx, id); err != nil {
				return err
			}
		}
		return nil
	})
}

// ImportAllocations creates allocations.
func (s *Service) ImportAllocations(ctx context.Context, who Actor, rows []AllocationLines) (int, error) {
	return len(rows), s.write(ctx, who, func(tx *store.Tx) error {
		for _, r := range rows {
			if _, err := createAllocation(tx, r.Params, at(r.Lines[0])); err != nil {
				return lineOf(err, r.Lines)
			}
		}
		return nil
	})
}

// ImportOrders imports channel orders, as POST /v1/orders/import does.
func (s *Service) ImportOrders(ctx context.Context, who Actor, rows []OrderLines) (int, error) {
	return len(rows), s.write(ctx, who, func(tx *store.Tx) error {
		for _, r := range rows {
			if err := checkOrder(&r.Params, allot.Imported); err != nil {
				return lineOf(prefixed(err, at(r.Lines[0])), r.Lines)
			}
			if _, _, err := importOrder(tx, r.Params, at(r.Lines[0])); err != nil {
				return lineOf(err, r.Lines)
			}
		}
		return nil
	})
}

// lineOf rewrites "line F.lines[i].x", for a record spread over several
// file lines, into "line L.x" where L is the file line of its line i.
func lineOf(err error, lines []int) error {
	e, ok := err.(*allot.Error)
	if !ok || e.Field == "" {
		return err
	}
	var first, i int
	var rest string
	if n, _ := fmt.Sscanf(e.Field, "line %d.lines[%d]", &first, &i); n == 2 && i < len(lines) {
		idx := len(fmt.Sprintf("line %d.lines[%d]", first, i))
		rest = e.Field[idx:]
		c := *e
		c.Field = fmt.Sprintf("line %d%s", lines[i], rest)
		return &c
	}
	return err
}
