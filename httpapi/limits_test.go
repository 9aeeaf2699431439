package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/allottest"
	"github.com/allot/allot/csvio"
	"github.com/allot/allot/generic"
	"github.com/allot/allot/httpapi"
	"github.com/allot/allot/service"
	"github.com/allot/allot/shopify"
)

// Every limit takes what is at it and refuses what is one past it, with an
// error that names the field and the limit.
func TestLimitsTakeTheEdgeAndRefuseOnePast(t *testing.T) {
	srv, c := allottest.Server(t, allottest.Options{})
	a := &api{t: t, c: c}
	a.setup(10)
	url := srv.URL()
	long := func(n int) string { return strings.Repeat("x", n) }
	order := func(id string, lines string) string {
		return fmt.Sprintf(`{"channel":"b2c","external_id":%q,"lines":%s}`, id, lines)
	}
	manyLines := func(n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = `{"sku":"tee","quantity":1}`
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	// A body of exactly the limit: a small object padded with spaces.
	atLimit := `{"name":"Padded"}` + strings.Repeat(" ", httpapi.MaxBody-len(`{"name":"Padded"}`))

	for _, c := range []struct {
		name, method, path, body string
		status                   int
		field, says              string
	}{
		{"body at 1 MiB", "PUT", "/v1/products/padded", atLimit, 201, "", ""},
		{"body past 1 MiB", "PUT", "/v1/products/padded", atLimit + " ", 413, "body", "larger than 1048576 bytes"},
		{"quantity at 1e9", "PUT", "/v1/stock/w1/tee", `{"in_warehouse":1000000000}`, 200, "", ""},
		{"quantity past 1e9", "PUT", "/v1/stock/w1/tee", `{"in_warehouse":1000000001}`, 400, "in_warehouse", "at most 1000000000"},
		{"damaged past 1e9", "PUT", "/v1/stock/w1/tee", `{"in_warehouse":1,"damaged":1000000001}`, 400, "damaged", "at most 1000000000"},
		{"order line at 1e9", "POST", "/v1/orders/import", order("big", `[{"sku":"tee","quantity":1000000000}]`), 201, "", ""},
		{"order line past 1e9", "POST", "/v1/orders/import", order("bigger", `[{"sku":"tee","quantity":1000000001}]`), 400, "lines[0].quantity", "at most 1000000000"},
		{"allocation line past 1e9", "POST", "/v1/allocations", `{"purpose":"reserve","channels":[{"channel":"b2b"}],"lines":[{"sku":"tee","quantity":1000000001}]}`,
			400, "lines[0].quantity", "at most 1000000000"},
		{"rule past 1e9", "PUT", "/v1/channels/b2c/rules", `{"max":1000000001}`, 400, "max", "1000000000"},
		{"quantity past int64", "PUT", "/v1/stock/w1/tee", `{"in_warehouse":9223372036854775808}`, 400, "in_warehouse", "whole number"},
		{"1000 lines", "POST", "/v1/orders/import", order("many", manyLines(service.MaxLines)), 201, "", ""},
		{"1001 lines", "POST", "/v1/orders/import", order("too-many", manyLines(service.MaxLines+1)), 400, "lines", "at most 1000 lines"},
		{"name of 200", "PUT", "/v1/products/named", fmt.Sprintf(`{"name":%q}`, long(service.MaxNameLen)), 201, "", ""},
		{"name of 201", "PUT", "/v1/products/named", fmt.Sprintf(`{"name":%q}`, long(service.MaxNameLen+1)), 400, "name", "longer than 200"},
		{"SKU of 128", "PUT", "/v1/products/" + long(service.MaxSKULen), `{"name":"Long"}`, 201, "", ""},
		{"SKU of 129", "PUT", "/v1/products/" + long(service.MaxSKULen+1), `{"name":"Long"}`, 400, "sku", "longer than 128"},
		{"code of 64", "PUT", "/v1/warehouses/" + long(service.MaxCodeLen), `{}`, 201, "", ""},
		{"code of 65", "PUT", "/v1/warehouses/" + long(service.MaxCodeLen+1), `{}`, 400, "code", "longer than 64"},
		{"external id of 129", "POST", "/v1/orders/import", order(long(service.MaxSKULen+1), `[{"sku":"tee","quantity":1}]`), 400, "external_id", "longer than 128"},
		{"note of 2001", "POST", "/v1/allocations", fmt.Sprintf(`{"purpose":"reserve","note":%q,"channels":[{"channel":"b2b"}],"lines":[{"sku":"tee","quantity":1}]}`,
			long(service.MaxNoteLen+1)), 400, "note", "longer than 2000"},
		{"hold of 30 days and a second", "POST", "/v1/holds", fmt.Sprintf(`{"channel":"b2c","ttl_seconds":%d,"lines":[{"sku":"tee","quantity":1}]}`,
			int(service.MaxTTL/time.Second)+1), 400, "ttl_seconds", ""},
		{"query past 1000", "GET", "/v1/history?limit=1001", "", 400, "limit", "from 1 to 1000"},
	} {
		status, e, raw := send(t, url, allottest.Token, c.method, c.path, c.body)
		if status != c.status || e.Field != c.field || !strings.Contains(e.Message, c.says) {
			t.Errorf("%s: answered %d %q %q, want %d on %q saying %q: %.300s", c.name, status, e.Field, e.Message, c.status, c.field, c.says, raw)
		}
	}
}

// repeat is a reader of n copies of line, made as it is read.
type repeat struct {
	line []byte
	n    int
	buf  []byte
}

func (r *repeat) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.n == 0 {
			return 0, io.EOF
		}
		r.buf, r.n = r.line, r.n-1
	}
	k := copy(p, r.buf)
	r.buf = r.buf[k:]
	return k, nil
}

// A CSV file over 64 MiB, or over 200,000 rows, is refused whole with
// too_large (413), naming the file or the line past the limit, before
// anything is applied.
func TestCSVFilesOverTheirLimitsAreRefusedWhole(t *testing.T) {
	srv, c := allottest.Server(t, allottest.Options{})
	post := func(body io.Reader) (int, httpapi.ErrorDetail) {
		req, _ := http.NewRequest("POST", srv.URL()+"/v1/import/products", body)
		req.Header.Set("Authorization", "Bearer "+allottest.Token)
		req.Header.Set("Content-Type", "text/csv")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e httpapi.ErrorBody
		raw, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatalf("%d %s", resp.StatusCode, raw)
		}
		return resp.StatusCode, e.Error
	}

	// 200,001 short rows: refused at the row past the limit (line 200,002).
	rows := io.MultiReader(strings.NewReader("sku,name\n"), &repeat{line: []byte("s,n\n"), n: csvio.MaxRows + 1})
	status, e := post(rows)
	if status != 413 || e.Code != "too_large" || e.Field != "line "+strconv.Itoa(csvio.MaxRows+2) || !strings.Contains(e.Message, "200000 rows") {
		t.Errorf("200,001 rows: %d %+v", status, e)
	}
	// Rows long enough that 64 MiB comes before 200,000 rows.
	row := []byte("s," + strings.Repeat("n", 500) + "\n")
	big := io.MultiReader(strings.NewReader("sku,name\n"), &repeat{line: row, n: csvio.MaxBytes/len(row) + 1})
	status, e = post(big)
	if status != 413 || e.Code != "too_large" || e.Field != "file" || !strings.Contains(e.Message, strconv.Itoa(csvio.MaxBytes)) {
		t.Errorf("64 MiB and more: %d %+v", status, e)
	}
	var out struct {
		Products []allot.Product `json:"products"`
	}
	if err := c.Do(context.Background(), "GET", "/v1/products", nil, &out); err != nil || len(out.Products) != 0 {
		t.Errorf("after refused files, the products are %v (%v), want none", out.Products, err)
	}
}

// Webhook bodies have limits of their own: 2 MiB from Shopify (its
// largest orders), 1 MiB from a generic platform; past them, 413.
func TestWebhookBodiesOverTheirLimitsAreRefused(t *testing.T) {
	srv, _ := allottest.Server(t, allottest.Options{})
	for _, c := range []struct {
		path  string
		limit int
	}{
		{"/webhooks/shopify/shop", shopify.MaxWebhookBody},
		{"/webhooks/generic/outlet", generic.MaxOrderBody},
	} {
		resp, err := http.Post(srv.URL()+c.path, "application/json", bytes.NewReader(make([]byte, c.limit+1)))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 413 || !strings.Contains(string(raw), `"code":"too_large"`) || !strings.Contains(string(raw), `"field":"body"`) {
			t.Errorf("%s with %d bytes: %d %s", c.path, c.limit+1, resp.StatusCode, raw)
		}
	}
}
