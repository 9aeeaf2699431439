package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/allot/allot"
	"github.com/allot/allot/service"
)

// inboundForm is the form that records a shipment on its way, so that it
// can be pre-sold.
type inboundForm struct {
	Warehouse  string
	ExpectedAt string
	Lines      []lineRow
	Warehouses []allot.Warehouse
	Inbounds   []allot.Inbound
	SKUs       []string
	Err        error
}

// LineField names a row's field the way errors name it.
func (f *inboundForm) LineField(i int, name string) string {
	return fmt.Sprintf("lines[%d].%s", i, name)
}

func (s *Server) inboundForm(r *request) (*inboundForm, error) {
	ctx := r.Context()
	f := &inboundForm{}
	var err error
	if f.Warehouses, err = s.svc.ListWarehouses(ctx, r.who); err != nil {
		return nil, err
	}
	if f.Inbounds, err = s.svc.ListInbounds(ctx, r.who, true); err != nil {
		return nil, err
	}
	if f.SKUs, err = s.productSKUs(ctx, r.who); err != nil {
		return nil, err
	}
	return f, nil
}

func (s *Server) newInbound(w http.ResponseWriter, r *request) error {
	f, err := s.inboundForm(r)
	if err != nil {
		return err
	}
	f.Lines = make([]lineRow, 3)
	return s.render(w, r, http.StatusOK, "inbound", "Inbound shipments", "allocations", f)
}

func (s *Server) postInbound(w http.ResponseWriter, r *request) error {
	f, err := s.inboundForm(r)
	if err != nil {
		return err
	}
	pf := r.PostForm
	f.Warehouse, f.ExpectedAt = pf.Get("warehouse"), pf.Get("expected_at")
	skus, qs := pf["sku"], pf["quantity"]
	for i := range max(len(skus), len(qs)) {
		var l lineRow
		if i < len(skus) {
			l.SKU = strings.TrimSpace(skus[i])
		}
		if i < len(qs) {
			l.Quantity = strings.TrimSpace(qs[i])
		}
		f.Lines = append(f.Lines, l)
	}
	form := allocForm{Kind: "inbound", Lines: f.Lines}
	lines, rows, err := form.rowsOf()
	var in allot.Inbound
	if err == nil {
		in = allot.Inbound{Warehouse: f.Warehouse, Lines: lines}
		if in.ExpectedAt, err = parseTime("expected_at", f.ExpectedAt); err == nil {
			in, err = s.svc.CreateInbound(r.Context(), r.who, in)
		}
		err = form.onRow(err, rows)
	}
	if err == nil {
		return s.done(w, r, "/allocations/new/presell?inbound="+strconv.FormatInt(in.ID, 10),
			fmt.Sprintf("Recorded shipment %d to %s. You can pre-sell it now.", in.ID, in.Warehouse))
	}
	if allot.ErrorCode(err) == allot.Internal {
		return err
	}
	f.Err = err
	f.Lines = append(f.Lines, lineRow{})
	return s.render(w, r, http.StatusBadRequest, "inbound", "Inbound shipments", "allocations", f)
}

func (s *Server) receiveInbound(w http.ResponseWriter, r *request) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return allot.Errorf(allot.NotFound, "there is no shipment %q", r.PathValue("id"))
	}
	in, err := s.svc.ReceiveInbound(r.Context(), r.who, id)
	if err != nil {
		return s.failed(w, r, "/inbounds/new", fmt.Sprintf("Shipment %d", id), err)
	}
	return s.done(w, r, "/inbounds/new", fmt.Sprintf("Received shipment %d in %s: its units are in stock, and the presells tied to it ended.",
		in.ID, in.Warehouse))
}

// productSKUs lists the SKUs a form's lines may name: products, not
// bundles (the first 2,000).
func (s *Server) productSKUs(ctx context.Context, who service.Actor) ([]string, error) {
	ps, err := s.svc.ListProducts(ctx, who, "", 2000)
	if err != nil {
		return nil, err
	}
	var skus []string
	for _, p := range ps {
		if !p.IsBundle() {
			skus = append(skus, p.SKU)
		}
	}
	return skus, nil
}
