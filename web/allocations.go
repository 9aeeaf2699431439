package web

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/service"
)

// The four use cases of the spec, as the forms name them.
var kinds = map[string]struct{ Title, Intro, Save string }{
	"reserve": {"Reserve stock for a channel",
		"Set units aside for one or more channels, whatever the others sell. Every other channel shows that many fewer.",
		"Save the reserve"},
	"buffer": {"Keep a buffer against backorders",
		"Hold units back from every channel, so that a late stock count or a manual order does not cause an oversell.",
		"Save the buffer"},
	"stop": {"Stop selling",
		"Show 0 on the chosen channels for the chosen products, without unlisting anything. Other channels are not affected.",
		"Stop selling"},
	"presell": {"Pre-sell inbound stock",
		"Let channels sell units that are still on their way. Orders beyond the stock become backorders and ship when the shipment is received; the presell then ends by itself.",
		"Save the presell"},
}

// lineRow is one row of a form's lines, as typed.
type lineRow struct {
	SKU, Quantity string
}

// channelRow is one channel of a form: whether it is chosen, and its rule.
type channelRow struct {
	allot.Channel
	Checked bool
	Rule    allot.Rule
}

// allocForm is a use case's form, as typed, with what it needs to show.
type allocForm struct {
	Kind, Title, Intro, Save string
	Name, Note               string
	Channels                 []channelRow
	Lines                    []lineRow
	AllSKUs                  bool
	AllQuantity              string
	Priority                 string
	StartsAt, EndsAt         string
	Inbound                  string
	BufferChannel            string
	Inbounds                 []allot.Inbound
	Manual                   []allot.Channel
	SKUs                     []string // for the SKU inputs' suggestions
	Err                      error
	Preview                  *service.Preview
}

// ChosenInbound returns the shipment chosen, if any.
func (f *allocForm) ChosenInbound() *allot.Inbound {
	for i := range f.Inbounds {
		if strconv.FormatInt(f.Inbounds[i].ID, 10) == f.Inbound {
			return &f.Inbounds[i]
		}
	}
	return nil
}

// LineField names a row's field the way errors name it.
func (f *allocForm) LineField(i int, name string) string {
	if f.Kind == "stop" && name == "sku" {
		return fmt.Sprintf("skus[%d]", i)
	}
	return fmt.Sprintf("lines[%d].%s", i, name)
}

// newForm returns an empty form of a kind, with the choices it offers.
func (s *Server) newForm(r *request, kind string) (*allocForm, error) {
	k, ok := kinds[kind]
	if !ok {
		return nil, allot.Errorf(allot.NotFound, "there is no form for %q; the forms are reserve, buffer, stop and presell", kind)
	}
	f := &allocForm{Kind: kind, Title: k.Title, Intro: k.Intro, Save: k.Save}
	ctx := r.Context()
	channels, err := s.svc.ListChannels(ctx, r.who)
	if err != nil {
		return nil, err
	}
	for _, c := range channels {
		rule := allot.FollowAllocation
		if kind == "reserve" {
			rule = allot.UseAvailable
		}
		f.Channels = append(f.Channels, channelRow{Channel: c, Rule: rule})
		if c.Platform == allot.Manual {
			f.Manual = append(f.Manual, c)
		}
	}
	if kind == "presell" {
		if f.Inbounds, err = s.svc.ListInbounds(ctx, r.who, true); err != nil {
			return nil, err
		}
	}
	if f.SKUs, err = s.productSKUs(ctx, r.who); err != nil {
		return nil, err
	}
	return f, nil
}

// padLines leaves a few empty rows to type more lines into.
func (f *allocForm) padLines(extra int) {
	n := 0
	for _, l := range f.Lines {
		if l.SKU != "" || l.Quantity != "" {
			n++
		}
	}
	for len(f.Lines) < max(n+extra, 3) {
		f.Lines = append(f.Lines, lineRow{})
	}
}

func (s *Server) newAllocation(w http.ResponseWriter, r *request) error {
	f, err := s.newForm(r, r.PathValue("kind"))
	if err != nil {
		return err
	}
	q := r.URL.Query()
	for _, sku := range q["sku"] { // from a product page: "reserve this product"
		f.Lines = append(f.Lines, lineRow{SKU: sku})
	}
	for i := range f.Channels {
		f.Channels[i].Checked = slices.Contains(q["channel"], f.Channels[i].Code)
	}
	if f.Kind == "presell" {
		f.Inbound = q.Get("inbound")
		if in := f.ChosenInbound(); in != nil && len(f.Lines) == 0 {
			for _, l := range in.Lines {
				f.Lines = append(f.Lines, lineRow{SKU: l.SKU, Quantity: strconv.Itoa(l.Quantity)})
			}
		}
	}
	f.padLines(2)
	return s.render(w, r, http.StatusOK, "allocform", f.Title, "allocations", f)
}

// read fills the form from what was posted.
func (f *allocForm) read(r *request) {
	pf := r.PostForm
	f.Name, f.Note = strings.TrimSpace(pf.Get("name")), pf.Get("note")
	f.Priority, f.StartsAt, f.EndsAt = strings.TrimSpace(pf.Get("priority")), pf.Get("starts_at"), pf.Get("ends_at")
	f.AllSKUs, f.AllQuantity = pf.Get("all_skus") != "", strings.TrimSpace(pf.Get("all_quantity"))
	f.Inbound, f.BufferChannel = pf.Get("inbound"), pf.Get("buffer_channel")
	chosen := pf["channel"]
	for i := range f.Channels {
		c := &f.Channels[i]
		c.Checked = slices.Contains(chosen, c.Code)
		if rule := allot.Rule(pf.Get("rule-" + c.Code)); rule != "" {
			c.Rule = rule
		}
	}
	skus, qs := pf["sku"], pf["quantity"]
	f.Lines = nil
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
}

// rowsOf returns the lines typed, skipping empty rows, and for each the
// row it came from, so that an error about lines[i] is shown on its row.
func (f *allocForm) rowsOf() ([]allot.Line, []int, error) {
	var lines []allot.Line
	var rows []int
	for i, l := range f.Lines {
		if l.SKU == "" && l.Quantity == "" {
			continue
		}
		line := allot.Line{SKU: l.SKU}
		if f.Kind != "stop" {
			if l.Quantity == "" {
				return nil, nil, allot.FieldError(f.LineField(i, "quantity"), "is required: how many units of %s", orWords(l.SKU, "this SKU"))
			}
			n, err := strconv.Atoi(l.Quantity)
			if err != nil {
				return nil, nil, allot.FieldError(f.LineField(i, "quantity"), "must be a whole number, not %q", l.Quantity)
			}
			line.Quantity = n
		}
		if l.SKU == "" {
			return nil, nil, allot.FieldError(f.LineField(i, "sku"), "is required: which product")
		}
		lines = append(lines, line)
		rows = append(rows, i)
	}
	return lines, rows, nil
}

func orWords(v, alt string) string {
	if v == "" {
		return alt
	}
	return v
}

// allocRequest is what saving or previewing the form asks of the service,
// and the form row of each line sent.
type allocRequest struct {
	alloc  *service.AllocationParams
	buffer *service.BufferParams
	stop   *service.StopParams
	rows   []int
}

func (f *allocForm) params() (allocRequest, error) {
	var req allocRequest
	lines, rows, err := f.rowsOf()
	if err != nil {
		return req, err
	}
	req.rows = rows
	var all *allot.AllSKUs
	if f.AllSKUs {
		if len(lines) > 0 {
			return req, allot.FieldError("all_skus", "choose every SKU or list SKUs, not both: clear the lines or untick every SKU")
		}
		lines = nil
		if f.Kind != "stop" {
			if f.AllQuantity == "" {
				return req, allot.FieldError("all_skus.quantity", "is required: how many units of every SKU")
			}
			n, err := strconv.Atoi(f.AllQuantity)
			if err != nil {
				return req, allot.FieldError("all_skus.quantity", "must be a whole number, not %q", f.AllQuantity)
			}
			all = &allot.AllSKUs{Quantity: n}
		}
	}
	priority := 0
	if f.Priority != "" {
		if priority, err = strconv.Atoi(f.Priority); err != nil {
			return req, allot.FieldError("priority", "must be a whole number, not %q", f.Priority)
		}
	}
	starts, err := parseTime("starts_at", f.StartsAt)
	if err != nil {
		return req, err
	}
	ends, err := parseTime("ends_at", f.EndsAt)
	if err != nil {
		return req, err
	}
	var channels []allot.AllocationChannel
	var codes []string
	for _, c := range f.Channels {
		if c.Checked {
			channels = append(channels, allot.AllocationChannel{Channel: c.Code, Rule: c.Rule})
			codes = append(codes, c.Code)
		}
	}
	switch f.Kind {
	case "reserve", "presell":
		if len(channels) == 0 {
			what := "to reserve for"
			if f.Kind == "presell" {
				what = "to pre-sell on"
			}
			return req, allot.FieldError("channels", "choose at least one channel %s", what)
		}
		p := service.AllocationParams{Name: f.Name, Note: f.Note, Purpose: allot.Reserve, Channels: channels, Lines: lines,
			AllSKUs: all, Priority: priority, StartsAt: starts, EndsAt: ends}
		if f.Kind == "presell" {
			p.Purpose = allot.Presell
			if f.Inbound == "" {
				return req, allot.FieldError("inbound", "choose the inbound shipment these units come from")
			}
			id, err := strconv.ParseInt(f.Inbound, 10, 64)
			if err != nil {
				return req, allot.FieldError("inbound", "choose one of the shipments listed")
			}
			p.Inbound = &id
		}
		req.alloc = &p
	case "buffer":
		req.buffer = &service.BufferParams{Name: f.Name, Note: f.Note, Channel: f.BufferChannel, Lines: lines, AllSKUs: all,
			Priority: priority, StartsAt: starts, EndsAt: ends}
	case "stop":
		p := service.StopParams{Name: f.Name, Note: f.Note, Channels: codes, AllSKUs: f.AllSKUs, StartsAt: starts, EndsAt: ends}
		for _, l := range lines {
			p.SKUs = append(p.SKUs, l.SKU)
		}
		req.stop = &p
	}
	return req, nil
}

var lineIndex = regexp.MustCompile(`^(lines|skus)\[(\d+)\](.*)$`)

// onRow moves an error about the i-th line sent to the row it was typed
// on; errors about a channel of the request are shown on the channels.
func (f *allocForm) onRow(err error, rows []int) error {
	var e *allot.Error
	if !errors.As(err, &e) {
		return err
	}
	c := *e
	if m := lineIndex.FindStringSubmatch(e.Field); m != nil {
		i, _ := strconv.Atoi(m[2])
		if i < len(rows) {
			i = rows[i]
		}
		c.Field = fmt.Sprintf("%s[%d]%s", m[1], i, m[3])
	}
	if strings.HasPrefix(e.Field, "channels[") {
		c.Field = "channels"
	}
	return &c
}

func (s *Server) postAllocation(w http.ResponseWriter, r *request) error {
	f, err := s.newForm(r, r.PathValue("kind"))
	if err != nil {
		return err
	}
	f.read(r)
	action := r.PostForm.Get("action")
	if action == "more" {
		f.padLines(5)
		return s.render(w, r, http.StatusOK, "allocform", f.Title, "allocations", f)
	}
	req, err := f.params()
	if err == nil {
		ctx := r.Context()
		var p service.Preview
		var a allot.Allocation
		switch {
		case action != "save" && req.alloc != nil:
			p, err = s.svc.PreviewAllocation(ctx, r.who, *req.alloc)
		case action != "save" && req.buffer != nil:
			p, err = s.svc.PreviewBuffer(ctx, r.who, *req.buffer)
		case action != "save":
			p, err = s.svc.PreviewStop(ctx, r.who, *req.stop)
		case req.alloc != nil:
			a, err = s.svc.CreateAllocation(ctx, r.who, *req.alloc)
		case req.buffer != nil:
			a, err = s.svc.CreateBuffer(ctx, r.who, *req.buffer)
		default:
			a, err = s.svc.CreateStop(ctx, r.who, *req.stop)
		}
		if err == nil && action == "save" {
			return s.done(w, r, fmt.Sprintf("/allocations/%d", a.ID), fmt.Sprintf("Saved: %s “%s” (%d) is in force.",
				strings.ToLower(purposeWords(a.Purpose)), a.Name, a.ID))
		}
		if err == nil {
			f.Preview = &p
		}
		err = f.onRow(err, req.rows)
	}
	f.Err = err
	f.padLines(1)
	if err != nil {
		if allot.ErrorCode(err) == allot.Internal {
			return err
		}
		return s.render(w, r, http.StatusBadRequest, "allocform", f.Title, "allocations", f)
	}
	return s.render(w, r, http.StatusOK, "allocform", f.Title, "allocations", f)
}

// allocationsView is the data of the allocations page.
type allocationsView struct {
	Ended       bool
	Allocations []allocationRow
}

// allocationRow is an allocation with the words that say what it is.
type allocationRow struct {
	allot.Allocation
	Kind      string
	Quantity  int
	Consumed  int
	Remaining int
}

// kindOf says which use case an allocation is, in the forms' words.
func kindOf(a allot.Allocation, platforms map[string]allot.Platform) string {
	switch {
	case a.Purpose == allot.Reserve && len(a.Channels) == 0:
		return "Buffer (safety margin)"
	case a.Purpose == allot.Reserve && len(a.Channels) == 1 && platforms[a.Channels[0].Channel] == allot.Manual &&
		a.Channels[0].Rule == allot.UseAvailable:
		return "Buffer"
	case a.Purpose == allot.Reserve:
		return "Reserve"
	case a.Inbound != nil:
		return fmt.Sprintf("Pre-sell (inbound %d)", *a.Inbound)
	}
	zero := a.AllSKUs != nil && a.AllSKUs.Quantity == 0 || a.AllSKUs == nil && len(a.Lines) > 0
	for _, l := range a.Lines {
		zero = zero && l.Quantity == 0
	}
	if zero && !slices.ContainsFunc(a.Channels, func(c allot.AllocationChannel) bool { return c.Rule != allot.FollowAllocation }) {
		return "Stop selling"
	}
	return "Pre-sell"
}

func (s *Server) platforms(r *request) (map[string]allot.Platform, error) {
	cs, err := s.svc.ListChannels(r.Context(), r.who)
	out := map[string]allot.Platform{}
	for _, c := range cs {
		out[c.Code] = c.Platform
	}
	return out, err
}

func (s *Server) allocations(w http.ResponseWriter, r *request) error {
	v := allocationsView{Ended: r.URL.Query().Get("ended") != ""}
	as, err := s.svc.ListAllocations(r.Context(), r.who, !v.Ended)
	if err != nil {
		return err
	}
	platforms, err := s.platforms(r)
	if err != nil {
		return err
	}
	for _, a := range as {
		row := allocationRow{Allocation: a, Kind: kindOf(a, platforms)}
		for _, l := range a.Lines {
			row.Quantity += l.Quantity
			row.Consumed += l.Consumed
			row.Remaining += max(0, l.Remaining)
		}
		v.Allocations = append(v.Allocations, row)
	}
	return s.render(w, r, http.StatusOK, "allocations", "Allocations", "allocations", v)
}

// allocationView is the data of an allocation's page.
type allocationView struct {
	allocationRow
	Ended   bool
	Edit    editForm
	Err     error
	Preview *service.Preview
}

// editForm is an allocation's edit form, as typed.
type editForm struct {
	Name, Note, EndsAt, Priority string
	AllQuantity                  string
	Quantities                   []string // per line of the allocation
	NewSKU, NewQuantity          string
}

func (s *Server) loadAllocation(r *request) (allocationView, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return allocationView{}, allot.Errorf(allot.NotFound, "there is no allocation %q", r.PathValue("id"))
	}
	a, err := s.svc.GetAllocation(r.Context(), r.who, id)
	if err != nil {
		return allocationView{}, err
	}
	platforms, err := s.platforms(r)
	if err != nil {
		return allocationView{}, err
	}
	v := allocationView{allocationRow: allocationRow{Allocation: a, Kind: kindOf(a, platforms)}}
	v.Ended = a.EndsAt != nil && !a.EndsAt.After(s.svc.Now())
	v.Edit = editForm{Name: a.Name, Note: a.Note, EndsAt: timeInput(a.EndsAt), Priority: strconv.Itoa(a.Priority)}
	if a.AllSKUs != nil {
		v.Edit.AllQuantity = strconv.Itoa(a.AllSKUs.Quantity)
	}
	for _, l := range a.Lines {
		v.Edit.Quantities = append(v.Edit.Quantities, strconv.Itoa(l.Quantity))
		v.Consumed += l.Consumed
		v.Remaining += max(0, l.Remaining)
		v.Quantity += l.Quantity
	}
	return v, nil
}

func (s *Server) allocation(w http.ResponseWriter, r *request) error {
	v, err := s.loadAllocation(r)
	if err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, "allocation", v.Name, "allocations", v)
}

// patch builds the change the edit form asks for: only what differs from
// the allocation.
func (v *allocationView) patch() (service.AllocationPatch, error) {
	var p service.AllocationPatch
	e := v.Edit
	a := v.Allocation
	if e.Name != a.Name {
		p.Name = &e.Name
	}
	if e.Note != a.Note {
		p.Note = &e.Note
	}
	if e.Priority != strconv.Itoa(a.Priority) {
		n, err := strconv.Atoi(e.Priority)
		if err != nil {
			return p, allot.FieldError("priority", "must be a whole number, not %q", e.Priority)
		}
		p.Priority = &n
	}
	if e.EndsAt != timeInput(a.EndsAt) && e.EndsAt != "" {
		t, err := parseTime("ends_at", e.EndsAt)
		if err != nil {
			return p, err
		}
		p.EndsAt = t
	}
	if a.AllSKUs != nil && e.AllQuantity != strconv.Itoa(a.AllSKUs.Quantity) {
		n, err := strconv.Atoi(e.AllQuantity)
		if err != nil {
			return p, allot.FieldError("all_skus.quantity", "must be a whole number, not %q", e.AllQuantity)
		}
		p.AllSKUs = &allot.AllSKUs{Quantity: n}
	}
	if a.AllSKUs == nil {
		for i, l := range a.Lines {
			if i >= len(e.Quantities) || e.Quantities[i] == strconv.Itoa(l.Quantity) {
				continue
			}
			n, err := strconv.Atoi(e.Quantities[i])
			if err != nil {
				return p, allot.FieldError(fmt.Sprintf("quantity-%d", i), "must be a whole number, not %q", e.Quantities[i])
			}
			p.Lines = append(p.Lines, allot.Line{SKU: l.SKU, Quantity: n})
		}
		if e.NewSKU != "" || e.NewQuantity != "" {
			if e.NewSKU == "" {
				return p, allot.FieldError("new_sku", "is required: which product to add")
			}
			n, err := strconv.Atoi(e.NewQuantity)
			if err != nil {
				return p, allot.FieldError("new_quantity", "must be a whole number, not %q", e.NewQuantity)
			}
			p.Lines = append(p.Lines, allot.Line{SKU: e.NewSKU, Quantity: n})
		}
	}
	return p, nil
}

// onLine moves an error about the i-th line of a patch to the input it
// came from.
func (v *allocationView) onLine(err error, p service.AllocationPatch) error {
	var e *allot.Error
	if !errors.As(err, &e) {
		return err
	}
	m := lineIndex.FindStringSubmatch(e.Field)
	if m == nil {
		return err
	}
	i, _ := strconv.Atoi(m[2])
	if i >= len(p.Lines) {
		return err
	}
	c := *e
	c.Field = "new_" + strings.TrimPrefix(m[3], ".")
	for j, l := range v.Lines {
		if l.SKU == p.Lines[i].SKU {
			c.Field = fmt.Sprintf("quantity-%d", j)
		}
	}
	return &c
}

func (s *Server) editAllocation(w http.ResponseWriter, r *request) error {
	if r.PostForm.Get("action") == "end" {
		return s.endAllocation(w, r)
	}
	v, err := s.loadAllocation(r)
	if err != nil {
		return err
	}
	pf := r.PostForm
	v.Edit = editForm{Name: strings.TrimSpace(pf.Get("name")), Note: pf.Get("note"), EndsAt: pf.Get("ends_at"),
		Priority: strings.TrimSpace(pf.Get("priority")), AllQuantity: strings.TrimSpace(pf.Get("all_quantity")),
		NewSKU: strings.TrimSpace(pf.Get("new_sku")), NewQuantity: strings.TrimSpace(pf.Get("new_quantity"))}
	for i := range v.Lines {
		v.Edit.Quantities = append(v.Edit.Quantities, strings.TrimSpace(pf.Get(fmt.Sprintf("quantity-%d", i))))
	}
	p, err := v.patch()
	if err == nil {
		if pf.Get("action") == "save" {
			if _, err = s.svc.PatchAllocation(r.Context(), r.who, v.ID, p); err == nil {
				return s.done(w, r, fmt.Sprintf("/allocations/%d", v.ID), "Saved the changes.")
			}
		} else {
			var pv service.Preview
			if pv, err = s.svc.PreviewPatch(r.Context(), r.who, v.ID, p); err == nil {
				v.Preview = &pv
			}
		}
		err = v.onLine(err, p)
	}
	v.Err = err
	status := http.StatusOK
	if err != nil {
		if allot.ErrorCode(err) == allot.Internal {
			return err
		}
		status = http.StatusBadRequest
	}
	return s.render(w, r, status, "allocation", v.Name, "allocations", v)
}

func (s *Server) endAllocation(w http.ResponseWriter, r *request) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return allot.Errorf(allot.NotFound, "there is no allocation %q", r.PathValue("id"))
	}
	a, err := s.svc.EndAllocation(r.Context(), r.who, id)
	if err != nil {
		return s.failed(w, r, fmt.Sprintf("/allocations/%d", id), "", err)
	}
	return s.done(w, r, fmt.Sprintf("/allocations/%d", id), fmt.Sprintf("Ended %s “%s” at %s. What it consumed stays recorded.",
		strings.ToLower(purposeWords(a.Purpose)), a.Name, when(time.Now())))
}
