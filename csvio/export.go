package csvio

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/service"
	"github.com/allot/allot/store"
)

// Export writes a file of the given kind: what Import reads, with columns
// that only inform (committed, consumed, state…) beside.
func Export(ctx context.Context, svc *service.Service, who service.Actor, kind string, w io.Writer) error {
	cw := csv.NewWriter(w)
	var err error
	switch kind {
	case "products":
		err = exportProducts(ctx, svc, who, cw)
	case "stock":
		err = exportStock(ctx, svc, who, cw)
	case "listings":
		err = exportListings(ctx, svc, who, cw)
	case "allocations":
		err = exportAllocations(ctx, svc, who, cw)
	case "orders":
		err = exportOrders(ctx, svc, who, cw)
	default:
		return allot.Errorf(allot.NotFound, "no CSV file named %q; the files are %s", kind, strings.Join(Kinds, ", "))
	}
	if err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

func stamp(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func exportProducts(ctx context.Context, svc *service.Service, who service.Actor, cw *csv.Writer) error {
	cw.Write([]string{"sku", "name", "barcode", "components"})
	after := ""
	for {
		ps, err := svc.ListProducts(ctx, who, after, 1000)
		if err != nil {
			return err
		}
		for _, p := range ps {
			parts := make([]string, len(p.Components))
			for i, c := range p.Components {
				parts[i] = fmt.Sprintf("%s:%d", c.SKU, c.Quantity)
			}
			cw.Write([]string{p.SKU, p.Name, p.Barcode, strings.Join(parts, ";")})
		}
		if len(ps) < 1000 {
			return nil
		}
		after = ps[len(ps)-1].SKU
	}
}

func exportStock(ctx context.Context, svc *service.Service, who service.Actor, cw *csv.Writer) error {
	cw.Write([]string{"warehouse", "sku", "in_warehouse", "damaged", "committed", "available", "backordered", "as_of"})
	st, err := svc.ListStock(ctx, who, "")
	if err != nil {
		return err
	}
	for _, s := range st {
		cw.Write([]string{s.Warehouse, s.SKU, itoa(s.InWarehouse), itoa(s.Damaged), itoa(s.Committed), itoa(s.Available),
			itoa(s.Backordered), stamp(&s.AsOf)})
	}
	return nil
}

func exportListings(ctx context.Context, svc *service.Service, who service.Actor, cw *csv.Writer) error {
	cw.Write([]string{"channel", "external_id", "sku", "enabled"})
	ls, err := svc.ListListings(ctx, who, "")
	if err != nil {
		return err
	}
	for _, l := range ls {
		cw.Write([]string{l.Channel, l.ExternalID, l.SKU, strconv.FormatBool(l.Enabled)})
	}
	return nil
}

func exportAllocations(ctx context.Context, svc *service.Service, who service.Actor, cw *csv.Writer) error {
	cw.Write([]string{"ref", "name", "purpose", "channels", "sku", "quantity", "consumed", "remaining", "priority", "starts_at", "ends_at", "note"})
	as, err := svc.ListAllocations(ctx, who, true)
	if err != nil {
		return err
	}
	for _, a := range as {
		chs := make([]string, len(a.Channels))
		for i, c := range a.Channels {
			chs[i] = c.Channel + ":" + string(c.Rule)
		}
		row := func(sku string, q, consumed, remaining int) {
			cw.Write([]string{strconv.FormatInt(a.ID, 10), a.Name, string(a.Purpose), strings.Join(chs, ";"), sku, itoa(q), itoa(consumed),
				itoa(remaining), itoa(a.Priority), stamp(a.StartsAt), stamp(a.EndsAt), a.Note})
		}
		if a.AllSKUs != nil {
			row(allSKUsValue, a.AllSKUs.Quantity, 0, a.AllSKUs.Quantity)
			continue
		}
		for _, l := range a.Lines {
			row(l.SKU, l.Quantity, l.Consumed, l.Remaining)
		}
	}
	return nil
}

func exportOrders(ctx context.Context, svc *service.Service, who service.Actor, cw *csv.Writer) error {
	cw.Write([]string{"channel", "external_id", "kind", "state", "payment", "sku", "listing", "quantity", "shipped", "cancelled",
		"oversold", "needs_attention", "warehouse", "created_at"})
	var before int64
	for {
		os, err := svc.ListOrders(ctx, who, store.OrderFilter{Before: before, Limit: 1000})
		if err != nil {
			return err
		}
		for _, o := range os {
			if o.Kind == allot.Hold {
				continue
			}
			for _, l := range o.Lines {
				cw.Write([]string{o.Channel, o.ExternalID, string(o.Kind), string(o.State), string(o.Payment), l.SKU, l.Listing,
					itoa(l.Quantity), itoa(l.Shipped), itoa(l.Cancelled), strconv.FormatBool(o.Oversold),
					strconv.FormatBool(o.NeedsAttention), o.Warehouse, stamp(&o.CreatedAt)})
			}
		}
		if len(os) < 1000 {
			return nil
		}
		before = os[len(os)-1].ID
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
