package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/allot/allot"
	"github.com/allot/allot/allottest"
	"github.com/allot/allot/client"
)

// api is a client with test helpers: every call fails the test on an
// unexpected answer.
type api struct {
	t testing.TB
	c *client.Client
}

func newAPI(t testing.TB, opt allottest.Options) *api {
	_, c := allottest.Server(t, opt)
	return &api{t: t, c: c}
}

// do sends a request that must succeed and returns the decoded answer.
func (a *api) do(method, path string, body any) map[string]any {
	a.t.Helper()
	var out map[string]any
	if err := a.c.Do(context.Background(), method, path, body, &out); err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	return out
}

// fail sends a request that must fail with code (and field, if not empty)
// and returns the error.
func (a *api) fail(code, field, method, path string, body any) *allot.Error {
	a.t.Helper()
	err := a.c.Do(context.Background(), method, path, body, nil)
	var e *allot.Error
	if !errors.As(err, &e) {
		a.t.Fatalf("%s %s: want error %s, got %v", method, path, code, err)
	}
	if e.Code != code || (field != "" && e.Field != field) {
		a.t.Fatalf("%s %s: want %s on %q, got %s on %q: %s", method, path, code, field, e.Code, e.Field, e.Message)
	}
	if e.Message == "" {
		a.t.Fatalf("%s %s: error without a message", method, path)
	}
	return e
}

// quantity is what channel publishes of sku, by GET /v1/quantities.
func (a *api) quantity(channel, sku string) int {
	a.t.Helper()
	out := a.do("GET", fmt.Sprintf("/v1/quantities/%s/%s", channel, sku), nil)
	return int(out["quantity"].(float64))
}

func (a *api) expect(sku string, want map[string]int) {
	a.t.Helper()
	for ch, q := range want {
		if got := a.quantity(ch, sku); got != q {
			out := a.do("GET", fmt.Sprintf("/v1/quantities/%s/%s", ch, sku), nil)
			a.t.Errorf("%s %s = %d, want %d (%v)", ch, sku, got, q, out["explanation"])
		}
	}
}

// setup creates warehouse w1, the channels b2b, b2c, manual and amazon, and
// the product tee with the given stock in w1.
func (a *api) setup(stock int) {
	a.t.Helper()
	a.do("PUT", "/v1/warehouses/w1", map[string]any{"name": "Main"})
	for _, c := range []struct{ code, platform string }{{"b2b", "api"}, {"b2c", "api"}, {"manual", "manual"}, {"amazon", "api"}} {
		a.do("PUT", "/v1/channels/"+c.code, map[string]any{"platform": c.platform})
	}
	a.do("PUT", "/v1/products/tee", map[string]any{"name": "T-shirt"})
	a.stock("w1", "tee", stock)
}

func (a *api) stock(w, sku string, n int) {
	a.t.Helper()
	a.do("PUT", "/v1/stock/"+w+"/"+sku, map[string]any{"in_warehouse": n})
}

func (a *api) reserve(channel string, rule allot.Rule, q int) int64 {
	a.t.Helper()
	out := a.do("POST", "/v1/allocations", map[string]any{"purpose": "reserve",
		"channels": []map[string]any{{"channel": channel, "rule": rule}}, "lines": []map[string]any{{"sku": "tee", "quantity": q}}})
	return int64(out["id"].(float64))
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
