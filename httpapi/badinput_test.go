package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/allot/allot/allottest"
	"github.com/allot/allot/httpapi"
)

// Bad input, section 7 of the spec: every bad request gets a clear error
// that names the field (or the CSV line) and changes nothing.

// world is a merchant with something of everything, on a stopped clock so
// that its holds never run out, and the ids of what it made.
type world struct {
	t     *testing.T
	a     *api
	url   string
	now   time.Time
	ids   map[string]int64
	holdX string // the external id of the live hold
}

func newWorld(t *testing.T, engine string) *world {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	srv, c := allottest.Server(t, allottest.Options{Engine: engine, Clock: allottest.NewClock(now)})
	w := &world{t: t, a: &api{t: t, c: c}, url: srv.URL(), now: now, ids: map[string]int64{}}
	a := w.a
	a.do("PUT", "/v1/warehouses/w1", map[string]any{"name": "Main"})
	a.do("PUT", "/v1/warehouses/w2", map[string]any{"name": "Overflow"})
	for _, c := range []struct{ code, platform string }{{"b2b", "api"}, {"b2c", "api"}, {"manual", "manual"}, {"amazon", "api"}} {
		a.do("PUT", "/v1/channels/"+c.code, map[string]any{"platform": c.platform})
	}
	a.do("PUT", "/v1/products/tee", map[string]any{"name": "T-shirt"})
	a.do("PUT", "/v1/products/cap", map[string]any{"name": "Cap"})
	a.do("PUT", "/v1/products/mug", map[string]any{"name": "Mug"})
	a.do("PUT", "/v1/bundles/kit", map[string]any{"name": "Kit", "components": []map[string]any{{"sku": "tee", "quantity": 1}, {"sku": "cap", "quantity": 1}}})
	a.stock("w1", "tee", 100)
	a.stock("w1", "cap", 20)
	a.do("PUT", "/v1/channels/b2c/listings/L-tee", map[string]any{"sku": "tee"})
	a.do("PUT", "/v1/channels/b2c/listings/L-kit", map[string]any{"sku": "kit"})
	a.do("PUT", "/v1/channels/b2c/listings/L-off", map[string]any{"sku": "tee", "enabled": false})
	a.do("PUT", "/v1/channels/b2c/listings/L-none", map[string]any{"sku": ""})
	a.do("PUT", "/v1/channels/b2c/rules", map[string]any{"percent": 90})

	alloc := func(purpose, channel, sku string, q int) int64 {
		out := a.do("POST", "/v1/allocations", map[string]any{"purpose": purpose,
			"channels": []map[string]any{{"channel": channel}}, "lines": []map[string]any{{"sku": sku, "quantity": q}}})
		return int64(out["id"].(float64))
	}
	w.ids["rb2b"] = alloc("reserve", "b2b", "tee", 30)
	w.ids["rcap"] = alloc("reserve", "b2b", "cap", 5)
	w.ids["rend"] = alloc("reserve", "amazon", "mug", 1)
	a.do("DELETE", fmt.Sprintf("/v1/allocations/%d", w.ids["rend"]), nil)
	buf := a.do("POST", "/v1/buffers", map[string]any{"channel": "manual", "lines": []map[string]any{{"sku": "tee", "quantity": 5}}})
	w.ids["buffer"] = int64(buf["id"].(float64))

	o1 := a.do("POST", "/v1/orders", map[string]any{"channel": "b2c", "external_id": "o1", "lines": []map[string]any{{"sku": "tee", "quantity": 2}}})
	w.ids["o1"] = int64(o1["id"].(float64))
	a.do("POST", "/v1/orders", map[string]any{"channel": "b2c", "external_id": "o2", "lines": []map[string]any{{"sku": "tee", "quantity": 1}}})
	a.do("POST", "/v1/orders/b2c/o2/ship", nil)
	a.do("POST", "/v1/orders/import", map[string]any{"channel": "b2c", "external_id": "imp1", "lines": []map[string]any{{"listing": "L-new", "quantity": 1}}})

	hold := func(sku string) int64 {
		out := a.do("POST", "/v1/holds", map[string]any{"channel": "b2c", "ttl_seconds": 3600, "lines": []map[string]any{{"sku": sku, "quantity": 1}}})
		return int64(out["id"].(float64))
	}
	w.ids["hold"] = hold("tee")
	w.ids["confirmed"] = hold("cap")
	a.do("POST", fmt.Sprintf("/v1/holds/%d/confirm", w.ids["confirmed"]), map[string]any{"external_id": "h-conf"})
	w.ids["released"] = hold("cap")
	a.do("DELETE", fmt.Sprintf("/v1/holds/%d", w.ids["released"]), nil)
	for _, o := range a.do("GET", "/v1/orders?kind=hold&limit=1000", nil)["orders"].([]any) {
		o := o.(map[string]any)
		if int64(o["id"].(float64)) == w.ids["hold"] {
			w.holdX = o["external_id"].(string)
		}
	}
	if w.holdX == "" {
		t.Fatal("the live hold is not in GET /v1/orders?kind=hold")
	}

	in := a.do("POST", "/v1/inbounds", map[string]any{"warehouse": "w1", "lines": []map[string]any{{"sku": "cap", "quantity": 50}}})
	w.ids["inbound"] = int64(in["id"].(float64))
	rec := a.do("POST", "/v1/inbounds", map[string]any{"warehouse": "w1", "lines": []map[string]any{{"sku": "mug", "quantity": 10}}})
	w.ids["received"] = int64(rec["id"].(float64))
	a.do("POST", fmt.Sprintf("/v1/inbounds/%d/receive", w.ids["received"]), nil)
	return w
}

// id returns the id of one of the world's things, as a path segment.
func (w *world) id(name string) string {
	id, ok := w.ids[name]
	if !ok {
		w.t.Fatalf("no id %q", name)
	}
	return fmt.Sprint(id)
}

// send sends a request with the world's token: body nil for none, a string
// as it is, anything else as JSON. It returns the status, the error body
// (zero if the answer was not an error) and the raw answer.
func send(t testing.TB, url, token, method, path string, body any) (int, httpapi.ErrorDetail, []byte) {
	t.Helper()
	var rd io.Reader
	ctype := "application/json"
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
		if strings.HasPrefix(path, "/v1/import/") {
			ctype = "text/csv"
		}
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var e httpapi.ErrorBody
	if resp.StatusCode >= 400 {
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatalf("%s %s: %d with a body that is not the error shape: %.300s", method, path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, e.Error, raw
}

// snapshot is what a merchant can read of its state, by request.
type snapshot map[string]string

var snapshotPaths = []string{
	"/v1/export/products", "/v1/export/stock", "/v1/export/listings", "/v1/export/allocations", "/v1/export/orders",
	"/v1/history?limit=1000", "/v1/quantities", "/v1/allocations", "/v1/orders?limit=1000", "/v1/inbounds",
	"/v1/channels", "/v1/warehouses", "/v1/stock", "/v1/products?limit=1000",
	"/v1/channels/b2c/rules", "/v1/channels/b2c/rules/tee", "/v1/channels/b2c/listings", "/v1/channels/b2c/quantities",
}

func takeSnapshot(t testing.TB, url, token string) snapshot {
	t.Helper()
	s := snapshot{}
	for _, p := range snapshotPaths {
		status, _, raw := send(t, url, token, "GET", p, nil)
		if status != http.StatusOK {
			t.Fatalf("snapshot: GET %s answered %d: %.300s", p, status, raw)
		}
		s[p] = string(raw)
	}
	return s
}

// diff names the parts of the state that differ, with the first
// difference of each.
func (s snapshot) diff(o snapshot) string {
	var b strings.Builder
	for _, p := range snapshotPaths {
		x, y := s[p], o[p]
		if x == y {
			continue
		}
		i := 0
		for i < len(x) && i < len(y) && x[i] == y[i] {
			i++
		}
		from := max(0, i-80)
		fmt.Fprintf(&b, "\n\t%s changed at byte %d:\n\t\tbefore …%.200s\n\t\tafter  …%.200s", p, i, x[from:], y[from:])
	}
	return b.String()
}

// readable checks that an error message is for people: not empty, no Go
// decoding jargon, no broken formatting.
func readable(msg string) error {
	if strings.TrimSpace(msg) == "" {
		return fmt.Errorf("empty message")
	}
	for _, bad := range []string{"json:", "Go struct", "Go value", "%!", "<nil>", "main.", "service.", "allot.", "store.", "sql", "reflect"} {
		if strings.Contains(msg, bad) {
			return fmt.Errorf("message %q holds %q", msg, bad)
		}
	}
	if len(msg) > 2000 {
		return fmt.Errorf("message of %d bytes", len(msg))
	}
	return nil
}

// badCase is one bad request and the error it must get.
type badCase struct {
	name         string
	method, path string
	body         any // nil: none; a string: sent as it is; else JSON
	status       int
	code         string
	field        string // exact; "" means the error must name no field
	contains     string // the message must hold this, if not empty
	check        func(t *testing.T, e httpapi.ErrorDetail)
}

func bad(name, method, path string, body any, status int, code, field string) badCase {
	return badCase{name: name, method: method, path: path, body: body, status: status, code: code, field: field}
}

func invalid(name, method, path string, body any, field string) badCase {
	return bad(name, method, path, body, 400, "invalid", field)
}

func notFound(name, method, path string, body any) badCase {
	return bad(name, method, path, body, 404, "not_found", "")
}

func (c badCase) with(contains string) badCase { c.contains = contains; return c }

func (c badCase) checking(f func(t *testing.T, e httpapi.ErrorDetail)) badCase { c.check = f; return c }

// run sends every case and checks its answer, and that the state after it
// is the state before.
func (w *world) run(t *testing.T, cases []badCase) {
	t.Helper()
	base := takeSnapshot(t, w.url, allottest.Token)
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.name] {
			t.Fatalf("two cases named %q", c.name)
		}
		seen[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			status, e, raw := send(t, w.url, allottest.Token, c.method, c.path, c.body)
			t.Logf("%d %s %q: %s", status, e.Code, e.Field, e.Message)
			if status != c.status || e.Code != c.code || e.Field != c.field {
				t.Errorf("%s %s: answered %d %s on %q, want %d %s on %q\n\tanswer: %.400s", c.method, c.path, status, e.Code, e.Field,
					c.status, c.code, c.field, raw)
			}
			if err := readable(e.Message); err != nil {
				t.Errorf("%s %s: %v", c.method, c.path, err)
			}
			if c.contains != "" && !strings.Contains(e.Message, c.contains) {
				t.Errorf("%s %s: message %q does not say %q", c.method, c.path, e.Message, c.contains)
			}
			if c.check != nil {
				c.check(t, e)
			}
			after := takeSnapshot(t, w.url, allottest.Token)
			if d := base.diff(after); d != "" {
				t.Errorf("%s %s changed the state:%s", c.method, c.path, d)
				base = after
			}
		})
	}
}

// lines is a JSON lines array of (sku, quantity) pairs.
func lines(pairs ...any) string {
	var parts []string
	for i := 0; i+1 < len(pairs); i += 2 {
		parts = append(parts, fmt.Sprintf(`{"sku":%q,"quantity":%v}`, pairs[i], pairs[i+1]))
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// shortfall checks an insufficient_stock error: one entry per SKU, in
// order, each requesting what want says and saying what is sellable now.
func (w *world) shortfall(channel string, want ...any) func(t *testing.T, e httpapi.ErrorDetail) {
	return func(t *testing.T, e httpapi.ErrorDetail) {
		t.Helper()
		if len(e.Shortfall) != len(want)/2 {
			t.Fatalf("shortfall %+v, want %d entries", e.Shortfall, len(want)/2)
		}
		for i, s := range e.Shortfall {
			sku, requested := want[2*i].(string), want[2*i+1].(int)
			sellable := w.a.quantity(channel, sku)
			if s.SKU != sku || s.Requested != requested || s.Sellable != sellable {
				t.Errorf("shortfall[%d] = %+v, want {%s %d %d}", i, s, sku, requested, sellable)
			}
			if !strings.Contains(e.Message, sku) {
				t.Errorf("message %q does not name %s", e.Message, sku)
			}
		}
	}
}

func TestBadInputNamesTheFieldAndChangesNothing(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		w := newWorld(t, engine)
		long := func(n int) string { return strings.Repeat("x", n) }
		future := w.now.Add(24 * time.Hour).Format(time.RFC3339)
		past := "2020-01-01T00:00:00Z"
		huge := "1e30"
		absurd := "1000000001"
		big := strings.Repeat(" ", httpapi.MaxBody+1)
		// The allocations in the way, as conflicts must name them.
		inWay := func(name, allocName string) string { return fmt.Sprintf("allocation %s %q", w.id(name), allocName) }
		rb2b, rcap, rend := "/v1/allocations/"+w.id("rb2b"), "/v1/allocations/"+w.id("rcap"), "/v1/allocations/"+w.id("rend")
		hold, confirmed, released := "/v1/holds/"+w.id("hold"), "/v1/holds/"+w.id("confirmed"), "/v1/holds/"+w.id("released")
		order := `{"channel":"b2c","external_id":"new","lines":%s}`
		allocation := `{"purpose":"reserve","channels":[{"channel":"amazon"}],"lines":%s}`

		cases := []badCase{
			// PUT /v1/products/{sku}
			invalid("product/malformed", "PUT", "/v1/products/new", `{"name": "New"`, "body"),
			invalid("product/trailing comma", "PUT", "/v1/products/new", `{"name": "New",}`, "body"),
			invalid("product/empty body", "PUT", "/v1/products/new", "", "body"),
			invalid("product/array body", "PUT", "/v1/products/new", `[]`, "body"),
			invalid("product/two values", "PUT", "/v1/products/new", `{"name":"a"}{"name":"b"}`, "body"),
			invalid("product/unknown field", "PUT", "/v1/products/new", `{"name":"New","colour":"red"}`, "colour"),
			invalid("product/field in the wrong case", "PUT", "/v1/products/new", `{"Name":"New"}`, "Name"),
			invalid("bundle/component field in the wrong case", "PUT", "/v1/bundles/kit2", `{"name":"Kit","components":[{"sku":"tee","Quantity":1}]}`, "components[0].Quantity"),
			invalid("product/components on a product", "PUT", "/v1/products/new", `{"name":"New","components":[{"sku":"tee","quantity":1}]}`, "components"),
			invalid("product/name a number", "PUT", "/v1/products/new", `{"name":5}`, "name"),
			invalid("product/name missing", "PUT", "/v1/products/new", `{"barcode":"123"}`, "name"),
			invalid("product/null body", "PUT", "/v1/products/new", `null`, "name"),
			invalid("product/name too long", "PUT", "/v1/products/new", fmt.Sprintf(`{"name":%q}`, long(201)), "name"),
			invalid("product/name control character", "PUT", "/v1/products/new", `{"name":"a\u0001b"}`, "name"),
			invalid("product/barcode too long", "PUT", "/v1/products/new", fmt.Sprintf(`{"name":"New","barcode":%q}`, long(129)), "barcode"),
			invalid("product/sku too long", "PUT", "/v1/products/"+long(129), `{"name":"New"}`, "sku"),
			invalid("product/sku with space", "PUT", "/v1/products/%20new", `{"name":"New"}`, "sku"),
			bad("product/bundle as product", "PUT", "/v1/products/kit", `{"name":"Kit"}`, 409, "conflict", "").with("kit"),
			bad("product/body too large", "PUT", "/v1/products/new", big, 413, "too_large", "body"),

			// PUT /v1/bundles/{sku}
			invalid("bundle/components missing", "PUT", "/v1/bundles/kit2", `{"name":"Kit"}`, "components"),
			invalid("bundle/components empty", "PUT", "/v1/bundles/kit2", `{"name":"Kit","components":[]}`, "components"),
			invalid("bundle/name missing", "PUT", "/v1/bundles/kit2", `{"components":`+lines("tee", 1)+`}`, "name"),
			invalid("bundle/unknown component", "PUT", "/v1/bundles/kit2", `{"name":"Kit","components":`+lines("tee", 1, "nope", 1)+`}`, "components[1].sku").with("nope"),
			invalid("bundle/component quantity 0", "PUT", "/v1/bundles/kit2", `{"name":"Kit","components":`+lines("tee", 0)+`}`, "components[0].quantity"),
			invalid("bundle/component quantity missing", "PUT", "/v1/bundles/kit2", `{"name":"Kit","components":[{"sku":"tee"}]}`, "components[0].quantity").with("required"),
			invalid("bundle/component quantity negative", "PUT", "/v1/bundles/kit2", `{"name":"Kit","components":`+lines("tee", -1)+`}`, "components[0].quantity"),
			invalid("bundle/component quantity fractional", "PUT", "/v1/bundles/kit2", `{"name":"Kit","components":`+lines("tee", 1.5)+`}`, "components[0].quantity"),
			invalid("bundle/component quantity string", "PUT", "/v1/bundles/kit2", `{"name":"Kit","components":[{"sku":"tee","quantity":1},{"sku":"cap","quantity":"2"}]}`, "components[1].quantity"),
			invalid("bundle/component quantity absurd", "PUT", "/v1/bundles/kit2", `{"name":"Kit","components":`+lines("tee", absurd)+`}`, "components[0].quantity"),
			invalid("bundle/component quantity huge", "PUT", "/v1/bundles/kit2", `{"name":"Kit","components":`+lines("tee", huge)+`}`, "components[0].quantity"),
			invalid("bundle/component is a bundle", "PUT", "/v1/bundles/kit2", `{"name":"Kit","components":`+lines("kit", 1)+`}`, "components[0].sku"),
			invalid("bundle/duplicate component", "PUT", "/v1/bundles/kit2", `{"name":"Kit","components":`+lines("tee", 1, "tee", 2)+`}`, "components[1].sku"),
			invalid("bundle/contains itself", "PUT", "/v1/bundles/kit2", `{"name":"Kit","components":`+lines("kit2", 1)+`}`, "components[0].sku"),
			invalid("bundle/unknown field in component", "PUT", "/v1/bundles/kit2", `{"name":"Kit","components":[{"sku":"tee","quantity":1,"qty":2}]}`, "components[0].qty"),
			invalid("bundle/unknown field named like a known one", "PUT", "/v1/bundles/kit2", `{"name":"Kit","components":[{"sku":"tee","quantity":1,"name":"x"}]}`, "components[0].name"),
			invalid("bundle/component not an object", "PUT", "/v1/bundles/kit2", `{"name":"Kit","components":[{"sku":"tee","quantity":1},"cap"]}`, "components[1]"),
			invalid("bundle/101 components", "PUT", "/v1/bundles/kit2", fmt.Sprintf(`{"name":"Kit","components":[%s]}`, strings.TrimSuffix(strings.Repeat(`{"sku":"tee","quantity":1},`, 101), ",")), "components"),
			bad("bundle/product as bundle", "PUT", "/v1/bundles/tee", `{"name":"Tee","components":`+lines("cap", 1)+`}`, 409, "conflict", "").with("tee"),

			// PUT /v1/warehouses/{code}
			invalid("warehouse/code with space", "PUT", "/v1/warehouses/w%201", `{"name":"W"}`, "code"),
			invalid("warehouse/code with slash", "PUT", "/v1/warehouses/w%2F1", `{"name":"W"}`, "code"),
			invalid("warehouse/code not ascii", "PUT", "/v1/warehouses/w%C3%A9", `{"name":"W"}`, "code"),
			invalid("warehouse/code too long", "PUT", "/v1/warehouses/"+long(65), `{"name":"W"}`, "code"),
			invalid("warehouse/unknown field", "PUT", "/v1/warehouses/w3", `{"name":"W","city":"Lyon"}`, "city"),
			invalid("warehouse/name a number", "PUT", "/v1/warehouses/w3", `{"name":3}`, "name"),
			invalid("warehouse/name too long", "PUT", "/v1/warehouses/w3", fmt.Sprintf(`{"name":%q}`, long(201)), "name"),
			invalid("warehouse/malformed", "PUT", "/v1/warehouses/w3", `{"name":`, "body"),

			// PUT /v1/stock/{warehouse}/{sku}
			invalid("stock/damaged over in_warehouse", "PUT", "/v1/stock/w1/tee", `{"in_warehouse":5,"damaged":6}`, "damaged").with("in_warehouse"),
			invalid("stock/negative", "PUT", "/v1/stock/w1/tee", `{"in_warehouse":-1}`, "in_warehouse"),
			invalid("stock/negative damaged", "PUT", "/v1/stock/w1/tee", `{"in_warehouse":5,"damaged":-1}`, "damaged"),
			invalid("stock/absurd", "PUT", "/v1/stock/w1/tee", `{"in_warehouse":`+absurd+`}`, "in_warehouse"),
			invalid("stock/huge", "PUT", "/v1/stock/w1/tee", `{"in_warehouse":`+huge+`}`, "in_warehouse"),
			invalid("stock/beyond int64", "PUT", "/v1/stock/w1/tee", `{"in_warehouse":99999999999999999999}`, "in_warehouse"),
			invalid("stock/fractional", "PUT", "/v1/stock/w1/tee", `{"in_warehouse":2.5}`, "in_warehouse"),
			invalid("stock/string", "PUT", "/v1/stock/w1/tee", `{"in_warehouse":"10"}`, "in_warehouse"),
			invalid("stock/boolean", "PUT", "/v1/stock/w1/tee", `{"in_warehouse":true}`, "in_warehouse"),
			invalid("stock/in_warehouse missing", "PUT", "/v1/stock/w1/tee", `{"damaged":0}`, "in_warehouse"),
			invalid("stock/empty object", "PUT", "/v1/stock/w1/tee", `{}`, "in_warehouse"),
			invalid("stock/in_warehouse null", "PUT", "/v1/stock/w1/tee", `{"in_warehouse":null}`, "in_warehouse"),
			invalid("stock/warehouse's available", "PUT", "/v1/stock/w1/tee", `{"in_warehouse":5,"available":3}`, "available"),
			invalid("stock/bad as_of", "PUT", "/v1/stock/w1/tee", `{"in_warehouse":5,"as_of":"yesterday"}`, "as_of"),
			invalid("stock/as_of a date", "PUT", "/v1/stock/w1/tee", `{"in_warehouse":5,"as_of":"2026-01-01"}`, "as_of"),
			invalid("stock/as_of a number", "PUT", "/v1/stock/w1/tee", `{"in_warehouse":5,"as_of":5}`, "as_of"),
			invalid("stock/as_of in the future", "PUT", "/v1/stock/w1/tee", `{"in_warehouse":5,"as_of":"`+future+`"}`, "as_of"),
			invalid("stock/bundle", "PUT", "/v1/stock/w1/kit", `{"in_warehouse":5}`, "sku"),
			bad("stock/unknown sku", "PUT", "/v1/stock/w1/nope", `{"in_warehouse":5}`, 404, "not_found", "sku").with("nope"),
			bad("stock/unknown warehouse", "PUT", "/v1/stock/w9/tee", `{"in_warehouse":5}`, 404, "not_found", "warehouse").with("w9"),
			invalid("stock/sku too long", "PUT", "/v1/stock/w1/"+long(129), `{"in_warehouse":5}`, "sku"),

			// POST /v1/inbounds
			invalid("inbound/warehouse missing", "POST", "/v1/inbounds", `{"lines":`+lines("cap", 5)+`}`, "warehouse"),
			invalid("inbound/unknown warehouse", "POST", "/v1/inbounds", `{"warehouse":"w9","lines":`+lines("cap", 5)+`}`, "warehouse").with("w9"),
			invalid("inbound/lines missing", "POST", "/v1/inbounds", `{"warehouse":"w1"}`, "lines"),
			invalid("inbound/lines empty", "POST", "/v1/inbounds", `{"warehouse":"w1","lines":[]}`, "lines"),
			invalid("inbound/lines an object", "POST", "/v1/inbounds", `{"warehouse":"w1","lines":{"sku":"cap"}}`, "lines"),
			invalid("inbound/quantity 0", "POST", "/v1/inbounds", `{"warehouse":"w1","lines":`+lines("cap", 0)+`}`, "lines[0].quantity"),
			invalid("inbound/quantity missing", "POST", "/v1/inbounds", `{"warehouse":"w1","lines":[{"sku":"cap"}]}`, "lines[0].quantity").with("required"),
			invalid("inbound/quantity negative", "POST", "/v1/inbounds", `{"warehouse":"w1","lines":`+lines("cap", -5)+`}`, "lines[0].quantity"),
			invalid("inbound/quantity absurd", "POST", "/v1/inbounds", `{"warehouse":"w1","lines":`+lines("cap", 5, "tee", absurd)+`}`, "lines[1].quantity"),
			invalid("inbound/quantity fractional", "POST", "/v1/inbounds", `{"warehouse":"w1","lines":`+lines("cap", 0.5)+`}`, "lines[0].quantity"),
			invalid("inbound/unknown sku", "POST", "/v1/inbounds", `{"warehouse":"w1","lines":`+lines("cap", 5, "nope", 5)+`}`, "lines[1].sku").with("nope"),
			invalid("inbound/duplicate sku", "POST", "/v1/inbounds", `{"warehouse":"w1","lines":`+lines("cap", 5, "cap", 5)+`}`, "lines[1].sku"),
			invalid("inbound/bundle", "POST", "/v1/inbounds", `{"warehouse":"w1","lines":`+lines("kit", 5)+`}`, "lines[0].sku"),
			invalid("inbound/sku missing", "POST", "/v1/inbounds", `{"warehouse":"w1","lines":[{"quantity":5}]}`, "lines[0].sku"),
			invalid("inbound/listing", "POST", "/v1/inbounds", `{"warehouse":"w1","lines":[{"listing":"L-tee","quantity":5}]}`, "lines[0].listing"),
			invalid("inbound/unknown field in line", "POST", "/v1/inbounds", `{"warehouse":"w1","lines":[{"sku":"cap","quantity":5,"lot":"A"}]}`, "lines[0].lot"),
			invalid("inbound/bad expected_at", "POST", "/v1/inbounds", `{"warehouse":"w1","expected_at":"next week","lines":`+lines("cap", 5)+`}`, "expected_at"),
			invalid("inbound/too many lines", "POST", "/v1/inbounds", fmt.Sprintf(`{"warehouse":"w1","lines":[%s]}`, strings.TrimSuffix(strings.Repeat(`{"sku":"cap","quantity":1},`, 1001), ",")), "lines"),

			// POST /v1/inbounds/{id}/receive
			notFound("receive/unknown id", "POST", "/v1/inbounds/999999/receive", nil),
			notFound("receive/not a number", "POST", "/v1/inbounds/abc/receive", nil),
			notFound("receive/zero", "POST", "/v1/inbounds/0/receive", nil),
			notFound("receive/negative", "POST", "/v1/inbounds/-1/receive", nil),
			bad("receive/already received", "POST", "/v1/inbounds/"+w.id("received")+"/receive", nil, 409, "conflict", "").with("inbound " + w.id("received") + " was already received"),
			invalid("receive/part of it", "POST", "/v1/inbounds/"+w.id("inbound")+"/receive", `{"lines":`+lines("cap", 10)+`}`, "lines"),

			// PUT /v1/channels/{code}
			invalid("channel/bad platform", "PUT", "/v1/channels/ebay", `{"platform":"ebay"}`, "platform").with("ebay"),
			invalid("channel/platform missing", "PUT", "/v1/channels/new", `{"name":"New"}`, "platform"),
			invalid("channel/platform a number", "PUT", "/v1/channels/new", `{"platform":5}`, "platform"),
			invalid("channel/unknown warehouse", "PUT", "/v1/channels/new", `{"platform":"api","warehouses":["w1","w9"]}`, "warehouses[1]").with("w9"),
			invalid("channel/duplicate warehouse", "PUT", "/v1/channels/new", `{"platform":"api","warehouses":["w1","w1"]}`, "warehouses[1]"),
			invalid("channel/warehouses a string", "PUT", "/v1/channels/new", `{"platform":"api","warehouses":"w1"}`, "warehouses"),
			invalid("channel/warehouse a number", "PUT", "/v1/channels/new", `{"platform":"api","warehouses":[1]}`, "warehouses[0]"),
			invalid("channel/count_unpaid a string", "PUT", "/v1/channels/new", `{"platform":"api","count_unpaid":"yes"}`, "count_unpaid"),
			invalid("channel/settings an array", "PUT", "/v1/channels/new", `{"platform":"api","settings":[1]}`, "settings"),
			invalid("channel/settings too large", "PUT", "/v1/channels/new", fmt.Sprintf(`{"platform":"api","settings":{"x":%q}}`, long(17<<10)), "settings"),
			invalid("channel/bad code", "PUT", "/v1/channels/b%202b", `{"platform":"api"}`, "code"),
			invalid("channel/name too long", "PUT", "/v1/channels/new", fmt.Sprintf(`{"platform":"api","name":%q}`, long(201)), "name"),
			invalid("channel/unknown field", "PUT", "/v1/channels/new", `{"platform":"api","type":"store"}`, "type"),
			invalid("channel/existing, bad platform", "PUT", "/v1/channels/b2c", `{"platform":"amazon"}`, "platform"),

			// PUT /v1/channels/{code}/listings/{external_id}
			invalid("listing/unknown sku", "PUT", "/v1/channels/b2c/listings/L-x", `{"sku":"nope"}`, "sku").with("nope"),
			bad("listing/unknown channel", "PUT", "/v1/channels/nope/listings/L-x", `{"sku":"tee"}`, 404, "not_found", "channel").with("nope"),
			invalid("listing/enabled a string", "PUT", "/v1/channels/b2c/listings/L-x", `{"sku":"tee","enabled":"yes"}`, "enabled"),
			invalid("listing/sku a number", "PUT", "/v1/channels/b2c/listings/L-x", `{"sku":5}`, "sku"),
			invalid("listing/unknown field", "PUT", "/v1/channels/b2c/listings/L-x", `{"sku":"tee","product":"tee"}`, "product"),
			invalid("listing/channel in the body", "PUT", "/v1/channels/b2c/listings/L-x", `{"sku":"tee","channel":"b2b"}`, "channel"),
			invalid("listing/external id too long", "PUT", "/v1/channels/b2c/listings/"+long(129), `{"sku":"tee"}`, "external_id"),
			invalid("listing/empty body", "PUT", "/v1/channels/b2c/listings/L-x", "", "body"),
			invalid("listing/malformed", "PUT", "/v1/channels/b2c/listings/L-x", `{"sku":"tee"`, "body"),

			// PUT /v1/channels/{code}/rules
			invalid("rules/percent over 100", "PUT", "/v1/channels/amazon/rules", `{"percent":150}`, "percent"),
			invalid("rules/percent negative", "PUT", "/v1/channels/amazon/rules", `{"percent":-1}`, "percent"),
			invalid("rules/zero_at absurd", "PUT", "/v1/channels/amazon/rules", `{"zero_at":`+absurd+`}`, "zero_at"),
			invalid("rules/max a string", "PUT", "/v1/channels/amazon/rules", `{"max":"ten"}`, "max"),
			invalid("rules/max fractional", "PUT", "/v1/channels/amazon/rules", `{"percent":50,"max":1.5}`, "max"),
			invalid("rules/max huge", "PUT", "/v1/channels/amazon/rules", `{"max":`+huge+`}`, "max"),
			invalid("rules/percent a boolean", "PUT", "/v1/channels/amazon/rules", `{"percent":true}`, "percent"),
			invalid("rules/unknown field", "PUT", "/v1/channels/amazon/rules", `{"min":3}`, "min"),
			invalid("rules/malformed", "PUT", "/v1/channels/amazon/rules", `{"max":}`, "body"),
			notFound("rules/unknown channel", "PUT", "/v1/channels/nope/rules", `{"max":3}`),

			// PUT /v1/channels/{code}/rules/{sku}
			invalid("pair rules/percent over 100", "PUT", "/v1/channels/b2c/rules/tee", `{"percent":101}`, "percent"),
			invalid("pair rules/zero_at negative", "PUT", "/v1/channels/b2c/rules/tee", `{"zero_at":-3}`, "zero_at"),
			invalid("pair rules/unknown field", "PUT", "/v1/channels/b2c/rules/tee", `{"maximum":3}`, "maximum"),
			notFound("pair rules/unknown sku", "PUT", "/v1/channels/b2c/rules/nope", `{"max":3}`),
			notFound("pair rules/unknown channel", "PUT", "/v1/channels/nope/rules/tee", `{"max":3}`),

			// POST /v1/allocations
			invalid("allocation/purpose missing", "POST", "/v1/allocations", `{"channels":[{"channel":"amazon"}],"lines":`+lines("cap", 1)+`}`, "purpose"),
			invalid("allocation/bad purpose", "POST", "/v1/allocations", `{"purpose":"hold","channels":[{"channel":"amazon"}],"lines":`+lines("cap", 1)+`}`, "purpose").with("hold"),
			invalid("allocation/bad rule", "POST", "/v1/allocations", `{"purpose":"reserve","channels":[{"channel":"amazon","rule":"always"}],"lines":`+lines("cap", 1)+`}`, "channels[0].rule").with("always"),
			invalid("allocation/rule a number", "POST", "/v1/allocations", `{"purpose":"reserve","channels":[{"channel":"amazon","rule":1}],"lines":`+lines("cap", 1)+`}`, "channels[0].rule"),
			invalid("allocation/unknown channel", "POST", "/v1/allocations", `{"purpose":"reserve","channels":[{"channel":"amazon"},{"channel":"nope"}],"lines":`+lines("cap", 1)+`}`, "channels[1].channel").with("nope"),
			invalid("allocation/channel missing", "POST", "/v1/allocations", `{"purpose":"reserve","channels":[{"rule":"use_available"}],"lines":`+lines("cap", 1)+`}`, "channels[0].channel"),
			invalid("allocation/duplicate channel", "POST", "/v1/allocations", `{"purpose":"reserve","channels":[{"channel":"amazon"},{"channel":"amazon"}],"lines":`+lines("cap", 1)+`}`, "channels[1].channel"),
			invalid("allocation/channels an object", "POST", "/v1/allocations", `{"purpose":"reserve","channels":{"channel":"amazon"},"lines":`+lines("cap", 1)+`}`, "channels"),
			invalid("allocation/presell without channel", "POST", "/v1/allocations", `{"purpose":"presell","lines":`+lines("cap", 1)+`}`, "channels"),
			invalid("allocation/101 channels", "POST", "/v1/allocations", fmt.Sprintf(`{"purpose":"reserve","channels":[%s],"lines":%s}`, strings.TrimSuffix(strings.Repeat(`{"channel":"amazon"},`, 101), ","), lines("cap", 1)), "channels"),
			invalid("allocation/lines empty", "POST", "/v1/allocations", fmt.Sprintf(allocation, `[]`), "lines"),
			invalid("allocation/no lines nor all_skus", "POST", "/v1/allocations", `{"purpose":"reserve","channels":[{"channel":"amazon"}]}`, "lines"),
			invalid("allocation/lines and all_skus", "POST", "/v1/allocations", `{"purpose":"reserve","channels":[{"channel":"amazon"}],"lines":`+lines("cap", 1)+`,"all_skus":{"quantity":1}}`, "all_skus"),
			invalid("allocation/quantity negative", "POST", "/v1/allocations", fmt.Sprintf(allocation, lines("cap", 1, "mug", -1)), "lines[1].quantity"),
			invalid("allocation/quantity absurd", "POST", "/v1/allocations", fmt.Sprintf(allocation, lines("cap", absurd)), "lines[0].quantity"),
			invalid("allocation/quantity huge", "POST", "/v1/allocations", fmt.Sprintf(allocation, lines("cap", huge)), "lines[0].quantity"),
			invalid("allocation/quantity a string", "POST", "/v1/allocations", fmt.Sprintf(allocation, lines("cap", `"3"`)), "lines[0].quantity"),
			invalid("allocation/quantity missing", "POST", "/v1/allocations", `{"purpose":"presell","channels":[{"channel":"amazon"}],"lines":[{"sku":"cap","quantity":1},{"sku":"mug"}]}`, "lines[1].quantity"),
			invalid("allocation/all_skus quantity missing", "POST", "/v1/allocations", `{"purpose":"presell","channels":[{"channel":"amazon"}],"all_skus":{}}`, "all_skus.quantity"),
			invalid("allocation/all_skus negative", "POST", "/v1/allocations", `{"purpose":"reserve","channels":[{"channel":"amazon"}],"all_skus":{"quantity":-1}}`, "all_skus.quantity"),
			invalid("allocation/all_skus absurd", "POST", "/v1/allocations", `{"purpose":"reserve","channels":[{"channel":"amazon"}],"all_skus":{"quantity":`+absurd+`}}`, "all_skus.quantity"),
			invalid("allocation/all_skus a number", "POST", "/v1/allocations", `{"purpose":"reserve","channels":[{"channel":"amazon"}],"all_skus":5}`, "all_skus"),
			invalid("allocation/unknown sku", "POST", "/v1/allocations", fmt.Sprintf(allocation, lines("cap", 1, "nope", 1)), "lines[1].sku").with("nope"),
			invalid("allocation/duplicate sku", "POST", "/v1/allocations", fmt.Sprintf(allocation, lines("cap", 1, "cap", 2)), "lines[1].sku"),
			invalid("allocation/bundle", "POST", "/v1/allocations", fmt.Sprintf(allocation, lines("kit", 1)), "lines[0].sku"),
			invalid("allocation/listing", "POST", "/v1/allocations", fmt.Sprintf(allocation, `[{"listing":"L-tee","quantity":1}]`), "lines[0].listing"),
			invalid("allocation/sku with trailing space", "POST", "/v1/allocations", fmt.Sprintf(allocation, lines("cap ", 1)), "lines[0].sku"),
			bad("allocation/conflict", "POST", "/v1/allocations", `{"purpose":"presell","channels":[{"channel":"b2b"}],"lines":`+lines("mug", 1, "tee", 5)+`}`, 409, "conflict", "channels").with(inWay("rb2b", "reserve b2b")),
			bad("allocation/conflict with all_skus", "POST", "/v1/allocations", `{"purpose":"reserve","channels":[{"channel":"amazon"},{"channel":"b2b"}],"all_skus":{"quantity":1}}`, 409, "conflict", "channels").with(`already covers channel "b2b"`),
			invalid("allocation/priority out of range", "POST", "/v1/allocations", `{"purpose":"reserve","channels":[{"channel":"amazon"}],"lines":`+lines("cap", 1)+`,"priority":1000001}`, "priority"),
			invalid("allocation/priority fractional", "POST", "/v1/allocations", `{"purpose":"reserve","channels":[{"channel":"amazon"}],"lines":`+lines("cap", 1)+`,"priority":1.5}`, "priority"),
			invalid("allocation/bad starts_at", "POST", "/v1/allocations", `{"purpose":"reserve","channels":[{"channel":"amazon"}],"lines":`+lines("cap", 1)+`,"starts_at":"tomorrow"}`, "starts_at"),
			invalid("allocation/ends_at a number", "POST", "/v1/allocations", `{"purpose":"reserve","channels":[{"channel":"amazon"}],"lines":`+lines("cap", 1)+`,"ends_at":1767225600}`, "ends_at"),
			invalid("allocation/ends_at in the past", "POST", "/v1/allocations", `{"purpose":"reserve","channels":[{"channel":"amazon"}],"lines":`+lines("cap", 1)+`,"ends_at":"`+past+`"}`, "ends_at"),
			invalid("allocation/ends before it starts", "POST", "/v1/allocations", `{"purpose":"reserve","channels":[{"channel":"amazon"}],"lines":`+lines("cap", 1)+
				`,"starts_at":"`+w.now.Add(48*time.Hour).Format(time.RFC3339)+`","ends_at":"`+future+`"}`, "ends_at"),
			invalid("allocation/name too long", "POST", "/v1/allocations", fmt.Sprintf(`{"purpose":"reserve","name":%q,"channels":[{"channel":"amazon"}],"lines":%s}`, long(201), lines("cap", 1)), "name"),
			invalid("allocation/note too long", "POST", "/v1/allocations", fmt.Sprintf(`{"purpose":"reserve","note":%q,"channels":[{"channel":"amazon"}],"lines":%s}`, long(2001), lines("cap", 1)), "note"),
			invalid("allocation/inbound on a reserve", "POST", "/v1/allocations", `{"purpose":"reserve","channels":[{"channel":"amazon"}],"lines":`+lines("cap", 1)+`,"inbound":`+w.id("inbound")+`}`, "inbound"),
			invalid("allocation/unknown inbound", "POST", "/v1/allocations", `{"purpose":"presell","channels":[{"channel":"amazon"}],"lines":`+lines("cap", 1)+`,"inbound":999999}`, "inbound"),
			invalid("allocation/received inbound", "POST", "/v1/allocations", `{"purpose":"presell","channels":[{"channel":"amazon"}],"lines":`+lines("cap", 1)+`,"inbound":`+w.id("received")+`}`, "inbound"),
			invalid("allocation/unknown field", "POST", "/v1/allocations", `{"purpose":"reserve","channels":[{"channel":"amazon"}],"lines":`+lines("cap", 1)+`,"quantity":5}`, "quantity"),
			invalid("allocation/unknown field named like a known one", "POST", "/v1/allocations", `{"name":"x","purpose":"reserve","channels":[{"channel":"amazon"}],"lines":[{"sku":"cap","quantity":1,"name":"y"}]}`, "lines[0].name"),
			invalid("allocation/malformed", "POST", "/v1/allocations", `{"purpose":"reserve",`, "body"),

			// PATCH /v1/allocations/{id}
			notFound("patch/unknown id", "PATCH", "/v1/allocations/999999", `{"name":"x"}`),
			notFound("patch/not a number", "PATCH", "/v1/allocations/abc", `{"name":"x"}`),
			invalid("patch/quantity negative", "PATCH", rb2b, `{"lines":`+lines("tee", -1)+`}`, "lines[0].quantity"),
			invalid("patch/quantity absurd", "PATCH", rb2b, `{"lines":`+lines("tee", absurd)+`}`, "lines[0].quantity"),
			invalid("patch/quantity fractional", "PATCH", rb2b, `{"lines":`+lines("tee", 2.5)+`}`, "lines[0].quantity"),
			invalid("patch/quantity missing", "PATCH", rb2b, `{"lines":[{"sku":"tee"}]}`, "lines[0].quantity"),
			invalid("patch/unknown sku", "PATCH", rb2b, `{"lines":`+lines("tee", 3, "nope", 1)+`}`, "lines[1].sku"),
			invalid("patch/duplicate sku", "PATCH", rb2b, `{"lines":`+lines("tee", 3, "tee", 1)+`}`, "lines[1].sku"),
			invalid("patch/all_skus on lines", "PATCH", rb2b, `{"all_skus":{"quantity":3}}`, "all_skus"),
			invalid("patch/priority out of range", "PATCH", rb2b, `{"priority":-1000001}`, "priority"),
			invalid("patch/ends_at in the past", "PATCH", rb2b, `{"ends_at":"`+past+`"}`, "ends_at"),
			invalid("patch/bad ends_at", "PATCH", rb2b, `{"ends_at":"soon"}`, "ends_at"),
			invalid("patch/name too long", "PATCH", rb2b, fmt.Sprintf(`{"name":%q}`, long(201)), "name"),
			invalid("patch/purpose", "PATCH", rb2b, `{"purpose":"presell"}`, "purpose"),
			invalid("patch/channels", "PATCH", rb2b, `{"channels":[{"channel":"b2c"}]}`, "channels"),
			invalid("patch/empty body", "PATCH", rb2b, "", "body"),
			invalid("patch/malformed", "PATCH", rb2b, `{"lines":[`, "body"),
			bad("patch/conflict", "PATCH", rb2b, `{"lines":`+lines("tee", 30, "cap", 3)+`}`, 409, "conflict", "lines").with(inWay("rcap", "reserve b2b") + ` already covers channel "b2b" for SKU "cap"`),
			bad("patch/ended", "PATCH", rend, `{"lines":`+lines("mug", 3)+`}`, 409, "conflict", "").with("allocation " + w.id("rend") + " ended"),
			invalid("patch/lines and quantity of another", "PATCH", rcap, `{"lines":[{"sku":"cap"}],"quantity":3}`, "quantity"),

			// DELETE /v1/allocations/{id}
			notFound("end/unknown id", "DELETE", "/v1/allocations/999999", nil),
			notFound("end/not a number", "DELETE", "/v1/allocations/abc", nil),

			// POST /v1/buffers
			invalid("buffer/channel not manual", "POST", "/v1/buffers", `{"channel":"b2c","lines":`+lines("cap", 5)+`}`, "channel"),
			invalid("buffer/unknown channel", "POST", "/v1/buffers", `{"channel":"nope","lines":`+lines("cap", 5)+`}`, "channel"),
			invalid("buffer/lines empty", "POST", "/v1/buffers", `{"lines":[]}`, "lines"),
			invalid("buffer/quantity negative", "POST", "/v1/buffers", `{"lines":`+lines("cap", -5)+`}`, "lines[0].quantity"),
			invalid("buffer/quantity absurd", "POST", "/v1/buffers", `{"lines":`+lines("cap", absurd)+`}`, "lines[0].quantity"),
			invalid("buffer/unknown sku", "POST", "/v1/buffers", `{"lines":`+lines("nope", 5)+`}`, "lines[0].sku"),
			invalid("buffer/all_skus negative", "POST", "/v1/buffers", `{"all_skus":{"quantity":-2}}`, "all_skus.quantity"),
			invalid("buffer/all_skus quantity missing", "POST", "/v1/buffers", `{"all_skus":{}}`, "all_skus.quantity"),
			invalid("buffer/quantity missing", "POST", "/v1/buffers", `{"lines":[{"sku":"cap"}]}`, "lines[0].quantity"),
			invalid("buffer/unknown field", "POST", "/v1/buffers", `{"channels":["manual"],"lines":`+lines("cap", 5)+`}`, "channels"),
			invalid("buffer/priority out of range", "POST", "/v1/buffers", `{"priority":2000000,"lines":`+lines("cap", 5)+`}`, "priority"),
			bad("buffer/conflict", "POST", "/v1/buffers", `{"channel":"manual","lines":`+lines("tee", 5)+`}`, 409, "conflict", "channels").with(inWay("buffer", "buffer")),

			// POST /v1/stops
			invalid("stop/channels missing", "POST", "/v1/stops", `{"skus":["tee"]}`, "channels"),
			invalid("stop/skus and all_skus", "POST", "/v1/stops", `{"channels":["amazon"],"skus":["tee"],"all_skus":true}`, "skus"),
			invalid("stop/neither skus nor all_skus", "POST", "/v1/stops", `{"channels":["amazon"]}`, "skus"),
			invalid("stop/unknown channel", "POST", "/v1/stops", `{"channels":["amazon","nope"],"skus":["tee"]}`, "channels[1]").with("nope"),
			invalid("stop/duplicate channel", "POST", "/v1/stops", `{"channels":["amazon","amazon"],"skus":["tee"]}`, "channels[1]"),
			invalid("stop/bad channel code", "POST", "/v1/stops", `{"channels":["a b"],"skus":["tee"]}`, "channels[0]"),
			invalid("stop/unknown sku", "POST", "/v1/stops", `{"channels":["amazon"],"skus":["tee","nope"]}`, "skus[1]").with("nope"),
			invalid("stop/duplicate sku", "POST", "/v1/stops", `{"channels":["amazon"],"skus":["tee","tee"]}`, "skus[1]"),
			invalid("stop/empty sku", "POST", "/v1/stops", `{"channels":["amazon"],"skus":[""]}`, "skus[0]"),
			invalid("stop/skus a string", "POST", "/v1/stops", `{"channels":["amazon"],"skus":"tee"}`, "skus"),
			invalid("stop/all_skus a string", "POST", "/v1/stops", `{"channels":["amazon"],"all_skus":"yes"}`, "all_skus"),
			invalid("stop/bad ends_at", "POST", "/v1/stops", `{"channels":["amazon"],"skus":["tee"],"ends_at":"never"}`, "ends_at"),
			bad("stop/conflict", "POST", "/v1/stops", `{"channels":["b2b"],"skus":["tee"]}`, 409, "conflict", "channels").with(inWay("rb2b", "reserve b2b")),

			// POST /v1/orders
			invalid("order/channel missing", "POST", "/v1/orders", `{"external_id":"new","lines":`+lines("tee", 1)+`}`, "channel"),
			invalid("order/unknown channel", "POST", "/v1/orders", `{"channel":"nope","external_id":"new","lines":`+lines("tee", 1)+`}`, "channel").with("nope"),
			invalid("order/external_id missing", "POST", "/v1/orders", `{"channel":"b2c","lines":`+lines("tee", 1)+`}`, "external_id"),
			invalid("order/external_id too long", "POST", "/v1/orders", fmt.Sprintf(`{"channel":"b2c","external_id":%q,"lines":%s}`, long(129), lines("tee", 1)), "external_id"),
			invalid("order/external_id a number", "POST", "/v1/orders", `{"channel":"b2c","external_id":1001,"lines":`+lines("tee", 1)+`}`, "external_id"),
			invalid("order/lines empty", "POST", "/v1/orders", fmt.Sprintf(order, `[]`), "lines"),
			invalid("order/lines missing", "POST", "/v1/orders", `{"channel":"b2c","external_id":"new"}`, "lines"),
			invalid("order/quantity 0", "POST", "/v1/orders", fmt.Sprintf(order, lines("tee", 0)), "lines[0].quantity"),
			invalid("order/quantity missing", "POST", "/v1/orders", fmt.Sprintf(order, `[{"sku":"tee","quantity":1},{"sku":"cap"}]`), "lines[1].quantity").with("required"),
			invalid("order/quantity negative", "POST", "/v1/orders", fmt.Sprintf(order, lines("tee", 1, "cap", -1)), "lines[1].quantity"),
			invalid("order/quantity absurd", "POST", "/v1/orders", fmt.Sprintf(order, lines("tee", absurd)), "lines[0].quantity"),
			invalid("order/quantity huge", "POST", "/v1/orders", fmt.Sprintf(order, lines("tee", huge)), "lines[0].quantity"),
			invalid("order/quantity fractional", "POST", "/v1/orders", fmt.Sprintf(order, lines("tee", 1, "cap", 1.5)), "lines[1].quantity"),
			invalid("order/quantity a string", "POST", "/v1/orders", fmt.Sprintf(order, lines("tee", `"1"`)), "lines[0].quantity"),
			invalid("order/unknown sku", "POST", "/v1/orders", fmt.Sprintf(order, lines("tee", 1, "nope", 1)), "lines[1].sku").with("nope"),
			invalid("order/unknown listing", "POST", "/v1/orders", fmt.Sprintf(order, `[{"listing":"L-nope","quantity":1}]`), "lines[0].listing").with("L-nope"),
			invalid("order/unlinked listing", "POST", "/v1/orders", fmt.Sprintf(order, `[{"listing":"L-none","quantity":1}]`), "lines[0].listing"),
			invalid("order/disabled listing", "POST", "/v1/orders", fmt.Sprintf(order, `[{"listing":"L-off","quantity":1}]`), "lines[0].listing").with("disabled"),
			invalid("order/sku and listing", "POST", "/v1/orders", fmt.Sprintf(order, `[{"sku":"tee","listing":"L-tee","quantity":1}]`), "lines[0].sku"),
			invalid("order/neither sku nor listing", "POST", "/v1/orders", fmt.Sprintf(order, `[{"quantity":1}]`), "lines[0].sku"),
			invalid("order/bad payment", "POST", "/v1/orders", `{"channel":"b2c","external_id":"new","payment":"cash","lines":`+lines("tee", 1)+`}`, "payment").with("cash"),
			invalid("order/placed and cancelled", "POST", "/v1/orders", `{"channel":"b2c","external_id":"new","cancelled":true,"lines":`+lines("tee", 1)+`}`, "cancelled"),
			invalid("order/placed with updated_at", "POST", "/v1/orders", `{"channel":"b2c","external_id":"new","updated_at":"`+past+`","lines":`+lines("tee", 1)+`}`, "updated_at"),
			invalid("order/unknown field", "POST", "/v1/orders", `{"channel":"b2c","external_id":"new","customer":"Ann","lines":`+lines("tee", 1)+`}`, "customer"),
			invalid("order/unknown field in line", "POST", "/v1/orders", fmt.Sprintf(order, `[{"sku":"tee","quantity":1,"price":9.5}]`), "lines[0].price"),
			invalid("order/line not an object", "POST", "/v1/orders", fmt.Sprintf(order, `[{"sku":"tee","quantity":1},["cap",1]]`), "lines[1]"),
			invalid("order/malformed", "POST", "/v1/orders", `{"channel":"b2c"`, "body"),
			bad("order/body too large", "POST", "/v1/orders", big, 413, "too_large", "body"),
			bad("order/other order with that id", "POST", "/v1/orders", `{"channel":"b2c","external_id":"o1","lines":`+lines("tee", 3)+`}`, 409, "conflict", "external_id").with("o1"),
			bad("order/beyond stock", "POST", "/v1/orders", fmt.Sprintf(order, lines("tee", 1000)), 409, "insufficient_stock", "").checking(w.shortfall("b2c", "tee", 1000)),
			bad("order/beyond stock on two skus", "POST", "/v1/orders", fmt.Sprintf(order, lines("tee", 1000, "cap", 500)), 409, "insufficient_stock", "").
				checking(w.shortfall("b2c", "tee", 1000, "cap", 500)),
			bad("order/two lines of one sku summed", "POST", "/v1/orders", fmt.Sprintf(order, lines("tee", 40, "tee", 40)), 409, "insufficient_stock", "").
				checking(w.shortfall("b2c", "tee", 80)),
			bad("order/bundle and its component summed", "POST", "/v1/orders", fmt.Sprintf(order, `[{"listing":"L-kit","quantity":10},{"sku":"cap","quantity":10}]`), 409, "insufficient_stock", "").
				checking(w.shortfall("b2c", "cap", 20)),
			bad("order/beyond a reserve", "POST", "/v1/orders", `{"channel":"b2b","external_id":"new","lines":`+lines("tee", 31)+`}`, 409, "insufficient_stock", "").
				checking(w.shortfall("b2b", "tee", 31)),

			// POST /v1/orders/import
			invalid("import/unknown channel", "POST", "/v1/orders/import", `{"channel":"nope","external_id":"new","lines":`+lines("tee", 1)+`}`, "channel"),
			invalid("import/lines empty", "POST", "/v1/orders/import", fmt.Sprintf(order, `[]`), "lines"),
			invalid("import/unknown sku", "POST", "/v1/orders/import", fmt.Sprintf(order, lines("nope", 1)), "lines[0].sku"),
			invalid("import/quantity 0", "POST", "/v1/orders/import", fmt.Sprintf(order, lines("tee", 0)), "lines[0].quantity"),
			invalid("import/quantity missing", "POST", "/v1/orders/import", fmt.Sprintf(order, `[{"sku":"tee"}]`), "lines[0].quantity").with("required"),
			invalid("import/quantity absurd", "POST", "/v1/orders/import", fmt.Sprintf(order, lines("tee", 1, "cap", absurd)), "lines[1].quantity"),
			invalid("import/bad payment", "POST", "/v1/orders/import", `{"channel":"b2c","external_id":"new","payment":"later","lines":`+lines("tee", 1)+`}`, "payment"),
			invalid("import/bad updated_at", "POST", "/v1/orders/import", `{"channel":"b2c","external_id":"new","updated_at":"now","lines":`+lines("tee", 1)+`}`, "updated_at"),
			invalid("import/cancelled a string", "POST", "/v1/orders/import", `{"channel":"b2c","external_id":"new","cancelled":"yes","lines":`+lines("tee", 1)+`}`, "cancelled"),
			invalid("import/unknown field", "POST", "/v1/orders/import", `{"channel":"b2c","external_id":"new","state":"open","lines":`+lines("tee", 1)+`}`, "state"),
			bad("import/a hold's id", "POST", "/v1/orders/import", `{"channel":"b2c","external_id":"`+w.holdX+`","lines":`+lines("tee", 1)+`}`, 409, "conflict", "external_id"),
			bad("import/new lines of a shipped order", "POST", "/v1/orders/import", `{"channel":"b2c","external_id":"o2","lines":`+lines("tee", 5)+`}`, 409, "conflict", "lines").with("o2"),

			// POST /v1/orders/{channel}/{external_id}/cancel
			notFound("cancel/unknown order", "POST", "/v1/orders/b2c/nope/cancel", nil),
			notFound("cancel/unknown channel", "POST", "/v1/orders/nope/o1/cancel", nil),
			notFound("cancel/a hold", "POST", "/v1/orders/b2c/"+w.holdX+"/cancel", nil),
			invalid("cancel/body without lines", "POST", "/v1/orders/b2c/o1/cancel", `{}`, "lines"),
			invalid("cancel/lines empty", "POST", "/v1/orders/b2c/o1/cancel", `{"lines":[]}`, "lines"),
			invalid("cancel/more than open", "POST", "/v1/orders/b2c/o1/cancel", `{"lines":`+lines("tee", 3)+`}`, "lines[0].quantity"),
			invalid("cancel/quantity 0", "POST", "/v1/orders/b2c/o1/cancel", `{"lines":`+lines("tee", 0)+`}`, "lines[0].quantity"),
			invalid("cancel/quantity missing", "POST", "/v1/orders/b2c/o1/cancel", `{"lines":[{"sku":"tee"}]}`, "lines[0].quantity").with("required"),
			invalid("cancel/quantity negative", "POST", "/v1/orders/b2c/o1/cancel", `{"lines":`+lines("tee", -1)+`}`, "lines[0].quantity"),
			invalid("cancel/sku not in the order", "POST", "/v1/orders/b2c/o1/cancel", `{"lines":`+lines("cap", 1)+`}`, "lines[0].sku").with("cap"),
			invalid("cancel/second line bad", "POST", "/v1/orders/b2c/o1/cancel", `{"lines":`+lines("tee", 1, "cap", 1)+`}`, "lines[1].sku"),
			invalid("cancel/unknown field", "POST", "/v1/orders/b2c/o1/cancel", `{"lines":`+lines("tee", 1)+`,"reason":"late"}`, "reason"),
			invalid("cancel/malformed", "POST", "/v1/orders/b2c/o1/cancel", `{"lines":`, "body"),
			invalid("cancel/shipped units", "POST", "/v1/orders/b2c/o2/cancel", `{"lines":`+lines("tee", 1)+`}`, "lines[0].sku"),

			// POST /v1/orders/{channel}/{external_id}/ship
			notFound("ship/unknown order", "POST", "/v1/orders/b2c/nope/ship", nil),
			notFound("ship/unknown channel", "POST", "/v1/orders/nope/o1/ship", nil),
			invalid("ship/more than open", "POST", "/v1/orders/b2c/o1/ship", `{"lines":`+lines("tee", 9)+`}`, "lines[0].quantity"),
			invalid("ship/quantity absurd", "POST", "/v1/orders/b2c/o1/ship", `{"lines":`+lines("tee", absurd)+`}`, "lines[0].quantity"),
			invalid("ship/sku not in the order", "POST", "/v1/orders/b2c/o1/ship", `{"lines":`+lines("mug", 1)+`}`, "lines[0].sku"),
			invalid("ship/lines null", "POST", "/v1/orders/b2c/o1/ship", `{"lines":null}`, "lines"),
			bad("ship/line waiting for its listing", "POST", "/v1/orders/b2c/imp1/ship", `{"lines":[{"listing":"L-new","quantity":1}]}`, 409, "conflict", ""),

			// POST /v1/orders/{channel}/{external_id}/reprocess
			notFound("reprocess/unknown order", "POST", "/v1/orders/b2c/nope/reprocess", nil),
			notFound("reprocess/unknown channel", "POST", "/v1/orders/nope/imp1/reprocess", nil),
			bad("reprocess/still not linked", "POST", "/v1/orders/b2c/imp1/reprocess", nil, 409, "conflict", "").with("imp1"),

			// POST /v1/holds
			invalid("hold/channel missing", "POST", "/v1/holds", `{"ttl_seconds":60,"lines":`+lines("tee", 1)+`}`, "channel"),
			invalid("hold/unknown channel", "POST", "/v1/holds", `{"channel":"nope","ttl_seconds":60,"lines":`+lines("tee", 1)+`}`, "channel"),
			invalid("hold/ttl missing", "POST", "/v1/holds", `{"channel":"b2c","lines":`+lines("tee", 1)+`}`, "ttl_seconds"),
			invalid("hold/ttl 0", "POST", "/v1/holds", `{"channel":"b2c","ttl_seconds":0,"lines":`+lines("tee", 1)+`}`, "ttl_seconds"),
			invalid("hold/ttl negative", "POST", "/v1/holds", `{"channel":"b2c","ttl_seconds":-60,"lines":`+lines("tee", 1)+`}`, "ttl_seconds"),
			invalid("hold/ttl over 30 days", "POST", "/v1/holds", `{"channel":"b2c","ttl_seconds":2592001,"lines":`+lines("tee", 1)+`}`, "ttl_seconds"),
			invalid("hold/ttl overflowing a duration", "POST", "/v1/holds", `{"channel":"b2c","ttl_seconds":9223372037,"lines":`+lines("tee", 1)+`}`, "ttl_seconds"),
			invalid("hold/ttl wrapping to a small duration", "POST", "/v1/holds", `{"channel":"b2c","ttl_seconds":18446744074,"lines":`+lines("tee", 1)+`}`, "ttl_seconds"),
			invalid("hold/ttl huge", "POST", "/v1/holds", `{"channel":"b2c","ttl_seconds":`+huge+`,"lines":`+lines("tee", 1)+`}`, "ttl_seconds"),
			invalid("hold/ttl a string", "POST", "/v1/holds", `{"channel":"b2c","ttl_seconds":"60","lines":`+lines("tee", 1)+`}`, "ttl_seconds"),
			invalid("hold/lines empty", "POST", "/v1/holds", `{"channel":"b2c","ttl_seconds":60,"lines":[]}`, "lines"),
			invalid("hold/quantity missing", "POST", "/v1/holds", `{"channel":"b2c","ttl_seconds":60,"lines":[{"sku":"tee"}]}`, "lines[0].quantity").with("required"),
			invalid("hold/unknown sku", "POST", "/v1/holds", `{"channel":"b2c","ttl_seconds":60,"lines":`+lines("tee", 1, "nope", 1)+`}`, "lines[1].sku"),
			invalid("hold/quantity negative", "POST", "/v1/holds", `{"channel":"b2c","ttl_seconds":60,"lines":`+lines("tee", -1)+`}`, "lines[0].quantity"),
			invalid("hold/unlinked listing", "POST", "/v1/holds", `{"channel":"b2c","ttl_seconds":60,"lines":[{"listing":"L-none","quantity":1}]}`, "lines[0].listing"),
			invalid("hold/unknown field", "POST", "/v1/holds", `{"channel":"b2c","ttl_seconds":60,"expires_at":"`+future+`","lines":`+lines("tee", 1)+`}`, "expires_at"),
			bad("hold/beyond stock", "POST", "/v1/holds", `{"channel":"b2c","ttl_seconds":60,"lines":`+lines("tee", 1000)+`}`, 409, "insufficient_stock", "").
				checking(w.shortfall("b2c", "tee", 1000)),

			// GET, POST /v1/holds/{id}/confirm, DELETE /v1/holds/{id}
			notFound("confirm/unknown id", "POST", "/v1/holds/999999/confirm", nil),
			notFound("confirm/not a number", "POST", "/v1/holds/abc/confirm", nil),
			notFound("confirm/an order's id", "POST", "/v1/holds/"+w.id("o1")+"/confirm", nil),
			bad("confirm/released", "POST", released+"/confirm", nil, 409, "conflict", "").with("hold " + w.id("released") + " is released"),
			invalid("confirm/bad payment", "POST", hold+"/confirm", `{"payment":"card"}`, "payment"),
			invalid("confirm/external_id too long", "POST", hold+"/confirm", fmt.Sprintf(`{"external_id":%q}`, long(129)), "external_id"),
			invalid("confirm/unknown field", "POST", hold+"/confirm", `{"lines":`+lines("tee", 1)+`}`, "lines"),
			invalid("confirm/malformed", "POST", hold+"/confirm", `{"payment"`, "body"),
			bad("confirm/external_id taken", "POST", hold+"/confirm", `{"external_id":"o1"}`, 409, "conflict", "external_id").with("o1"),
			notFound("release/unknown id", "DELETE", "/v1/holds/999999", nil),
			notFound("release/not a number", "DELETE", "/v1/holds/abc", nil),
			notFound("release/an order's id", "DELETE", "/v1/holds/"+w.id("o1"), nil),
			bad("release/confirmed", "DELETE", confirmed, nil, 409, "conflict", "").with("h-conf"),
			notFound("get hold/an order's id", "GET", "/v1/holds/"+w.id("o1"), nil),

			// Query parameters of the GET endpoints
			invalid("query/products limit 0", "GET", "/v1/products?limit=0", nil, "limit"),
			invalid("query/products limit over 1000", "GET", "/v1/products?limit=1001", nil, "limit"),
			invalid("query/products limit not a number", "GET", "/v1/products?limit=ten", nil, "limit"),
			invalid("query/products limit fractional", "GET", "/v1/products?limit=1.5", nil, "limit"),
			invalid("query/products after too long", "GET", "/v1/products?after="+long(129), nil, "after"),
			invalid("query/stock sku too long", "GET", "/v1/stock?sku="+long(129), nil, "sku"),
			notFound("query/stock unknown sku", "GET", "/v1/stock?sku=nope", nil),
			invalid("query/inbounds open", "GET", "/v1/inbounds?open=maybe", nil, "open"),
			invalid("query/allocations current", "GET", "/v1/allocations?current=2", nil, "current"),
			invalid("query/orders limit negative", "GET", "/v1/orders?limit=-1", nil, "limit"),
			invalid("query/orders limit huge", "GET", "/v1/orders?limit=99999999999999999999", nil, "limit"),
			invalid("query/orders before not a number", "GET", "/v1/orders?before=abc", nil, "before"),
			invalid("query/orders before negative", "GET", "/v1/orders?before=-5", nil, "before"),
			invalid("query/orders needs_attention", "GET", "/v1/orders?needs_attention=perhaps", nil, "needs_attention"),
			invalid("query/orders kind", "GET", "/v1/orders?kind=refund", nil, "kind"),
			invalid("query/orders oversold", "GET", "/v1/orders?oversold=x", nil, "oversold"),
			invalid("query/orders channel too long", "GET", "/v1/orders?channel="+long(65), nil, "channel"),
			invalid("query/history since", "GET", "/v1/history?since=yesterday", nil, "since"),
			invalid("query/history since a date", "GET", "/v1/history?since=2026-01-01", nil, "since"),
			invalid("query/history limit 0", "GET", "/v1/history?limit=0", nil, "limit"),
			invalid("query/history limit over 1000", "GET", "/v1/history?limit=5000", nil, "limit"),
			invalid("query/history before", "GET", "/v1/history?before=x", nil, "before"),
			invalid("query/history sku too long", "GET", "/v1/history?sku="+long(129), nil, "sku"),
			invalid("query/history channel too long", "GET", "/v1/history?channel="+long(65), nil, "channel"),
			invalid("query/readiness channel too long", "GET", "/v1/readiness?channel="+long(65), nil, "channel"),
			notFound("query/readiness unknown channel", "GET", "/v1/readiness?channel=nope", nil),
			notFound("query/quantities unknown sku", "GET", "/v1/quantities?sku=tee&sku=nope", nil),
			invalid("query/quantities too many skus", "GET", "/v1/quantities?"+strings.TrimSuffix(strings.Repeat("sku=tee&", 1001), "&"), nil, "sku"),
			notFound("explain/unknown sku", "GET", "/v1/quantities/b2c/nope", nil),
			notFound("explain/unknown channel", "GET", "/v1/quantities/nope/tee", nil),
			notFound("channel quantities/unknown channel", "GET", "/v1/channels/nope/quantities", nil),
			notFound("export/unknown kind", "GET", "/v1/export/nope", nil),
			notFound("import/unknown kind", "POST", "/v1/import/nope", "sku,name\nx,y\n"),
			notFound("no such endpoint", "POST", "/v1/products", `{"name":"x"}`),
		}
		w.run(t, cases)
	})
}

// The five CSV files: a bad file is refused whole, naming its line, and
// changes nothing; a good one applies.
func TestBadCSVNamesTheLineAndChangesNothing(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		w := newWorld(t, engine)
		imp := func(name, kind, file, field string) badCase {
			return invalid(kind+"/"+name, "POST", "/v1/import/"+kind, file, field)
		}
		cases := []badCase{
			imp("empty file", "products", "", "line 1"),
			imp("header only", "products", "sku,name\n", "line 2"),
			imp("header and blank lines", "products", "sku,name\n\n\n", "line 2"),
			imp("missing column", "products", "sku,barcode\nnew,123\n", "line 1").with("name"),
			imp("unknown column", "products", "sku,name,colour\nnew,New,red\n", "line 1").with("colour"),
			imp("duplicate column", "products", "sku,name,name\nnew,New,New\n", "line 1"),
			imp("wrong field count", "products", "sku,name\nn1,One\nn2,Two,extra\n", "line 3"),
			imp("bad quote", "products", "sku,name\nn1,One\nn2,\"Two\n", "line 3"),
			imp("bad components on line 3", "products", "sku,name,components\nn1,One,\nk2,Kit,tee:two\n", "line 3.components"),
			imp("unknown component on line 4", "products", "sku,name,components\nn1,One,\nn2,Two,\nk3,Kit,nope:1\n", "line 4.components[0].sku"),
			imp("line 2 fine, line 5 bad", "products", "sku,name\nn1,One\nn2,Two\nn3,Three\nn4,\n", "line 5.name"),
			imp("several bad lines", "products", "sku,name,components\nn1,One,tee:x\nn2,Two,cap:y\n", "line 2.components").with("line 3"),

			imp("empty file", "stock", "", "line 1"),
			imp("header only", "stock", "warehouse,sku,in_warehouse\n", "line 2"),
			imp("missing column", "stock", "warehouse,sku\nw1,tee\n", "line 1").with("in_warehouse"),
			imp("unknown column", "stock", "warehouse,sku,in_warehouse,reserved\nw1,tee,5,1\n", "line 1").with("reserved"),
			imp("wrong field count", "stock", "warehouse,sku,in_warehouse\nw1,tee,5\nw1,cap\n", "line 3"),
			imp("quantity not a number on line 3", "stock", "warehouse,sku,in_warehouse\nw1,tee,5\nw1,cap,ten\n", "line 3.in_warehouse").with("ten"),
			imp("quantity missing on line 3", "stock", "warehouse,sku,in_warehouse\nw1,tee,5\nw1,cap,\n", "line 3.in_warehouse"),
			imp("unknown sku on line 4", "stock", "warehouse,sku,in_warehouse\nw1,tee,5\nw1,cap,6\nw1,nope,7\n", "line 4.sku").with("nope"),
			imp("unknown warehouse on line 4", "stock", "warehouse,sku,in_warehouse\nw1,tee,5\nw1,cap,6\nw9,mug,7\n", "line 4.warehouse"),
			imp("line 2 fine, line 5 bad", "stock", "warehouse,sku,in_warehouse,damaged\nw1,tee,5,0\nw1,cap,6,0\nw1,mug,7,0\nw2,tee,3,4\n", "line 5.damaged"),
			imp("absurd quantity on line 5", "stock", "warehouse,sku,in_warehouse\nw1,tee,5\nw1,cap,6\nw1,mug,7\nw2,tee,1000000001\n", "line 5.in_warehouse"),
			imp("bad as_of on line 3", "stock", "warehouse,sku,in_warehouse,as_of\nw1,tee,5,\nw1,cap,6,yesterday\n", "line 3.as_of"),

			imp("empty file", "listings", "", "line 1"),
			imp("header only", "listings", "channel,external_id,sku\n", "line 2"),
			imp("missing column", "listings", "channel,sku\nb2c,tee\n", "line 1").with("external_id"),
			imp("unknown column", "listings", "channel,external_id,sku,price\nb2c,L-x,tee,9\n", "line 1"),
			imp("wrong field count", "listings", "channel,external_id,sku\nb2c,L-x,tee\nb2c,L-y\n", "line 3"),
			imp("enabled not a boolean on line 3", "listings", "channel,external_id,sku,enabled\nb2c,L-x,tee,true\nb2c,L-y,cap,maybe\n", "line 3.enabled"),
			imp("unknown sku on line 4", "listings", "channel,external_id,sku\nb2c,L-x,tee\nb2c,L-y,cap\nb2c,L-z,nope\n", "line 4.sku").with("nope"),
			imp("line 2 fine, line 5 bad", "listings", "channel,external_id,sku\nb2c,L-x,tee\nb2c,L-y,cap\nb2c,L-z,mug\nnope,L-w,tee\n", "line 5.channel"),

			imp("empty file", "allocations", "", "line 1"),
			imp("header only", "allocations", "ref,purpose,channels,sku,quantity\n", "line 2"),
			imp("missing column", "allocations", "ref,purpose,sku,quantity\na1,reserve,cap,1\n", "line 1").with("channels"),
			imp("unknown column", "allocations", "ref,purpose,channels,sku,quantity,rule\na1,reserve,amazon,cap,1,x\n", "line 1"),
			imp("wrong field count", "allocations", "ref,purpose,channels,sku,quantity\na1,reserve,amazon,cap,1\na2,reserve,amazon,mug\n", "line 3"),
			imp("quantity not a number on line 3", "allocations", "ref,purpose,channels,sku,quantity\na1,reserve,amazon,cap,1\na2,reserve,amazon,mug,ten\n", "line 3.quantity"),
			imp("unknown sku on line 4", "allocations", "ref,purpose,channels,sku,quantity\na1,reserve,amazon,cap,1\na2,presell,amazon,mug,3\na2,presell,amazon,nope,2\n", "line 4.sku").with("nope"),
			imp("line 2 fine, line 5 bad", "allocations", "ref,purpose,channels,sku,quantity\na1,reserve,amazon,cap,1\na2,reserve,manual,cap,1\na3,reserve,b2c,cap,1\na4,keep,b2c,mug,1\n", "line 5.purpose").with("keep"),
			imp("negative quantity on line 5", "allocations", "ref,purpose,channels,sku,quantity\na1,reserve,amazon,cap,1\na1,reserve,amazon,mug,1\na2,reserve,manual,cap,1\na2,reserve,manual,mug,-1\n", "line 5.quantity"),
			imp("bad rule on line 2", "allocations", "ref,purpose,channels,sku,quantity\na1,reserve,amazon:always,cap,1\n", "line 2.channels[0].rule"),
			bad("allocations/conflict on line 3", "POST", "/v1/import/allocations", "ref,purpose,channels,sku,quantity\na1,reserve,amazon,cap,1\na2,reserve,b2b,tee,1\n", 409, "conflict", "line 3.channels").with(fmt.Sprintf("allocation %s \"reserve b2b\"", w.id("rb2b"))),

			imp("empty file", "orders", "", "line 1"),
			imp("header only", "orders", "channel,external_id,sku,quantity\n", "line 2"),
			imp("missing column", "orders", "channel,sku,quantity\nb2c,tee,1\n", "line 1").with("external_id"),
			imp("unknown column", "orders", "channel,external_id,sku,quantity,customer\nb2c,c1,tee,1,Ann\n", "line 1"),
			imp("wrong field count", "orders", "channel,external_id,sku,quantity\nb2c,c1,tee,1\nb2c,c2,tee\n", "line 3"),
			imp("quantity not a number on line 3", "orders", "channel,external_id,sku,quantity\nb2c,c1,tee,1\nb2c,c2,tee,ten\n", "line 3.quantity").with("ten"),
			imp("unknown sku on line 4", "orders", "channel,external_id,sku,quantity\nb2c,c1,tee,1\nb2c,c2,tee,1\nb2c,c2,nope,1\n", "line 4.sku").with("nope"),
			imp("line 2 fine, line 5 bad", "orders", "channel,external_id,sku,quantity,payment\nb2c,c1,tee,1,paid\nb2c,c2,tee,1,paid\nb2c,c3,cap,1,paid\nb2c,c4,tee,1,cash\n", "line 5.payment").with("cash"),
			imp("zero quantity on line 5", "orders", "channel,external_id,sku,quantity\nb2c,c1,tee,1\nb2c,c2,tee,1\nb2c,c2,cap,1\nb2c,c2,mug,0\n", "line 5.quantity"),
			imp("unknown channel on line 2", "orders", "channel,external_id,sku,quantity\nnope,c1,tee,1\n", "line 2.channel"),
		}
		w.run(t, cases)

		// A good file of each kind applies.
		good := []struct{ kind, file, check, want string }{
			{"products", "sku,name,barcode\nnew1,New one,123\n", "/v1/export/products", "new1,New one,123"},
			{"stock", "warehouse,sku,in_warehouse,damaged\nw2,mug,7,1\n", "/v1/export/stock", "w2,mug,7,1"},
			{"listings", "channel,external_id,sku\nb2c,L-mug,mug\n", "/v1/export/listings", "b2c,L-mug,mug,true"},
			{"allocations", "ref,purpose,channels,sku,quantity\nx,reserve,amazon:use_available,cap,2\n", "/v1/export/allocations", "reserve,amazon:use_available,cap,2"},
			{"orders", "channel,external_id,sku,quantity\nb2c,csv-1,tee,1\nb2c,csv-1,cap,2\n", "/v1/export/orders", "b2c,csv-1,imported,open,paid,cap"},
		}
		for _, g := range good {
			status, _, raw := send(t, w.url, allottest.Token, "POST", "/v1/import/"+g.kind, g.file)
			if status != 200 {
				t.Errorf("import of a good %s file: %d %s", g.kind, status, raw)
				continue
			}
			_, _, out := send(t, w.url, allottest.Token, "GET", g.check, nil)
			if !strings.Contains(string(out), g.want) {
				t.Errorf("after importing %s, %s does not hold %q:\n%s", g.kind, g.check, g.want, out)
			}
		}
	})
}
