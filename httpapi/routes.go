package httpapi

import (
	"fmt"
	"net/http"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/csvio"
	"github.com/allot/allot/service"
	"github.com/allot/allot/store"
)

// routes is the one route table of the API.
func (s *Server) routes() {
	s.mux.HandleFunc("GET /v1/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openAPI)
	})
	Routes = appendOnce(Routes, "GET /v1/openapi.json")
	s.mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, allot.Errorf(allot.NotFound, "no such endpoint: %s %s", r.Method, r.URL.Path))
	})

	s.handle("GET /v1/products", s.listProducts)
	s.handle("GET /v1/products/{sku}", s.getProduct)
	s.handle("PUT /v1/products/{sku}", s.putProduct)
	s.handle("GET /v1/bundles/{sku}", s.getProduct)
	s.handle("PUT /v1/bundles/{sku}", s.putBundle)
	s.handle("GET /v1/warehouses", s.listWarehouses)
	s.handle("PUT /v1/warehouses/{code}", s.putWarehouse)
	s.handle("GET /v1/stock", s.listStock)
	s.handle("PUT /v1/stock/{warehouse}/{sku}", s.reportStock)
	s.handle("POST /v1/stock", s.reportStockMany)
	s.handle("GET /v1/inbounds", s.listInbounds)
	s.handle("POST /v1/inbounds", s.createInbound)
	s.handle("GET /v1/inbounds/{id}", s.getInbound)
	s.handle("POST /v1/inbounds/{id}/receive", s.receiveInbound)

	s.handle("GET /v1/channels", s.listChannels)
	s.handle("GET /v1/channels/{code}", s.getChannel)
	s.handle("PUT /v1/channels/{code}", s.putChannel)
	s.handle("GET /v1/channels/{code}/listings", s.listListings)
	s.handle("PUT /v1/channels/{code}/listings/{external_id}", s.putListing)
	s.handle("GET /v1/channels/{code}/rules", s.getRules)
	s.handle("PUT /v1/channels/{code}/rules", s.putRules)
	s.handle("GET /v1/channels/{code}/rules/{sku}", s.getRules)
	s.handle("PUT /v1/channels/{code}/rules/{sku}", s.putRules)
	s.handle("GET /v1/channels/{code}/quantities", s.channelQuantities)
	s.handle("GET /v1/channels/{code}/sync", s.channelSync)
	s.handle("POST /v1/channels/{code}/resync", s.resync)
	s.handle("POST /v1/channels/{code}/drift", s.checkDrift)
	s.handle("POST /v1/channels/{code}/link", s.linkListings)

	s.handle("GET /v1/allocations", s.listAllocations)
	s.handle("POST /v1/allocations", s.createAllocation)
	s.handle("GET /v1/allocations/{id}", s.getAllocation)
	s.handle("PATCH /v1/allocations/{id}", s.patchAllocation)
	s.handle("DELETE /v1/allocations/{id}", s.endAllocation)
	s.handle("POST /v1/buffers", s.createBuffer)
	s.handle("POST /v1/stops", s.createStop)

	s.handle("GET /v1/orders", s.listOrders)
	s.handle("POST /v1/orders", s.placeOrder)
	s.handle("POST /v1/orders/import", s.importOrder)
	s.handle("GET /v1/orders/{channel}/{external_id}", s.getOrder)
	s.handle("POST /v1/orders/{channel}/{external_id}/cancel", s.cancelOrder)
	s.handle("POST /v1/orders/{channel}/{external_id}/ship", s.shipOrder)
	s.handle("POST /v1/orders/{channel}/{external_id}/reprocess", s.reprocessOrder)
	s.handle("POST /v1/holds", s.createHold)
	s.handle("GET /v1/holds/{id}", s.getHold)
	s.handle("POST /v1/holds/{id}/confirm", s.confirmHold)
	s.handle("DELETE /v1/holds/{id}", s.releaseHold)

	s.handle("GET /v1/quantities", s.quantities)
	s.handle("GET /v1/quantities/{channel}/{sku}", s.explain)
	s.handle("GET /v1/readiness", s.readiness)
	s.handle("GET /v1/history", s.history)
	s.handle("POST /v1/import/{kind}", s.importCSV)
	s.handle("GET /v1/export/{kind}", s.exportCSV)
}

// ---- products, warehouses, stock, inbounds

func (s *Server) listProducts(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	q := query{r: r}
	after := q.str("after", service.MaxSKULen)
	limit := q.int("limit", 100, 1, 1000)
	if q.err != nil {
		return q.err
	}
	ps, err := s.svc.ListProducts(r.Context(), who, after, limit)
	if err != nil {
		return err
	}
	if ps == nil {
		ps = []allot.Product{}
	}
	next := ""
	if len(ps) == limit {
		next = ps[len(ps)-1].SKU
	}
	writeJSON(w, http.StatusOK, map[string]any{"products": ps, "next_after": next})
	return nil
}

func (s *Server) getProduct(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	p, err := s.svc.GetProduct(r.Context(), who, r.PathValue("sku"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

type productBody struct {
	Name    string `json:"name"`
	Barcode string `json:"barcode"`
}

func (s *Server) putProduct(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	var b productBody
	if err := decode(r, &b); err != nil {
		return err
	}
	p, isNew, err := s.svc.PutProduct(r.Context(), who, allot.Product{SKU: r.PathValue("sku"), Name: b.Name, Barcode: b.Barcode})
	if err != nil {
		return err
	}
	writeJSON(w, created(isNew), p)
	return nil
}

type bundleBody struct {
	Name       string            `json:"name"`
	Barcode    string            `json:"barcode"`
	Components []allot.Component `json:"components"`
}

func (s *Server) putBundle(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	var b bundleBody
	if err := decode(r, &b, "components[].quantity"); err != nil {
		return err
	}
	if b.Components == nil {
		b.Components = []allot.Component{}
	}
	p, isNew, err := s.svc.PutProduct(r.Context(), who, allot.Product{SKU: r.PathValue("sku"), Name: b.Name, Barcode: b.Barcode, Components: b.Components})
	if err != nil {
		return err
	}
	writeJSON(w, created(isNew), p)
	return nil
}

func (s *Server) listWarehouses(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	ws, err := s.svc.ListWarehouses(r.Context(), who)
	if err != nil {
		return err
	}
	if ws == nil {
		ws = []allot.Warehouse{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"warehouses": ws})
	return nil
}

func (s *Server) putWarehouse(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	var b struct {
		Name string `json:"name"`
	}
	if _, err := decodeOptional(r, &b); err != nil {
		return err
	}
	wh := allot.Warehouse{Code: r.PathValue("code"), Name: b.Name}
	isNew, err := s.svc.PutWarehouse(r.Context(), who, wh)
	if err != nil {
		return err
	}
	if wh.Name == "" {
		wh.Name = wh.Code
	}
	writeJSON(w, created(isNew), wh)
	return nil
}

func (s *Server) listStock(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	q := query{r: r}
	sku := q.str("sku", service.MaxSKULen)
	if q.err != nil {
		return q.err
	}
	st, err := s.svc.ListStock(r.Context(), who, sku)
	if err != nil {
		return err
	}
	if st == nil {
		st = []allot.Stock{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"stock": st})
	return nil
}

type stockBody struct {
	// InWarehouse is required: a report that forgot it must not set the
	// stock to 0.
	InWarehouse *int       `json:"in_warehouse"`
	Damaged     int        `json:"damaged"`
	AsOf        *time.Time `json:"as_of"`
}

func (s *Server) reportStock(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	var b stockBody
	if err := decode(r, &b); err != nil {
		return err
	}
	if b.InWarehouse == nil {
		return allot.FieldError("in_warehouse", "is required: the units physically in the warehouse")
	}
	rep := allot.StockReport{Warehouse: r.PathValue("warehouse"), SKU: r.PathValue("sku"), InWarehouse: *b.InWarehouse, Damaged: b.Damaged}
	if b.AsOf != nil {
		rep.AsOf = *b.AsOf
	}
	res, err := s.svc.ReportStock(r.Context(), who, rep)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// MaxStockReports bounds the reports of one POST /v1/stock, as the CSV
// import bounds its lines.
const MaxStockReports = csvio.MaxRows

type stockReportsBody struct {
	Reports []struct {
		Warehouse   string     `json:"warehouse"`
		SKU         string     `json:"sku"`
		InWarehouse *int       `json:"in_warehouse"`
		Damaged     int        `json:"damaged"`
		AsOf        *time.Time `json:"as_of"`
	} `json:"reports"`
}

// reportStockMany applies a whole stock report at once: every line or,
// if one is refused, none.
func (s *Server) reportStockMany(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	var b stockReportsBody
	if err := decodeLimit(r, &b, csvio.MaxBytes); err != nil {
		return err
	}
	switch {
	case b.Reports == nil:
		return allot.FieldError("reports", "is required: a list of stock reports")
	case len(b.Reports) > MaxStockReports:
		return &allot.Error{Code: TooLarge, Field: "reports", Message: fmt.Sprintf("holds %d reports; at most %d a request", len(b.Reports), MaxStockReports)}
	}
	lines := make([]service.StockLine, len(b.Reports))
	for i, rep := range b.Reports {
		where := fmt.Sprintf("reports[%d].", i)
		if rep.InWarehouse == nil {
			return allot.FieldError(where+"in_warehouse", "is required: the units physically in the warehouse")
		}
		lines[i] = service.StockLine{Line: i, Where: where, StockReport: allot.StockReport{Warehouse: rep.Warehouse, SKU: rep.SKU,
			InWarehouse: *rep.InWarehouse, Damaged: rep.Damaged}}
		if rep.AsOf != nil {
			lines[i].AsOf = *rep.AsOf
		}
	}
	n, err := s.svc.ImportStock(r.Context(), who, lines)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"reports": len(lines), "applied": n})
	return nil
}

func (s *Server) listInbounds(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	q := query{r: r}
	open := q.bool("open")
	if q.err != nil {
		return q.err
	}
	ins, err := s.svc.ListInbounds(r.Context(), who, open)
	if err != nil {
		return err
	}
	if ins == nil {
		ins = []allot.Inbound{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"inbounds": ins})
	return nil
}

type inboundBody struct {
	Warehouse  string       `json:"warehouse"`
	ExpectedAt *time.Time   `json:"expected_at"`
	Lines      []allot.Line `json:"lines"`
}

func (s *Server) createInbound(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	var b inboundBody
	if err := decode(r, &b, "lines[].quantity"); err != nil {
		return err
	}
	in := allot.Inbound{Warehouse: b.Warehouse, Lines: b.Lines}
	if b.ExpectedAt != nil {
		in.ExpectedAt = b.ExpectedAt
	}
	out, err := s.svc.CreateInbound(r.Context(), who, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) getInbound(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	in, err := s.svc.GetInbound(r.Context(), who, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, in)
	return nil
}

func (s *Server) receiveInbound(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	// A shipment is received whole: a body (lines for part of it, say) is
	// refused rather than ignored.
	var none struct{}
	if _, err := decodeOptional(r, &none); err != nil {
		return err
	}
	in, err := s.svc.ReceiveInbound(r.Context(), who, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, in)
	return nil
}

// ---- channels, listings, rules, quantities

func (s *Server) listChannels(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	cs, err := s.svc.ListChannels(r.Context(), who)
	if err != nil {
		return err
	}
	if cs == nil {
		cs = []allot.Channel{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"channels": cs})
	return nil
}

func (s *Server) getChannel(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	c, err := s.svc.GetChannel(r.Context(), who, r.PathValue("code"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

type channelBody struct {
	Name        string         `json:"name"`
	Platform    allot.Platform `json:"platform"`
	Warehouses  []string       `json:"warehouses"`
	CountUnpaid bool           `json:"count_unpaid"`
	Settings    map[string]any `json:"settings"`
}

func (s *Server) putChannel(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	var b channelBody
	if err := decode(r, &b); err != nil {
		return err
	}
	c, isNew, err := s.svc.PutChannel(r.Context(), who, allot.Channel{Code: r.PathValue("code"), Name: b.Name, Platform: b.Platform,
		Warehouses: b.Warehouses, CountUnpaid: b.CountUnpaid, Settings: b.Settings})
	if err != nil {
		return err
	}
	writeJSON(w, created(isNew), c)
	return nil
}

func (s *Server) listListings(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	ls, err := s.svc.ListListings(r.Context(), who, r.PathValue("code"))
	if err != nil {
		return err
	}
	if ls == nil {
		ls = []allot.Listing{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"listings": ls})
	return nil
}

type listingBody struct {
	SKU     string `json:"sku"`
	Enabled *bool  `json:"enabled"`
}

func (s *Server) putListing(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	// The channel and external id come from the path alone: a body that
	// names them is refused rather than silently overruled.
	var b listingBody
	if err := decode(r, &b); err != nil {
		return err
	}
	p := service.ListingParams{Channel: r.PathValue("code"), ExternalID: r.PathValue("external_id"), SKU: b.SKU, Enabled: b.Enabled}
	l, err := s.svc.PutListing(r.Context(), who, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, l)
	return nil
}

func (s *Server) getRules(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	rules, err := s.svc.GetRules(r.Context(), who, r.PathValue("code"), r.PathValue("sku"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rules)
	return nil
}

func (s *Server) putRules(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	var p service.RulesPatch
	if err := decode(r, &p); err != nil {
		return err
	}
	rules, err := s.svc.SetRules(r.Context(), who, r.PathValue("code"), r.PathValue("sku"), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rules)
	return nil
}

func (s *Server) channelQuantities(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	qs, err := s.svc.ChannelQuantities(r.Context(), who, r.PathValue("code"))
	if err != nil {
		return err
	}
	if qs == nil {
		qs = []service.Quantity{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"channel": r.PathValue("code"), "quantities": qs})
	return nil
}

func (s *Server) quantities(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	var skus []string
	if v := r.URL.Query()["sku"]; len(v) > 0 {
		if len(v) > 1000 {
			return allot.FieldError("sku", "at most 1000 SKUs at a time")
		}
		for _, sku := range v {
			if err := checkParam("sku", sku); err != nil {
				return err
			}
		}
		skus = v
	}
	qs, err := s.svc.Quantities(r.Context(), who, skus)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"quantities": qs})
	return nil
}

func (s *Server) explain(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	e, err := s.svc.Explain(r.Context(), who, r.PathValue("channel"), r.PathValue("sku"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, e)
	return nil
}

func (s *Server) readiness(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	q := query{r: r}
	channel := q.str("channel", service.MaxCodeLen)
	if q.err != nil {
		return q.err
	}
	rs, err := s.svc.ReadinessOf(r.Context(), who, channel)
	if err != nil {
		return err
	}
	if rs == nil {
		rs = []service.Readiness{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"channels": rs})
	return nil
}

func (s *Server) history(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	q := query{r: r}
	f := store.HistoryFilter{
		SKU:     q.str("sku", service.MaxSKULen),
		Channel: q.str("channel", service.MaxCodeLen),
		Since:   q.time("since"),
		Before:  int64(q.int("before", 0, 0, 1<<62)),
		Limit:   q.int("limit", 100, 1, 1000),
	}
	if q.err != nil {
		return q.err
	}
	hs, err := s.svc.History(r.Context(), who, f)
	if err != nil {
		return err
	}
	if hs == nil {
		hs = []allot.HistoryEntry{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"history": hs})
	return nil
}

func (s *Server) channelSync(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	st, err := s.svc.Sync(r.Context(), who, r.PathValue("code"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (s *Server) resync(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	if _, err := s.svc.GetChannel(r.Context(), who, r.PathValue("code")); err != nil {
		return err
	}
	if s.Sync == nil {
		return allot.Errorf(allot.Conflict, "this server runs no synchronisation")
	}
	if err := s.Sync.Resync(r.Context(), who.Merchant, r.PathValue("code")); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"channel": r.PathValue("code"), "resync": "queued"})
	return nil
}

func (s *Server) checkDrift(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	if _, err := s.svc.GetChannel(r.Context(), who, r.PathValue("code")); err != nil {
		return err
	}
	if s.Sync == nil {
		return allot.Errorf(allot.Conflict, "this server runs no synchronisation")
	}
	n, err := s.Sync.CheckDrift(r.Context(), who.Merchant, r.PathValue("code"))
	if err != nil {
		if _, ok := err.(*allot.Error); !ok {
			return allot.Errorf(allot.Conflict, "could not read channel %s back: %v", r.PathValue("code"), err)
		}
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"channel": r.PathValue("code"), "mended": n})
	return nil
}

func (s *Server) linkListings(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	if _, err := s.svc.GetChannel(r.Context(), who, r.PathValue("code")); err != nil {
		return err
	}
	if s.Sync == nil {
		return allot.Errorf(allot.Conflict, "this server runs no synchronisation")
	}
	res, err := s.Sync.Link(r.Context(), who.Merchant, r.PathValue("code"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}
