package service

import (
	"context"
	"fmt"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/engine"
	"github.com/allot/allot/store"
)

// PutProduct creates or updates a product, or a bundle when p has components.
func (s *Service) PutProduct(ctx context.Context, who Actor, p allot.Product) (allot.Product, bool, error) {
	var created bool
	err := s.write(ctx, who, func(tx *store.Tx) error {
		var err error
		created, err = putProduct(tx, p, "")
		return err
	})
	return p, created, err
}

// putProduct validates and stores one product or bundle; field errors are
// prefixed with prefix (a CSV line, say).
func putProduct(tx *store.Tx, p allot.Product, prefix string) (bool, error) {
	if err := checkProduct(p, prefix); err != nil {
		return false, err
	}
	var refs []store.ProductRef
	if p.Components != nil {
		if len(p.Components) == 0 {
			return false, allot.FieldError(prefix+"components", "a bundle needs at least one component")
		}
		if len(p.Components) > 100 {
			return false, allot.FieldError(prefix+"components", "a bundle may have at most 100 components")
		}
		skus := make([]string, len(p.Components))
		seen := map[string]bool{}
		for i, c := range p.Components {
			f := fmt.Sprintf("%scomponents[%d]", prefix, i)
			if err := checkKey(f+".sku", c.SKU, MaxSKULen); err != nil {
				return false, err
			}
			if c.SKU == p.SKU {
				return false, allot.FieldError(f+".sku", "a bundle cannot contain itself")
			}
			if seen[c.SKU] {
				return false, allot.FieldError(f+".sku", "%q appears twice; give one line with the total quantity", c.SKU)
			}
			seen[c.SKU] = true
			if err := checkQuantity(f+".quantity", c.Quantity, 1); err != nil {
				return false, err
			}
			skus[i] = c.SKU
		}
		found, err := tx.ProductRefs(skus)
		if err != nil {
			return false, err
		}
		refs = make([]store.ProductRef, len(skus))
		for i, sku := range skus {
			r, ok := found[sku]
			switch {
			case !ok:
				return false, allot.FieldError(fmt.Sprintf("%scomponents[%d].sku", prefix, i), "unknown SKU %q", sku)
			case r.Bundle:
				return false, allot.FieldError(fmt.Sprintf("%scomponents[%d].sku", prefix, i), "%q is a bundle; a bundle is made of products", sku)
			}
			refs[i] = r
		}
	}
	ref, created, err := tx.PutProduct(p, refs)
	if err != nil {
		return false, err
	}
	action, verb := "product.put", "product"
	if p.Components != nil {
		action, verb = "bundle.put", "bundle"
	}
	if created {
		tx.Record(action, p.SKU, "", fmt.Sprintf("created %s %q", verb, p.Name), p)
	} else {
		tx.Record(action, p.SKU, "", fmt.Sprintf("updated %s %q", verb, p.Name), p)
	}
	tx.Touch(ref.ID)
	return created, nil
}

// checkProduct validates what a product says of itself.
func checkProduct(p allot.Product, prefix string) error {
	if err := checkKey(prefix+"sku", p.SKU, MaxSKULen); err != nil {
		return err
	}
	if p.Name == "" {
		return allot.FieldError(prefix+"name", "is required")
	}
	if err := checkText(prefix+"name", p.Name, MaxNameLen); err != nil {
		return err
	}
	return checkText(prefix+"barcode", p.Barcode, MaxSKULen)
}

// GetProduct reads one product or bundle.
func (s *Service) GetProduct(ctx context.Context, who Actor, sku string) (allot.Product, error) {
	var p allot.Product
	err := s.read(ctx, who, func(tx *store.Tx) error {
		var err error
		p, err = tx.Product(sku)
		return err
	})
	return p, err
}

// ListProducts lists products and bundles by SKU, after a SKU, at most limit.
func (s *Service) ListProducts(ctx context.Context, who Actor, after string, limit int) ([]allot.Product, error) {
	var ps []allot.Product
	err := s.read(ctx, who, func(tx *store.Tx) error {
		var err error
		ps, err = tx.Products(after, limit)
		return err
	})
	return ps, err
}

// PutWarehouse creates or renames a warehouse.
func (s *Service) PutWarehouse(ctx context.Context, who Actor, w allot.Warehouse) (bool, error) {
	if err := checkCode("code", w.Code); err != nil {
		return false, err
	}
	if w.Name == "" {
		w.Name = w.Code
	}
	if err := checkText("name", w.Name, MaxNameLen); err != nil {
		return false, err
	}
	var created bool
	err := s.write(ctx, who, func(tx *store.Tx) error {
		var err error
		if _, created, err = tx.PutWarehouse(w); err != nil {
			return err
		}
		tx.Record("warehouse.put", "", "", fmt.Sprintf("warehouse %s %q", w.Code, w.Name), w)
		// A new warehouse feeds every channel that takes all warehouses.
		tx.TouchAll()
		return nil
	})
	return created, err
}

// ListWarehouses lists the merchant's warehouses.
func (s *Service) ListWarehouses(ctx context.Context, who Actor) ([]allot.Warehouse, error) {
	var ws []allot.Warehouse
	err := s.read(ctx, who, func(tx *store.Tx) error {
		var err error
		ws, _, err = tx.Warehouses()
		return err
	})
	return ws, err
}

// StockResult says what became of a stock report.
type StockResult struct {
	Applied bool        `json:"applied"`
	Reason  string      `json:"reason,omitempty"`
	Stock   allot.Stock `json:"stock"`
}

// ReportStock applies a warehouse's stock report, unless it is older than
// the newest report, shipment or receipt already applied to that SKU and
// warehouse: then it is ignored, since it would bring back units that left.
// An unknown SKU or warehouse is NotFound, naming the field.
func (s *Service) ReportStock(ctx context.Context, who Actor, r allot.StockReport) (StockResult, error) {
	var res StockResult
	err := s.write(ctx, who, func(tx *store.Tx) error {
		var err error
		res, err = reportStock(tx, r, "")
		return err
	})
	return res, err
}

func checkStockReport(r *allot.StockReport, prefix string, now time.Time) error {
	if err := checkCode(prefix+"warehouse", r.Warehouse); err != nil {
		return err
	}
	if err := checkKey(prefix+"sku", r.SKU, MaxSKULen); err != nil {
		return err
	}
	if err := checkQuantity(prefix+"in_warehouse", r.InWarehouse, 0); err != nil {
		return err
	}
	if err := checkQuantity(prefix+"damaged", r.Damaged, 0); err != nil {
		return err
	}
	if r.Damaged > r.InWarehouse {
		return allot.FieldError(prefix+"damaged", "cannot exceed in_warehouse (%d > %d)", r.Damaged, r.InWarehouse)
	}
	if r.AsOf.IsZero() {
		r.AsOf = now
	}
	if r.AsOf.After(now.Add(5 * time.Minute)) {
		return allot.FieldError(prefix+"as_of", "is in the future (%s)", r.AsOf.Format(time.RFC3339))
	}
	return nil
}

func reportStock(tx *store.Tx, r allot.StockReport, prefix string) (StockResult, error) {
	if err := checkStockReport(&r, prefix, tx.Now); err != nil {
		return StockResult{}, err
	}
	ref, err := tx.ProductRef(r.SKU)
	if err != nil {
		return StockResult{}, ifMissingAt(err, prefix, "sku", "unknown SKU %q", r.SKU)
	}
	if ref.Bundle {
		return StockResult{}, allot.FieldError(prefix+"sku", "%q is a bundle; bundles have no stock of their own", r.SKU)
	}
	wid, err := tx.WarehouseID(r.Warehouse)
	if err != nil {
		return StockResult{}, ifMissingAt(err, prefix, "warehouse", "unknown warehouse %q", r.Warehouse)
	}
	if err := tx.LockProducts([]int64{ref.ID}); err != nil {
		return StockResult{}, err
	}
	row, err := tx.Stock(ref.ID, wid)
	if err != nil {
		return StockResult{}, err
	}
	res := StockResult{}
	if r.AsOf.Before(row.ChangedAt) {
		res.Reason = fmt.Sprintf("older than the newest change applied (%s)", row.ChangedAt.Format(time.RFC3339Nano))
		tx.Record("stock.ignored", r.SKU, "", fmt.Sprintf("ignored report of %d in %s as of %s: %s", r.InWarehouse, r.Warehouse,
			r.AsOf.Format(time.RFC3339), res.Reason), r)
	} else {
		if err := tx.ReportStock(ref.ID, wid, r.InWarehouse, r.Damaged, r.AsOf); err != nil {
			return StockResult{}, err
		}
		res.Applied = true
		row.InWarehouse, row.Damaged, row.ChangedAt = r.InWarehouse, r.Damaged, r.AsOf
		row.AsOf = &r.AsOf
		tx.Record("stock.report", r.SKU, "", fmt.Sprintf("%s: in warehouse %d, damaged %d (as of %s)", r.Warehouse, r.InWarehouse,
			r.Damaged, r.AsOf.Format(time.RFC3339)), r)
		tx.Touch(ref.ID)
	}
	res.Stock = stockOf(r.Warehouse, r.SKU, row)
	return res, nil
}

func stockOf(warehouse, sku string, row store.StockRow) allot.Stock {
	l := engine.Level{InWarehouse: row.InWarehouse, Damaged: row.Damaged, Committed: row.Committed}
	st := allot.Stock{Warehouse: warehouse, SKU: sku, InWarehouse: l.InWarehouse, Damaged: l.Damaged, Sellable: l.Sellable(),
		Committed: l.Committed, Available: l.Available(), Backordered: l.Backordered(), ChangedAt: row.ChangedAt}
	if row.AsOf != nil {
		st.AsOf = *row.AsOf
	}
	return st
}

// ListStock lists stock per SKU and warehouse (one SKU if sku is set), with
// live holds counted in committed.
func (s *Service) ListStock(ctx context.Context, who Actor, sku string) ([]allot.Stock, error) {
	var out []allot.Stock
	err := s.read(ctx, who, func(tx *store.Tx) error {
		rows, err := tx.StockList(sku)
		if err != nil {
			return err
		}
		var snap *store.Snapshot
		if sku != "" {
			ref, err := tx.ProductRef(sku)
			if err != nil {
				return err
			}
			snap, err = tx.Snapshot([]int64{ref.ID})
			if err != nil {
				return err
			}
		} else if snap, err = tx.Snapshot(nil); err != nil {
			return err
		}
		for _, r := range rows {
			l := snap.SKUs[r.SKU].Stock[r.Warehouse]
			out = append(out, stockOf(r.Warehouse, r.SKU, store.StockRow{InWarehouse: l.InWarehouse, Damaged: l.Damaged,
				Committed: l.Committed, AsOf: nonZero(r.AsOf), ChangedAt: r.ChangedAt}))
		}
		return nil
	})
	return out, err
}

func nonZero(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// CreateInbound records a shipment on its way to a warehouse.
func (s *Service) CreateInbound(ctx context.Context, who Actor, in allot.Inbound) (allot.Inbound, error) {
	if err := checkCode("warehouse", in.Warehouse); err != nil {
		return in, err
	}
	if err := checkLines(in.Lines, false, 1); err != nil {
		return in, err
	}
	var out allot.Inbound
	err := s.write(ctx, who, func(tx *store.Tx) error {
		wid, err := tx.WarehouseID(in.Warehouse)
		if err != nil {
			return ifMissing(err, "warehouse", "unknown warehouse %q", in.Warehouse)
		}
		refs, err := productLines(tx, in.Lines)
		if err != nil {
			return err
		}
		lines := make([]store.InboundLine, len(in.Lines))
		for i, l := range in.Lines {
			lines[i] = store.InboundLine{ProductID: refs[i].ID, SKU: l.SKU, Quantity: l.Quantity}
		}
		id, err := tx.CreateInbound(wid, in.ExpectedAt, lines)
		if err != nil {
			return err
		}
		for _, l := range in.Lines {
			tx.Record("inbound.create", l.SKU, "", fmt.Sprintf("inbound %d to %s: %d expected", id, in.Warehouse, l.Quantity), nil)
		}
		out, _, _, err = tx.Inbound(id)
		return err
	})
	return out, err
}

// productLines resolves lines that must name products (not bundles), each
// once.
func productLines(tx *store.Tx, lines []allot.Line) ([]store.ProductRef, error) {
	skus := make([]string, len(lines))
	for i, l := range lines {
		skus[i] = l.SKU
	}
	found, err := tx.ProductRefs(skus)
	if err != nil {
		return nil, err
	}
	refs := make([]store.ProductRef, len(lines))
	seen := map[string]bool{}
	for i, l := range lines {
		r, ok := found[l.SKU]
		switch {
		case !ok:
			return nil, allot.FieldError(lineField(i, "sku"), "unknown SKU %q", l.SKU)
		case r.Bundle:
			return nil, allot.FieldError(lineField(i, "sku"), "%q is a bundle; name its components", l.SKU)
		case seen[l.SKU]:
			return nil, allot.FieldError(lineField(i, "sku"), "%q appears twice; give one line with the total", l.SKU)
		}
		seen[l.SKU] = true
		refs[i] = r
	}
	return refs, nil
}

// checkLines validates the shape of lines: at least one, at most MaxLines,
// each naming a SKU (or, with listings, a listing instead) and a quantity
// of at least min.
func checkLines(lines []allot.Line, listings bool, min int) error {
	if len(lines) == 0 {
		return allot.FieldError("lines", "at least one line is required")
	}
	if len(lines) > MaxLines {
		return allot.FieldError("lines", "at most %d lines are allowed, not %d", MaxLines, len(lines))
	}
	for i, l := range lines {
		switch {
		case l.SKU != "" && l.Listing != "":
			return allot.FieldError(lineField(i, "sku"), "give a sku or a listing, not both")
		case l.SKU == "" && l.Listing == "" && listings:
			return allot.FieldError(lineField(i, "sku"), "a sku or a listing is required")
		case l.Listing != "" && !listings:
			return allot.FieldError(lineField(i, "listing"), "lines here name SKUs, not listings")
		case l.Listing != "":
			if err := checkKey(lineField(i, "listing"), l.Listing, MaxSKULen); err != nil {
				return err
			}
		default:
			if err := checkKey(lineField(i, "sku"), l.SKU, MaxSKULen); err != nil {
				return err
			}
		}
		if err := checkQuantity(lineField(i, "quantity"), l.Quantity, min); err != nil {
			return err
		}
	}
	return nil
}

// ReceiveInbound records that a shipment arrived: its units join the
// warehouse's stock, and the presells tied to it end; the backorders they
// made are covered by the new stock, since committed units come first.
func (s *Service) ReceiveInbound(ctx context.Context, who Actor, id int64) (allot.Inbound, error) {
	var out allot.Inbound
	err := s.write(ctx, who, func(tx *store.Tx) error {
		in, wid, lines, err := tx.Inbound(id)
		if err != nil {
			return err
		}
		if in.Received {
			return allot.Errorf(allot.Conflict, "inbound %d was already received at %s", id, in.ReceivedAt.Format(time.RFC3339))
		}
		ids := make([]int64, len(lines))
		for i, l := range lines {
			ids[i] = l.ProductID
		}
		if err := tx.LockProducts(ids); err != nil {
			return err
		}
		for _, l := range lines {
			if err := tx.MoveStock(l.ProductID, wid, l.Quantity); err != nil {
				return err
			}
			tx.Record("inbound.receive", l.SKU, "", fmt.Sprintf("inbound %d received in %s: +%d", id, in.Warehouse, l.Quantity), nil)
		}
		tx.Touch(ids...)
		if err := tx.MarkInboundReceived(id); err != nil {
			return err
		}
		presells, err := tx.AllocationsOfInbound(id)
		if err != nil {
			return err
		}
		for _, aid := range presells {
			if err := endAllocation(tx, aid, fmt.Sprintf("its inbound %d was received", id)); err != nil {
				return err
			}
		}
		out, _, _, err = tx.Inbound(id)
		return err
	})
	return out, err
}

// GetInbound reads one shipment.
func (s *Service) GetInbound(ctx context.Context, who Actor, id int64) (allot.Inbound, error) {
	var out allot.Inbound
	err := s.read(ctx, who, func(tx *store.Tx) error {
		var err error
		out, _, _, err = tx.Inbound(id)
		return err
	})
	return out, err
}

// ListInbounds lists shipments, newest first; open only if asked.
func (s *Service) ListInbounds(ctx context.Context, who Actor, openOnly bool) ([]allot.Inbound, error) {
	var out []allot.Inbound
	err := s.read(ctx, who, func(tx *store.Tx) error {
		ids, err := tx.InboundIDs(openOnly)
		if err != nil {
			return err
		}
		for _, id := range ids {
			in, _, _, err := tx.Inbound(id)
			if err != nil {
				return err
			}
			out = append(out, in)
		}
		return nil
	})
	return out, err
}
