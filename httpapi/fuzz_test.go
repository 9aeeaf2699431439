package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/allot/allot/allottest"
	"github.com/allot/allot/client"
	"github.com/allot/allot/httpapi"
	"github.com/allot/allot/store"
	"github.com/allot/allot/syncer"
)

// noConnections stands for every channel's connector in the fuzz tests, so
// that no made-up push_url or shop_url is ever called.
func noConnections(store.ChannelRow) (syncer.Connector, error) {
	return nil, errors.New("no connections in this test")
}

// fuzzDefaults fills the path values a fuzz input leaves out with things
// that exist in the fuzz server.
var fuzzDefaults = map[string]string{"sku": "tee", "code": "b2c", "channel": "b2c", "warehouse": "w1",
	"external_id": "o1", "id": "1", "kind": "orders"}

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

// FuzzAPI sends any request, to any route of the API, with any path
// values, query and body, to a real server on SQLite (and on PostgreSQL
// when the tests use it): whatever it is, the
// answer is never a 500, and an error names what is wrong.
func FuzzAPI(f *testing.F) {
	// The server of each engine the tests run on: PostgreSQL refuses
	// some strings that SQLite takes.
	var handlers []http.Handler
	for _, engine := range allottest.Engines() {
		srv, c := allottest.Server(f, allottest.Options{Engine: engine, Connect: noConnections})
		fuzzWorld(f, c)
		handlers = append(handlers, srv.Handler())
	}
	var routes []string
	for _, r := range httpapi.Routes {
		if r != "GET /v1/openapi.json" {
			routes = append(routes, r)
		}
	}
	slices.Sort(routes)

	f.Fuzz(func(t *testing.T, route, params, rawQuery string, body []byte) {
		// route names a route, as "POST /v1/orders"; any other string
		// picks one by its bytes, so that seeds keep their route when
		// routes are added.
		if !slices.Contains(routes, route) {
			n := 0
			for _, b := range []byte(route) {
				n += int(b)
			}
			route = routes[n%len(routes)]
		}
		method, pattern, _ := strings.Cut(route, " ")
		values := strings.Split(params, "\n")
		var raw, decoded strings.Builder
		i := 0
		last := 0
		for _, m := range pathParam.FindAllStringSubmatchIndex(pattern, -1) {
			raw.WriteString(pattern[last:m[0]])
			decoded.WriteString(pattern[last:m[0]])
			v := fuzzDefaults[pattern[m[2]:m[3]]]
			if i < len(values) && params != "" {
				v = values[i]
			}
			i++
			raw.WriteString(url.PathEscape(v))
			decoded.WriteString(v)
			last = m[1]
		}
		raw.WriteString(pattern[last:])
		decoded.WriteString(pattern[last:])

		for _, h := range handlers {
			req := httptest.NewRequest(method, "/", bytes.NewReader(body))
			req.URL = &url.URL{Path: decoded.String(), RawPath: raw.String(), RawQuery: rawQuery}
			req.Header.Set("Authorization", "Bearer "+allottest.Token)
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			checkAnswer(t, fmt.Sprintf("%s %s?%s %q", method, raw.String(), rawQuery, body), rec)
		}
	})
}

// fuzzWorld gives the fuzz server something of everything.
func fuzzWorld(f *testing.F, c *client.Client) {
	ctx := context.Background()
	for _, step := range []struct {
		method, path string
		body         any
	}{
		{"PUT", "/v1/warehouses/w1", map[string]any{"name": "Main"}},
		{"PUT", "/v1/channels/b2c", map[string]any{"platform": "api"}},
		{"PUT", "/v1/channels/b2b", map[string]any{"platform": "api", "count_unpaid": true}},
		{"PUT", "/v1/channels/manual", map[string]any{"platform": "manual"}},
		{"PUT", "/v1/channels/outlet", map[string]any{"platform": "generic", "settings": map[string]any{"push_url": "http://127.0.0.1:1/push", "secret": "s"}}},
		{"PUT", "/v1/products/tee", map[string]any{"name": "T-shirt"}},
		{"PUT", "/v1/bundles/kit", map[string]any{"name": "Kit", "components": []map[string]any{{"sku": "tee", "quantity": 2}}}},
		{"PUT", "/v1/stock/w1/tee", map[string]any{"in_warehouse": 100}},
		{"PUT", "/v1/channels/b2c/listings/L-tee", map[string]any{"sku": "tee"}},
		{"PUT", "/v1/channels/outlet/listings/O-tee", map[string]any{"sku": "tee"}},
		{"POST", "/v1/allocations", map[string]any{"purpose": "reserve", "channels": []map[string]any{{"channel": "b2b"}},
			"lines": []map[string]any{{"sku": "tee", "quantity": 10}}}},
		{"POST", "/v1/orders", map[string]any{"channel": "b2c", "external_id": "o1", "lines": []map[string]any{{"sku": "tee", "quantity": 1}}}},
		{"POST", "/v1/holds", map[string]any{"channel": "b2c", "ttl_seconds": 86400, "lines": []map[string]any{{"sku": "tee", "quantity": 1}}}},
		{"POST", "/v1/inbounds", map[string]any{"warehouse": "w1", "lines": []map[string]any{{"sku": "tee", "quantity": 5}}}},
	} {
		if err := c.Do(ctx, step.method, step.path, step.body, nil); err != nil {
			f.Fatalf("%s %s: %v", step.method, step.path, err)
		}
	}
}

// checkAnswer fails t on a 5xx answer, and on an error answer that does
// not have the error shape, a code and a message, or, for a 400, a field.
func checkAnswer(t *testing.T, what string, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code >= 500 || rec.Code == 499 {
		t.Fatalf("%s answered %d: %s", what, rec.Code, rec.Body.Bytes())
	}
	if rec.Code < 400 || rec.Code == http.StatusMethodNotAllowed {
		return
	}
	var e httpapi.ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
		t.Fatalf("%s answered %d without the error shape: %s", what, rec.Code, rec.Body.Bytes())
	}
	if e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("%s answered %d with no code or message: %s", what, rec.Code, rec.Body.Bytes())
	}
	if rec.Code == http.StatusBadRequest && e.Error.Field == "" {
		t.Fatalf("%s answered 400 without naming the field: %s", what, rec.Body.Bytes())
	}
}
