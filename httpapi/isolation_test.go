package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/allot/allot/allottest"
	"github.com/allot/allot/client"
	"github.com/allot/allot/httpapi"
)

// tokenB is the API token of the second merchant of the isolation tests.
const tokenB = "other_merchant_token_9876543210"

// Two merchants on one server: nothing of one is visible to, or
// changeable by, the other. Another merchant's ids and codes are answered
// exactly as ids and codes that never existed.
func TestMerchantsAreIsolated(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		now := time.Now().UTC().Truncate(time.Second)
		srv, ca := allottest.Server(t, allottest.Options{Engine: engine, Clock: allottest.NewClock(now)})
		if _, _, err := srv.Service.CreateMerchant(context.Background(), "other", "Other", tokenB); err != nil {
			t.Fatal(err)
		}
		url := srv.URL()
		a := &api{t: t, c: ca}
		b := &api{t: t, c: client.New(url, tokenB)}

		// Merchant A: some codes that B will also use (w1, b2c, b2b, tee) and
		// some of its own (a-wh, a-shop, a-tee).
		a.do("PUT", "/v1/warehouses/w1", map[string]any{"name": "A main"})
		a.do("PUT", "/v1/warehouses/a-wh", map[string]any{"name": "A only"})
		for _, c := range []string{"b2c", "b2b", "a-shop"} {
			a.do("PUT", "/v1/channels/"+c, map[string]any{"platform": "api"})
		}
		a.do("PUT", "/v1/products/tee", map[string]any{"name": "T-shirt"})
		a.do("PUT", "/v1/products/a-tee", map[string]any{"name": "A tee"})
		a.do("PUT", "/v1/bundles/a-kit", map[string]any{"name": "A kit", "components": []map[string]any{{"sku": "a-tee", "quantity": 2}}})
		a.stock("w1", "tee", 100)
		a.stock("a-wh", "a-tee", 10)
		a.do("PUT", "/v1/channels/b2c/listings/L-tee", map[string]any{"sku": "tee"})
		a.do("PUT", "/v1/channels/a-shop/listings/A-L1", map[string]any{"sku": "a-tee"})
		a.do("PUT", "/v1/channels/a-shop/rules", map[string]any{"max": 8})
		a.do("PUT", "/v1/channels/b2c/rules/tee", map[string]any{"percent": 80})
		allocA := fmt.Sprint(a.reserve("b2b", "follow_allocation", 30))
		a.do("POST", "/v1/orders", map[string]any{"channel": "b2c", "external_id": "o1", "lines": []map[string]any{{"sku": "tee", "quantity": 2}}})
		a.do("POST", "/v1/orders", map[string]any{"channel": "a-shop", "external_id": "a-o2", "lines": []map[string]any{{"listing": "A-L1", "quantity": 1}}})
		a.do("POST", "/v1/orders/import", map[string]any{"channel": "b2c", "external_id": "a-imp", "lines": []map[string]any{{"listing": "L-unlinked", "quantity": 1}}})
		hold := a.do("POST", "/v1/holds", map[string]any{"channel": "b2c", "ttl_seconds": 3600, "lines": []map[string]any{{"sku": "tee", "quantity": 1}}})
		holdA := jsonString(hold["id"])
		in := a.do("POST", "/v1/inbounds", map[string]any{"warehouse": "w1", "lines": []map[string]any{{"sku": "tee", "quantity": 20}}})
		inboundA := jsonString(in["id"])
		orderA := jsonString(a.do("GET", "/v1/orders/b2c/o1", nil)["id"])

		// Merchant B: the shared codes, with its own things behind them.
		b.do("PUT", "/v1/warehouses/w1", map[string]any{"name": "B main"})
		b.do("PUT", "/v1/channels/b2c", map[string]any{"platform": "api"})
		b.do("PUT", "/v1/channels/b2b", map[string]any{"platform": "api"})
		if out := b.do("PUT", "/v1/products/tee", map[string]any{"name": "B tee"}); out["name"] != "B tee" {
			t.Fatalf("B's tee: %v", out)
		}
		b.stock("w1", "tee", 10)

		before := takeSnapshot(t, url, allottest.Token)
		beforeB := takeSnapshot(t, url, tokenB)

		// A's ids and codes, in B's paths: 404, as for things that never existed.
		others := []struct{ method, path string }{
			{"GET", "/v1/allocations/" + allocA},
			{"PATCH", "/v1/allocations/" + allocA},
			{"DELETE", "/v1/allocations/" + allocA},
			{"GET", "/v1/inbounds/" + inboundA},
			{"POST", "/v1/inbounds/" + inboundA + "/receive"},
			{"GET", "/v1/holds/" + holdA},
			{"POST", "/v1/holds/" + holdA + "/confirm"},
			{"DELETE", "/v1/holds/" + holdA},
			{"GET", "/v1/holds/" + orderA},
			{"GET", "/v1/orders/b2c/o1"},
			{"GET", "/v1/orders/a-shop/a-o2"},
			{"POST", "/v1/orders/b2c/o1/cancel"},
			{"POST", "/v1/orders/b2c/o1/ship"},
			{"POST", "/v1/orders/b2c/o1/reprocess"},
			{"POST", "/v1/orders/a-shop/a-o2/cancel"},
			{"POST", "/v1/orders/a-shop/a-o2/ship"},
			{"POST", "/v1/orders/b2c/a-imp/reprocess"},
			{"GET", "/v1/products/a-tee"},
			{"GET", "/v1/bundles/a-kit"},
			{"GET", "/v1/channels/a-shop"},
			{"GET", "/v1/channels/a-shop/listings"},
			{"GET", "/v1/channels/a-shop/rules"},
			{"GET", "/v1/channels/a-shop/rules/a-tee"},
			{"GET", "/v1/channels/b2c/rules/a-tee"},
			{"GET", "/v1/channels/a-shop/quantities"},
			{"GET", "/v1/quantities/a-shop/a-tee"},
			{"GET", "/v1/quantities/a-shop/tee"},
			{"GET", "/v1/quantities/b2c/a-tee"},
			{"GET", "/v1/quantities?sku=a-tee"},
			{"GET", "/v1/stock?sku=a-tee"},
			{"GET", "/v1/readiness?channel=a-shop"},
			{"PUT", "/v1/channels/a-shop/listings/A-L1"},
			{"PUT", "/v1/channels/a-shop/rules"},
			{"PUT", "/v1/channels/a-shop/rules/a-tee"},
			{"PUT", "/v1/channels/b2c/rules/a-tee"},
			{"PUT", "/v1/stock/a-wh/tee"},
			{"PUT", "/v1/stock/w1/a-tee"},
			{"GET", "/v1/channels/a-shop/sync"},
			{"POST", "/v1/channels/a-shop/resync"},
			{"POST", "/v1/channels/a-shop/drift"},
			{"POST", "/v1/channels/a-shop/link"},
		}
		checkIsolationCovers(t, others)
		for _, p := range others {
			var body any
			switch {
			case p.method == "PATCH":
				body = map[string]any{"lines": []map[string]any{{"sku": "tee", "quantity": 1}}}
			case strings.Contains(p.path, "/listings/"):
				body = map[string]any{"sku": "tee"}
			case strings.Contains(p.path, "/rules"):
				body = map[string]any{"max": 1}
			case strings.HasPrefix(p.path, "/v1/stock/"):
				body = map[string]any{"in_warehouse": 1}
			}
			status, e, raw := send(t, url, tokenB, p.method, p.path, body)
			if status != http.StatusNotFound || e.Code != "not_found" {
				t.Errorf("B %s %s: answered %d %s, want 404 not_found: %.300s", p.method, p.path, status, e.Code, raw)
			}
			if err := readable(e.Message); err != nil {
				t.Errorf("B %s %s: %v", p.method, p.path, err)
			}
		}

		// A's codes in B's bodies: the answer B gets for a code that never
		// existed, naming the same field.
		for _, r := range []struct {
			method, path, body string
			a, never           string // A's code in body, and one no merchant has
		}{
			{"POST", "/v1/orders", `{"channel":"%s","external_id":"x1","lines":[{"sku":"tee","quantity":1}]}`, "a-shop", "never-ch"},
			{"POST", "/v1/orders", `{"channel":"b2c","external_id":"x1","lines":[{"sku":"%s","quantity":1}]}`, "a-tee", "never-sku"},
			{"POST", "/v1/orders", `{"channel":"b2c","external_id":"x1","lines":[{"listing":"%s","quantity":1}]}`, "L-tee", "never-listing"},
			{"POST", "/v1/orders/import", `{"channel":"%s","external_id":"x1","lines":[{"sku":"tee","quantity":1}]}`, "a-shop", "never-ch"},
			{"POST", "/v1/orders/import", `{"channel":"b2c","external_id":"x1","lines":[{"sku":"%s","quantity":1}]}`, "a-tee", "never-sku"},
			{"POST", "/v1/holds", `{"channel":"%s","ttl_seconds":60,"lines":[{"sku":"tee","quantity":1}]}`, "a-shop", "never-ch"},
			{"POST", "/v1/holds", `{"channel":"b2c","ttl_seconds":60,"lines":[{"sku":"%s","quantity":1}]}`, "a-tee", "never-sku"},
			{"POST", "/v1/allocations", `{"purpose":"reserve","channels":[{"channel":"%s"}],"lines":[{"sku":"tee","quantity":1}]}`, "a-shop", "never-ch"},
			{"POST", "/v1/allocations", `{"purpose":"reserve","channels":[{"channel":"b2c"}],"lines":[{"sku":"%s","quantity":1}]}`, "a-tee", "never-sku"},
			{"POST", "/v1/allocations", `{"purpose":"presell","channels":[{"channel":"b2c"}],"lines":[{"sku":"tee","quantity":1}],"inbound":%s}`, inboundA, "999999"},
			{"POST", "/v1/stops", `{"channels":["%s"],"all_skus":true}`, "a-shop", "never-ch"},
			{"POST", "/v1/buffers", `{"lines":[{"sku":"%s","quantity":1}]}`, "a-kit", "never-sku"},
			{"POST", "/v1/inbounds", `{"warehouse":"%s","lines":[{"sku":"tee","quantity":1}]}`, "a-wh", "never-wh"},
			{"POST", "/v1/inbounds", `{"warehouse":"w1","lines":[{"sku":"%s","quantity":1}]}`, "a-tee", "never-sku"},
			{"PUT", "/v1/channels/b-new", `{"platform":"api","warehouses":["%s"]}`, "a-wh", "never-wh"},
			{"PUT", "/v1/bundles/b-kit", `{"name":"B kit","components":[{"sku":"%s","quantity":1}]}`, "a-tee", "never-sku"},
			{"PUT", "/v1/channels/b2c/listings/B-L1", `{"sku":"%s"}`, "a-tee", "never-sku"},
			{"POST", "/v1/import/stock", "warehouse,sku,in_warehouse\nw1,%s,5\n", "a-tee", "never-sku"},
			{"POST", "/v1/import/listings", "channel,external_id,sku\n%s,X,tee\n", "a-shop", "never-ch"},
			{"POST", "/v1/import/orders", "channel,external_id,sku,quantity\nb2c,x1,%s,1\n", "a-tee", "never-sku"},
		} {
			sa, ea, rawA := send(t, url, tokenB, r.method, r.path, fmt.Sprintf(r.body, r.a))
			sn, en, _ := send(t, url, tokenB, r.method, r.path, fmt.Sprintf(r.body, r.never))
			if sa < 400 || sa != sn || ea.Code != en.Code || ea.Field != en.Field ||
				strings.ReplaceAll(ea.Message, r.a, "X") != strings.ReplaceAll(en.Message, r.never, "X") {
				t.Errorf("B %s %s naming A's %q: %d %s on %q (%s), but for %q: %d %s on %q (%s)\n\t%.300s", r.method, r.path, r.a,
					sa, ea.Code, ea.Field, ea.Message, r.never, sn, en.Code, en.Field, en.Message, rawA)
			}
		}

		if d := before.diff(takeSnapshot(t, url, allottest.Token)); d != "" {
			t.Fatalf("B's requests changed A's state:%s", d)
		}
		if d := beforeB.diff(takeSnapshot(t, url, tokenB)); d != "" {
			t.Fatalf("B's refused requests changed B's state:%s", d)
		}

		// B's lists hold B's things alone.
		list := func(path, key string) []map[string]any {
			var out []map[string]any
			for _, v := range b.do("GET", path, nil)[key].([]any) {
				out = append(out, v.(map[string]any))
			}
			return out
		}
		if ps := list("/v1/products", "products"); len(ps) != 1 || ps[0]["sku"] != "tee" || ps[0]["name"] != "B tee" {
			t.Errorf("B's products: %v", ps)
		}
		if ws := list("/v1/warehouses", "warehouses"); len(ws) != 1 || ws[0]["name"] != "B main" {
			t.Errorf("B's warehouses: %v", ws)
		}
		if cs := list("/v1/channels", "channels"); len(cs) != 2 {
			t.Errorf("B's channels: %v", cs)
		}
		if st := list("/v1/stock", "stock"); len(st) != 1 || st[0]["in_warehouse"].(float64) != 10 || st[0]["committed"].(float64) != 0 {
			t.Errorf("B's stock: %v", st)
		}
		for _, empty := range []struct{ path, key string }{
			{"/v1/allocations", "allocations"}, {"/v1/orders", "orders"}, {"/v1/inbounds", "inbounds"},
			{"/v1/channels/b2c/listings", "listings"}, {"/v1/orders?needs_attention=true", "orders"},
		} {
			if got := list(empty.path, empty.key); len(got) != 0 {
				t.Errorf("B's %s: %v", empty.path, got)
			}
		}
		for _, kind := range []string{"listings", "allocations", "orders"} {
			_, _, raw := send(t, url, tokenB, "GET", "/v1/export/"+kind, nil)
			if n := strings.Count(strings.TrimSpace(string(raw)), "\n"); n != 0 {
				t.Errorf("B's export of %s has %d rows:\n%s", kind, n, raw)
			}
		}
		if r := b.do("GET", "/v1/channels/b2c/rules", nil); r["percent"] != nil || r["max"] != nil {
			t.Errorf("B's rules of b2c: %v", r)
		}
		qs := b.do("GET", "/v1/quantities", nil)["quantities"].(map[string]any)
		if len(qs) != 1 || fmt.Sprint(qs["tee"]) != "map[b2b:10 b2c:10]" {
			t.Errorf("B's quantities: %v", qs)
		}
		history := func(c *api, query string) []map[string]any {
			var out []map[string]any
			for _, v := range c.do("GET", "/v1/history?limit=1000"+query, nil)["history"].([]any) {
				out = append(out, v.(map[string]any))
			}
			return out
		}
		hs := history(b, "")
		for _, h := range hs {
			j, _ := json.Marshal(h)
			for _, of := range []string{"a-", "A main", "T-shirt", "o1", "L-tee", "hold", "inbound"} {
				if strings.Contains(string(j), of) {
					t.Errorf("B's history shows A's %q: %s", of, j)
				}
			}
		}
		if len(hs) != 5 { // w1, b2c, b2b, tee, its stock, and nothing else
			t.Errorf("B's history has %d entries, want 5: %v", len(hs), hs)
		}
		if got := history(b, "&channel=a-shop"); len(got) != 0 {
			t.Errorf("B's history of a-shop: %v", got)
		}
		if got := history(b, "&sku=tee"); len(got) != 2 {
			t.Errorf("B's history of tee has %d entries, want 2: %v", len(got), got)
		}

		// B does what A did, under the same codes: its own things, no conflict
		// with A's allocation, no clash with A's order id.
		b.do("POST", "/v1/orders", map[string]any{"channel": "b2c", "external_id": "o1", "lines": []map[string]any{{"sku": "tee", "quantity": 2}}})
		b.reserve("b2b", "follow_allocation", 5)
		b.expect("tee", map[string]int{"b2b": 5, "b2c": 3})
		if o := b.do("GET", "/v1/orders/b2c/o1", nil); jsonString(o["id"]) == orderA {
			t.Errorf("B's order o1 is A's: %v", o)
		}
		if p := a.do("GET", "/v1/products/tee", nil); p["name"] != "T-shirt" {
			t.Errorf("A's tee after B's: %v", p)
		}
		// A's state, its history included, is what it was.
		if d := before.diff(takeSnapshot(t, url, allottest.Token)); d != "" {
			t.Fatalf("B's own changes changed A's state:%s", d)
		}
	})
}

// notOthers are the routes with path values that name nothing of another
// merchant's: what they name is created as the caller's own, or is a kind
// of file. The bodies of these routes are checked above.
var notOthers = map[string]bool{
	"PUT /v1/products/{sku}": true, "PUT /v1/bundles/{sku}": true, "PUT /v1/warehouses/{code}": true,
	"PUT /v1/channels/{code}": true, "POST /v1/import/{kind}": true, "GET /v1/export/{kind}": true,
}

var wildcards = regexp.MustCompile(`\{[a-z_]+\}`)

// checkIsolationCovers fails t if a route of the API with path values
// (one added since, say) is tried with none of another merchant's ids.
func checkIsolationCovers(t *testing.T, tried []struct{ method, path string }) {
	t.Helper()
	for _, route := range httpapi.Routes {
		method, pattern, _ := strings.Cut(route, " ")
		if !strings.Contains(pattern, "{") || notOthers[route] {
			continue
		}
		parts := wildcards.Split(pattern, -1)
		for i := range parts {
			parts[i] = regexp.QuoteMeta(parts[i])
		}
		re := regexp.MustCompile("^" + strings.Join(parts, `[^/]+`) + `(\?.*)?$`)
		covered := false
		for _, p := range tried {
			covered = covered || (p.method == method && re.MatchString(p.path))
		}
		if !covered {
			t.Errorf("%s is not tried with another merchant's ids: add it to TestMerchantsAreIsolated", route)
		}
	}
}

// Without a valid token, nothing is answered and nothing changes.
func TestRequestsWithoutAValidTokenAreRefused(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		w := newWorld(t, engine)
		before := takeSnapshot(t, w.url, allottest.Token)
		for _, auth := range []string{"", "Bearer", "Bearer ", "Bearer wrong_token_0123456789", "bearer " + allottest.Token,
			"Basic " + allottest.Token, allottest.Token, "Bearer " + allottest.Token + "x", "Bearer " + strings.ToUpper(allottest.Token)} {
			for _, r := range []struct{ method, path, body string }{
				{"GET", "/v1/products", ""},
				{"GET", "/v1/allocations/" + w.id("rb2b"), ""},
				{"PUT", "/v1/products/intruder", `{"name":"Intruder"}`},
				{"PUT", "/v1/stock/w1/tee", `{"in_warehouse":0}`},
				{"POST", "/v1/orders", `{"channel":"b2c","external_id":"x","lines":[{"sku":"tee","quantity":1}]}`},
				{"DELETE", "/v1/allocations/" + w.id("rb2b"), ""},
				{"POST", "/v1/import/products", "sku,name\nintruder,Intruder\n"},
				{"GET", "/v1/export/orders", ""},
				{"GET", "/v1/history", ""},
			} {
				status, e, raw := sendAuth(t, w.url, auth, r.method, r.path, r.body)
				if status != http.StatusUnauthorized || e.Code != "unauthorized" {
					t.Errorf("%q: %s %s answered %d %s, want 401 unauthorized: %.200s", auth, r.method, r.path, status, e.Code, raw)
				}
				if err := readable(e.Message); err != nil {
					t.Errorf("%q: %s %s: %v", auth, r.method, r.path, err)
				}
			}
		}
		if d := before.diff(takeSnapshot(t, w.url, allottest.Token)); d != "" {
			t.Fatalf("requests without a valid token changed the state:%s", d)
		}
	})
}

// sendAuth sends a request with the Authorization header auth (none if
// empty) and returns the status and the error body.
func sendAuth(t testing.TB, url, auth, method, path, body string) (int, httpapi.ErrorDetail, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var e httpapi.ErrorBody
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Errorf("%s %s: the answer is not the error shape: %.200s", method, path, raw)
	}
	return resp.StatusCode, e.Error, raw
}
