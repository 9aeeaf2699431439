package service

import (
	"context"
	"fmt"

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

// StockLine is a stock report read from line Line of a file.
type StockLine struct {
	Line int
	allot.StockReport
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

// ImportProducts creates or updates products and bundles, in file order
// (a bundle's components must come before it or exist already).
func (s *Service) ImportProducts(ctx context.Context, who Actor, rows []ProductLine) (int, error) {
	return len(rows), s.write(ctx, who, func(tx *store.Tx) error {
		for _, r := range rows {
			if _, err := putProduct(tx, r.Product, at(r.Line)); err != nil {
				return err
			}
		}
		return nil
	})
}

// ImportStock applies stock reports; older ones are ignored as always. It
// returns how many were applied.
func (s *Service) ImportStock(ctx context.Context, who Actor, rows []StockLine) (int, error) {
	applied := 0
	err := s.write(ctx, who, func(tx *store.Tx) error {
		applied = 0 // the transaction may run again after a conflict
		for _, r := range rows {
			res, err := reportStock(tx, r.StockReport, at(r.Line))
			if err != nil {
				return err
			}
			if res.Applied {
				applied++
			}
		}
		return nil
	})
	return applied, err
}

// ImportListings links listings.
func (s *Service) ImportListings(ctx context.Context, who Actor, rows []ListingLine) (int, error) {
	return len(rows), s.write(ctx, who, func(tx *store.Tx) error {
		for _, r := range rows {
			if _, err := putListing(tx, r.ListingParams, at(r.Line)); err != nil {
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
