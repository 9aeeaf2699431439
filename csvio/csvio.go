// Package csvio reads and writes allot's CSV files: products, stock,
// allocations, listings and orders. A file has a header row naming its
// columns, in any order. Reading checks every row and refuses the whole
// file, naming its lines, before anything is applied; then the service
// applies it in one transaction. The formats are documented in
// docs/CSV.md.
package csvio

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/service"
)

// Kinds lists the files, in the order a set up would import them.
var Kinds = []string{"products", "stock", "listings", "allocations", "orders"}

// Limits on a file.
const (
	MaxBytes     = 64 << 20
	MaxRows      = 200_000
	maxErrors    = 20 // row errors listed before giving up
	allSKUsValue = "*"
)

// columns of each file: required first, then optional. Export-only columns
// are accepted on import and ignored, so that an exported file reads back.
var columns = map[string]struct{ required, optional, ignored []string }{
	"products":    {[]string{"sku", "name"}, []string{"barcode", "components"}, nil},
	"stock":       {[]string{"warehouse", "sku", "in_warehouse"}, []string{"damaged", "as_of"}, []string{"committed", "available", "backordered"}},
	"listings":    {[]string{"channel", "external_id"}, []string{"sku", "enabled"}, nil},
	"allocations": {[]string{"ref", "purpose", "channels", "sku", "quantity"}, []string{"name", "note", "priority", "starts_at", "ends_at"}, []string{"consumed", "remaining", "active"}},
	"orders":      {[]string{"channel", "external_id", "quantity"}, []string{"sku", "listing", "payment", "cancelled", "updated_at"}, []string{"kind", "state", "shipped", "oversold", "needs_attention", "warehouse", "created_at"}},
}

// table is a file read into rows, with its header.
type table struct {
	col   map[string]int
	rows  [][]string
	lines []int // file line of each row
	errs  []string
	first string // field of the first error
}

func read(r io.Reader, kind string) (*table, error) {
	spec, ok := columns[kind]
	if !ok {
		return nil, allot.Errorf(allot.NotFound, "no CSV file named %q; the files are %s", kind, strings.Join(Kinds, ", "))
	}
	cr := csv.NewReader(&capped{r: r, left: MaxBytes})
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, allot.FieldError("line 1", "the file is empty; it needs a header row: %s", strings.Join(spec.required, ","))
	}
	if err != nil {
		return nil, csvError(err)
	}
	t := &table{col: map[string]int{}}
	known := map[string]bool{}
	for _, c := range append(append(append([]string{}, spec.required...), spec.optional...), spec.ignored...) {
		known[c] = true
	}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if !known[h] {
			return nil, allot.FieldError("line 1", "unknown column %q; the columns of %s are %s", h, kind,
				strings.Join(append(append([]string{}, spec.required...), spec.optional...), ", "))
		}
		if _, dup := t.col[h]; dup {
			return nil, allot.FieldError("line 1", "column %q appears twice", h)
		}
		t.col[h] = i
	}
	for _, c := range spec.required {
		if _, ok := t.col[c]; !ok {
			return nil, allot.FieldError("line 1", "column %q is missing; %s needs %s", c, kind, strings.Join(spec.required, ", "))
		}
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvError(err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // a blank line
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(header) {
			t.fail(line, "", "has %d fields; the header has %d", len(rec), len(header))
			continue
		}
		t.rows = append(t.rows, rec)
		t.lines = append(t.lines, line)
		if len(t.rows) > MaxRows {
			return nil, &allot.Error{Code: "too_large", Field: fmt.Sprintf("line %d", line), Message: fmt.Sprintf("a file may have at most %d rows", MaxRows)}
		}
	}
	if len(t.rows) == 0 && len(t.errs) == 0 {
		return nil, allot.FieldError("line 2", "the file has a header but no rows")
	}
	return t, nil
}

func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return allot.FieldError(fmt.Sprintf("line %d", pe.Line), "is not valid CSV: %v", pe.Err)
	}
	if errors.Is(err, errTooLarge) {
		return &allot.Error{Code: "too_large", Field: "file", Message: fmt.Sprintf("is larger than %d bytes", MaxBytes)}
	}
	return allot.FieldError("file", "could not be read: %v", err)
}

var errTooLarge = errors.New("file too large")

// capped reads at most left bytes, then fails with errTooLarge rather than
// ending quietly, so that a cut file is never taken for a whole one.
type capped struct {
	r    io.Reader
	left int64
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var one [1]byte
		if n, _ := c.r.Read(one[:]); n > 0 {
			return 0, errTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// fail records an error about a row; the file is refused after reading.
func (t *table) fail(line int, col, format string, args ...any) {
	field := fmt.Sprintf("line %d", line)
	if col != "" {
		field += "." + col
	}
	if t.first == "" {
		t.first = field
	}
	if len(t.errs) < maxErrors {
		t.errs = append(t.errs, field+": "+fmt.Sprintf(format, args...))
	} else if len(t.errs) == maxErrors {
		t.errs = append(t.errs, "…")
	}
}

// err is the error of the file if any row failed: every failing line named.
func (t *table) err() error {
	if len(t.errs) == 0 {
		return nil
	}
	msg := strings.Join(t.errs, "; ")
	if len(t.errs) > 1 {
		msg = fmt.Sprintf("%d errors, the file was not applied: %s", len(t.errs), msg)
	}
	return allot.FieldError(t.first, "%s", msg)
}

func (t *table) str(i int, col string) string {
	c, ok := t.col[col]
	if !ok {
		return ""
	}
	return strings.TrimSpace(t.rows[i][c])
}

func (t *table) has(col string) bool { _, ok := t.col[col]; return ok }

func (t *table) int(i int, col string, def int) int {
	v := t.str(i, col)
	if v == "" {
		if def < 0 {
			t.fail(t.lines[i], col, "is required")
		}
		return max(def, 0)
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.fail(t.lines[i], col, "must be a whole number, not %q", v)
	}
	return n
}

func (t *table) time(i int, col string) *time.Time {
	v := t.str(i, col)
	if v == "" {
		return nil
	}
	ts, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		t.fail(t.lines[i], col, "must be a time like 2026-11-26T09:00:00Z, not %q", v)
		return nil
	}
	return &ts
}

func (t *table) bool(i int, col string) *bool {
	v := strings.ToLower(t.str(i, col))
	var b bool
	switch v {
	case "":
		return nil
	case "true", "yes", "1", "y":
		b = true
	case "false", "no", "0", "n":
	default:
		t.fail(t.lines[i], col, "must be true or false, not %q", v)
	}
	return &b
}

// Import reads a file of the given kind and applies it through the
// service, whole or not at all. It returns the number of records applied.
func Import(ctx context.Context, svc *service.Service, who service.Actor, kind string, r io.Reader) (int, error) {
	t, err := read(r, kind)
	if err != nil {
		return 0, err
	}
	switch kind {
	case "products":
		rows := products(t)
		if err := t.err(); err != nil {
			return 0, err
		}
		return svc.ImportProducts(ctx, who, rows)
	case "stock":
		rows := stock(t)
		if err := t.err(); err != nil {
			return 0, err
		}
		return svc.ImportStock(ctx, who, rows)
	case "listings":
		rows := listings(t)
		if err := t.err(); err != nil {
			return 0, err
		}
		return svc.ImportListings(ctx, who, rows)
	case "allocations":
		rows := allocations(t)
		if err := t.err(); err != nil {
			return 0, err
		}
		return svc.ImportAllocations(ctx, who, rows)
	default: // orders
		rows := orders(t)
		if err := t.err(); err != nil {
			return 0, err
		}
		return svc.ImportOrders(ctx, who, rows)
	}
}

func products(t *table) []service.ProductLine {
	out := make([]service.ProductLine, 0, len(t.rows))
	for i := range t.rows {
		p := allot.Product{SKU: t.str(i, "sku"), Name: t.str(i, "name"), Barcode: t.str(i, "barcode")}
		if c := t.str(i, "components"); c != "" {
			p.Components = []allot.Component{}
			for _, part := range strings.Split(c, ";") {
				sku, qty, found := strings.Cut(strings.TrimSpace(part), ":")
				n, err := strconv.Atoi(strings.TrimSpace(qty))
				if !found || err != nil {
					t.fail(t.lines[i], "components", "must read like tee:2;cap:1, not %q", c)
					break
				}
				p.Components = append(p.Components, allot.Component{SKU: strings.TrimSpace(sku), Quantity: n})
			}
		}
		out = append(out, service.ProductLine{Line: t.lines[i], Product: p})
	}
	return out
}

func stock(t *table) []service.StockLine {
	out := make([]service.StockLine, 0, len(t.rows))
	for i := range t.rows {
		r := allot.StockReport{Warehouse: t.str(i, "warehouse"), SKU: t.str(i, "sku"),
			InWarehouse: t.int(i, "in_warehouse", -1), Damaged: t.int(i, "damaged", 0)}
		if ts := t.time(i, "as_of"); ts != nil {
			r.AsOf = *ts
		}
		out = append(out, service.StockLine{Line: t.lines[i], StockReport: r})
	}
	return out
}

func listings(t *table) []service.ListingLine {
	out := make([]service.ListingLine, 0, len(t.rows))
	for i := range t.rows {
		out = append(out, service.ListingLine{Line: t.lines[i], ListingParams: service.ListingParams{
			Channel: t.str(i, "channel"), ExternalID: t.str(i, "external_id"), SKU: t.str(i, "sku"), Enabled: t.bool(i, "enabled")}})
	}
	return out
}

// allocations groups rows by ref: each ref is one allocation, each row one
// of its lines (sku "*" for every SKU). channels reads like
// "b2b:use_available;b2c" (the rule defaults to follow_allocation).
func allocations(t *table) []service.AllocationLines {
	var out []service.AllocationLines
	index := map[string]int{}
	for i := range t.rows {
		ref := t.str(i, "ref")
		line := t.lines[i]
		if ref == "" {
			t.fail(line, "ref", "is required: rows with the same ref make one allocation")
			continue
		}
		sku, qty := t.str(i, "sku"), t.int(i, "quantity", -1)
		k, seen := index[ref]
		if !seen {
			p := service.AllocationParams{Name: t.str(i, "name"), Note: t.str(i, "note"), Purpose: allot.Purpose(t.str(i, "purpose")),
				Priority: t.int(i, "priority", 0), StartsAt: t.time(i, "starts_at"), EndsAt: t.time(i, "ends_at")}
			if p.Name == "" {
				p.Name = ref
			}
			for _, c := range strings.Split(t.str(i, "channels"), ";") {
				c = strings.TrimSpace(c)
				if c == "" {
					continue
				}
				code, rule, _ := strings.Cut(c, ":")
				p.Channels = append(p.Channels, allot.AllocationChannel{Channel: strings.TrimSpace(code), Rule: allot.Rule(strings.TrimSpace(rule))})
			}
			index[ref] = len(out)
			k = len(out)
			out = append(out, service.AllocationLines{Params: p})
		}
		a := &out[k]
		if sku == allSKUsValue {
			if a.Params.AllSKUs != nil || len(a.Params.Lines) > 0 {
				t.fail(line, "sku", "allocation %q: \"*\" (every SKU) must be its only row", ref)
			}
			a.Params.AllSKUs = &allot.AllSKUs{Quantity: qty}
			a.Lines = append(a.Lines, line)
			continue
		}
		if a.Params.AllSKUs != nil {
			t.fail(line, "sku", "allocation %q covers every SKU (\"*\"); it cannot also have lines", ref)
		}
		a.Params.Lines = append(a.Params.Lines, allot.Line{SKU: sku, Quantity: qty})
		a.Lines = append(a.Lines, line)
	}
	return out
}

// orders groups rows by (channel, external_id): each is one order, each
// row one of its lines.
func orders(t *table) []service.OrderLines {
	var out []service.OrderLines
	index := map[[2]string]int{}
	for i := range t.rows {
		key := [2]string{t.str(i, "channel"), t.str(i, "external_id")}
		line := t.lines[i]
		k, seen := index[key]
		if !seen {
			p := service.OrderParams{Channel: key[0], ExternalID: key[1], Payment: allot.Payment(t.str(i, "payment")),
				UpdatedAt: t.time(i, "updated_at")}
			if c := t.bool(i, "cancelled"); c != nil {
				p.Cancelled = *c
			}
			index[key] = len(out)
			k = len(out)
			out = append(out, service.OrderLines{Params: p})
		}
		o := &out[k]
		o.Params.Lines = append(o.Params.Lines, allot.Line{SKU: t.str(i, "sku"), Listing: t.str(i, "listing"), Quantity: t.int(i, "quantity", -1)})
		o.Lines = append(o.Lines, line)
	}
	return out
}
