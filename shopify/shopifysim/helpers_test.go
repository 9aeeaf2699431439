package shopifysim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testToken    = "shpat_test"
	testSecret   = "hush"
	testLocation = "gid://shopify/Location/1"
)

// fakeClock is a clock the test moves by hand, so bucket arithmetic is
// exact.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 10, 5, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestStore(t *testing.T, clock *fakeClock, mod func(*Options)) *Store {
	t.Helper()
	opts := Options{
		Domain: "b2c-demo.myshopify.com", AccessToken: testToken, LocationID: testLocation,
		WebhookSecret: testSecret, Clock: clock.Now, WebhookBackoff: time.Millisecond,
	}
	if mod != nil {
		mod(&opts)
	}
	s := New(opts)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// gql posts a GraphQL request straight to the handler and decodes the
// answer.
func gql(t *testing.T, s *Store, query string, vars map[string]any) (int, map[string]any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req := httptest.NewRequest(http.MethodPost, "/admin/api/"+APIVersion+"/graphql.json", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Shopify-Access-Token", testToken)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, rec.Body.String())
	}
	return rec.Code, out
}

// dig walks a decoded JSON value by keys and indexes.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func num(v any) int {
	f, _ := v.(float64)
	return int(f)
}

const setMutation = `mutation Set($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id reason changes { name delta quantityAfterChange } }
    userErrors { code field message }
  }
}`

type qty struct {
	item       string
	quantity   int
	changeFrom any // int, nil for an explicit null, or omit for absent
	omitFrom   bool
}

func setInput(qs ...qty) map[string]any {
	var list []any
	for _, q := range qs {
		m := map[string]any{"inventoryItemId": q.item, "locationId": testLocation, "quantity": q.quantity}
		if !q.omitFrom {
			m["changeFromQuantity"] = q.changeFrom
		}
		list = append(list, m)
	}
	return map[string]any{"name": "available", "reason": "correction", "referenceDocumentUri": "gid://allot/Publication/1", "quantities": list}
}

func setQuantities(t *testing.T, s *Store, key string, qs ...qty) map[string]any {
	t.Helper()
	_, out := gql(t, s, setMutation, map[string]any{"input": setInput(qs...), "key": key})
	return out
}

func readTestdata(t *testing.T, name string) any {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

// shapeDiff lists the keys present in got but absent from want, recursing
// into objects and the first element of lists: the simulator must not send
// anything the documented example does not have.
func shapeDiff(want, got any, path string) []string {
	var out []string
	switch g := got.(type) {
	case map[string]any:
		w, ok := want.(map[string]any)
		if !ok {
			if want == nil {
				return nil
			}
			return []string{path + ": object where the example has " + fmt.Sprintf("%T", want)}
		}
		keys := make([]string, 0, len(g))
		for k := range g {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			wv, ok := w[k]
			if !ok {
				out = append(out, path+"."+k)
				continue
			}
			out = append(out, shapeDiff(wv, g[k], path+"."+k)...)
		}
	case []any:
		w, ok := want.([]any)
		if ok && len(w) > 0 && len(g) > 0 {
			out = append(out, shapeDiff(w[0], g[0], path+"[0]")...)
		}
	}
	return out
}

func keysOf(v any) string {
	m, _ := v.(map[string]any)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}
