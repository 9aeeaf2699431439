package web

import (
	"html/template"
	"net/http"
	"slices"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/service"
	"github.com/allot/allot/store"
)

// productView is the data of a product's page.
type productView struct {
	allot.Product
	Stock       []allot.Stock
	Inbounds    []inboundOf
	Allocations []allocationRow
	Quantities  []service.ExplainedQuantity
	Chart       template.HTML
	Legend      []Series
	Log         []store.PublicationEntry
	Events      []allot.HistoryEntry
}

// inboundOf is a shipment bringing the product, and how many of it.
type inboundOf struct {
	allot.Inbound
	Quantity int
}

// chartLimit bounds the publications the chart draws: the newest ones.
const chartLimit = 300

func (s *Server) product(w http.ResponseWriter, r *request) error {
	ctx, who, sku := r.Context(), r.who, r.PathValue("sku")
	p, err := s.svc.GetProduct(ctx, who, sku)
	if err != nil {
		return err
	}
	v := productView{Product: p}
	if v.Quantities, err = s.svc.ExplainAll(ctx, who, sku); err != nil {
		return err
	}
	if !p.IsBundle() {
		if v.Stock, err = s.svc.ListStock(ctx, who, sku); err != nil {
			return err
		}
		inbounds, err := s.svc.ListInbounds(ctx, who, true)
		if err != nil {
			return err
		}
		for _, in := range inbounds {
			for _, l := range in.Lines {
				if l.SKU == sku {
					v.Inbounds = append(v.Inbounds, inboundOf{Inbound: in, Quantity: l.Quantity})
				}
			}
		}
		allocs, err := s.svc.ListAllocations(ctx, who, true)
		if err != nil {
			return err
		}
		platforms, err := s.platforms(r)
		if err != nil {
			return err
		}
		for _, a := range allocs {
			i := slices.IndexFunc(a.Lines, func(l allot.AllocationLine) bool { return l.SKU == sku })
			if i < 0 && a.AllSKUs == nil {
				continue
			}
			row := allocationRow{Allocation: a, Kind: kindOf(a, platforms)}
			if i >= 0 {
				row.Quantity, row.Consumed, row.Remaining = a.Lines[i].Quantity, a.Lines[i].Consumed, a.Lines[i].Remaining
			} else {
				row.Quantity, row.Remaining = a.AllSKUs.Quantity, a.AllSKUs.Quantity
			}
			v.Allocations = append(v.Allocations, row)
		}
	}
	if v.Log, err = s.svc.PublicationLog(ctx, who, sku, "", time.Time{}, chartLimit); err != nil {
		return err
	}
	if v.Events, err = s.svc.History(ctx, who, store.HistoryFilter{SKU: sku, Limit: 200}); err != nil {
		return err
	}
	v.Chart, v.Legend = drawChart(sku, v.Log, v.Events, s.svc.Now())
	// The chart drew them all; the tables show the newest.
	v.Log = v.Log[:min(len(v.Log), 15)]
	v.Events = v.Events[:min(len(v.Events), 25)]
	return s.render(w, r, http.StatusOK, "product", p.SKU, "overview", v)
}
