package shopifysim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestValidateAcceptsTheDocumentsAllotSends(t *testing.T) {
	docs := []string{
		`{ shop { name } }`,
		setMutation,
		`query Variants($first: Int!, $after: String) {
		  productVariants(first: $first, after: $after) {
		    edges { cursor node { id sku barcode inventoryItem { id } product { id title } } }
		    pageInfo { hasNextPage endCursor }
		  }
		}`,
		`query Level($item: ID!, $loc: ID!) {
		  inventoryItem(id: $item) {
		    id
		    inventoryLevel(locationId: $loc) { quantities(names: ["available"]) { name quantity } }
		  }
		}`,
		`query Levels($loc: ID!, $after: String) {
		  location(id: $loc) {
		    inventoryLevels(first: 250, after: $after) {
		      nodes { item { id } quantities(names: ["available"]) { name quantity } }
		      pageInfo { hasNextPage endCursor }
		    }
		  }
		}`,
		`query Items($ids: [ID!]!) { nodes(ids: $ids) { id ... on InventoryItem { sku } } }`,
	}
	for _, d := range docs {
		if err := Validate(d); err != nil {
			t.Errorf("Validate(%.40q) = %v", d, err)
		}
	}
}

func TestValidateRefusesWhatShopifyRefuses(t *testing.T) {
	cases := []struct{ doc, want string }{
		{`{ shop { nam } }`, "Field 'nam' doesn't exist on type 'Shop'"},
		{`{ shop { name }`, "syntax error"},
		{`{ products(frist: 5) { nodes { id } } }`, "doesn't accept argument 'frist'"},
		{`{ inventoryItem { id } }`, "missing required arguments: id"},
		{`mutation($input: InventorySetQuantitiesInput!) { inventorySetQuantities(input: $input) { userErrors { code } } }`,
			"The @idempotent directive is required for this mutation but was not provided."},
		// ignoreCompareQuantity and compareQuantity were removed in 2026-04.
		{`mutation { inventorySetQuantities(input: {name: "available", reason: "correction", ignoreCompareQuantity: true, quantities: []}) @idempotent(key: "k") { userErrors { code } } }`,
			"ignoreCompareQuantity"},
	}
	for _, c := range cases {
		err := Validate(c.doc)
		var ve *ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("Validate(%q) = %v, want a ValidationError", c.doc, err)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate(%q) = %q, want it to mention %q", c.doc, err, c.want)
		}
	}
}

func TestInvalidDocumentGetsShopifyErrorShape(t *testing.T) {
	s := newTestStore(t, newClock(), nil)
	code, out := gql(t, s, `{ shop { name nam } }`, nil)
	if code != http.StatusOK {
		t.Fatalf("status %d, Shopify answers a bad query with 200", code)
	}
	if _, ok := out["data"]; ok {
		t.Errorf("a document that does not validate has no data: %v", out)
	}
	if got := dig(out, "errors", 0, "extensions", "code"); got != "undefinedField" {
		t.Errorf("code %v, want undefinedField", got)
	}
	if got := dig(out, "errors", 0, "locations", 0, "line"); got == nil {
		t.Errorf("no location: %v", out)
	}
	if d := shapeDiff(readTestdata(t, "graphql_undefined_field.json"), out, ""); len(d) > 0 {
		t.Errorf("shape differs from the documented example: %v", d)
	}
	if s.Stats().Calls != 1 {
		t.Errorf("calls %d", s.Stats().Calls)
	}
}

func TestAuthenticationAndVersion(t *testing.T) {
	s := newTestStore(t, newClock(), nil)
	post := func(path, token string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(`{"query":"{ shop { name } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Shopify-Access-Token", token)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		return rec
	}
	rec := post("/admin/api/"+APIVersion+"/graphql.json", "wrong")
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("wrong token: status %d", rec.Code)
	}
	var body map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	want := readTestdata(t, "graphql_access_denied_401.json")
	if body["errors"] != dig(want, "errors") {
		t.Errorf("401 body %v, want %v", body, want)
	}
	if rec := post("/admin/api/2019-04/graphql.json", testToken); rec.Code != http.StatusNotFound {
		t.Errorf("unknown version: status %d", rec.Code)
	}
	rec = post("/admin/api/"+APIVersion+"/graphql.json", testToken)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"name":"b2c-demo"`) {
		t.Errorf("shop query: %d %s", rec.Code, rec.Body.String())
	}
	if !strings.Contains(rec.Body.String(), `"maximumAvailable":2000.0`) || !strings.Contains(rec.Body.String(), `"restoreRate":100.0`) {
		t.Errorf("throttle status not in Shopify's standard-plan form: %s", rec.Body.String())
	}
}

func TestThrottlingDrainsByActualCostAndRestoresAtTheRate(t *testing.T) {
	clock := newClock()
	s := newTestStore(t, clock, func(o *Options) { o.BucketSize = 100; o.RestoreRate = 10 })
	p := s.AddProduct("Tee", Variant{SKU: "A"}, Variant{SKU: "B"}, Variant{SKU: "C"})

	// products(first: 60) asks for 2 + 60 = 62 points; only one product
	// comes back, so it costs 2 + 1 = 3 and 59 go back to the bucket.
	_, out := gql(t, s, `{ products(first: 60) { nodes { id title } } }`, nil)
	if got := num(dig(out, "extensions", "cost", "requestedQueryCost")); got != 62 {
		t.Errorf("requested %d, want 62", got)
	}
	if got := num(dig(out, "extensions", "cost", "actualQueryCost")); got != 3 {
		t.Errorf("actual %d, want 3", got)
	}
	if got := num(dig(out, "extensions", "cost", "throttleStatus", "currentlyAvailable")); got != 97 {
		t.Errorf("available %d, want 97", got)
	}

	// Nested connections multiply: 2 + 10 * (1 + (2 + 5 * 1)) = 82.
	_, out = gql(t, s, `{ products(first: 10) { edges { node { title variants(first: 5) { nodes { sku } } } } } }`, nil)
	if got := num(dig(out, "extensions", "cost", "requestedQueryCost")); got != 82 {
		t.Errorf("nested requested %d, want 82", got)
	}
	// Actual: products connection 2 + 1 product + variants connection 2 + 3 variants = 8.
	if got := num(dig(out, "extensions", "cost", "actualQueryCost")); got != 8 {
		t.Errorf("nested actual %d, want 8", got)
	}
	if got := num(dig(out, "extensions", "cost", "throttleStatus", "currentlyAvailable")); got != 89 {
		t.Errorf("available %d, want 89", got)
	}

	// A mutation costs 10. Eight bring the bucket from 89 to 9.
	for i := range 8 {
		out = setQuantities(t, s, fmt.Sprintf("k%d", i), qty{item: p.Variants[0].InventoryItemID, quantity: i, changeFrom: nil})
		if dig(out, "errors") != nil {
			t.Fatalf("mutation %d: %v", i, out)
		}
	}
	if got := num(dig(out, "extensions", "cost", "throttleStatus", "currentlyAvailable")); got != 9 {
		t.Fatalf("available %d, want 9", got)
	}
	// 10 requested, 9 available: THROTTLED, nothing applied, nothing charged.
	out = setQuantities(t, s, "k-throttled", qty{item: p.Variants[0].InventoryItemID, quantity: 99, changeFrom: nil})
	if got := dig(out, "errors", 0, "extensions", "code"); got != "THROTTLED" {
		t.Fatalf("want THROTTLED, got %v", out)
	}
	if dig(out, "errors", 0, "message") != "Throttled" || dig(out, "extensions", "cost", "actualQueryCost") != nil {
		t.Errorf("throttled shape: %v", out)
	}
	if d := shapeDiff(readTestdata(t, "graphql_throttled.json"), out, ""); len(d) > 0 {
		t.Errorf("shape differs from the documented example: %v", d)
	}
	if s.Available(p.Variants[0].InventoryItemID) == 99 {
		t.Error("a throttled mutation was applied")
	}
	// 100ms at 10 points/s restores 1 point: 10 available, the call runs.
	clock.Advance(100 * time.Millisecond)
	out = setQuantities(t, s, "k-after-wait", qty{item: p.Variants[0].InventoryItemID, quantity: 99, changeFrom: nil})
	if dig(out, "errors") != nil {
		t.Fatalf("after restoring: %v", out)
	}
	if got := num(dig(out, "extensions", "cost", "throttleStatus", "currentlyAvailable")); got != 0 {
		t.Errorf("available %d, want 0", got)
	}
	// The bucket never holds more than its size.
	clock.Advance(time.Hour)
	if _, avail, _ := s.ThrottleStatus(); avail != 100 {
		t.Errorf("after an hour the bucket holds %v, want 100", avail)
	}
	if st := s.Stats(); st.ThrottledCalls != 1 || st.MutationCalls != 9 {
		t.Errorf("stats %+v", st)
	}

	// Above the single-query limit nothing runs, whatever the bucket holds.
	_, out = gql(t, s, `{ products(first: 250) { nodes { variants(first: 250) { nodes { id } } } } }`, nil)
	if got := dig(out, "errors", 0, "extensions", "code"); got != "MAX_COST_EXCEEDED" {
		t.Errorf("want MAX_COST_EXCEEDED, got %v", out)
	}
}

func TestCompareAndSwap(t *testing.T) {
	s := newTestStore(t, newClock(), nil)
	p := s.AddProduct("Tee", Variant{SKU: "A", Available: 10}, Variant{SKU: "B", Available: 5})
	a, b := p.Variants[0].InventoryItemID, p.Variants[1].InventoryItemID

	out := setQuantities(t, s, "k1", qty{item: a, quantity: 8, changeFrom: 10})
	if ue := dig(out, "data", "inventorySetQuantities", "userErrors"); len(ue.([]any)) != 0 {
		t.Fatalf("user errors: %v", ue)
	}
	if s.Available(a) != 8 {
		t.Fatalf("available %d, want 8", s.Available(a))
	}
	if d := shapeDiff(readTestdata(t, "graphql_inventory_set_quantities.json"), out, ""); len(d) > 0 {
		t.Errorf("shape differs from the documented example: %v", d)
	}

	// A sale on the store moves B; a push still based on 5 is stale, and
	// the whole call is refused, A included.
	if err := s.SetAvailable(b, 4); err != nil {
		t.Fatal(err)
	}
	out = setQuantities(t, s, "k2", qty{item: a, quantity: 7, changeFrom: 8}, qty{item: b, quantity: 3, changeFrom: 5})
	ue := dig(out, "data", "inventorySetQuantities", "userErrors", 0)
	if dig(ue, "code") != "CHANGE_FROM_QUANTITY_STALE" {
		t.Fatalf("want CHANGE_FROM_QUANTITY_STALE, got %v", out)
	}
	if got := fmt.Sprint(dig(ue, "field")); got != "[input quantities 1 changeFromQuantity]" {
		t.Errorf("field %s", got)
	}
	if dig(out, "data", "inventorySetQuantities", "inventoryAdjustmentGroup") != nil {
		t.Error("a refused call has no adjustment group")
	}
	if s.Available(a) != 8 || s.Available(b) != 4 {
		t.Errorf("a refused call changed quantities: A=%d B=%d", s.Available(a), s.Available(b))
	}
	if d := shapeDiff(readTestdata(t, "graphql_inventory_set_quantities_stale.json"), out, ""); len(d) > 0 {
		t.Errorf("shape differs from the documented example: %v", d)
	}

	// An explicit null opts out of the check.
	out = setQuantities(t, s, "k3", qty{item: b, quantity: 3, changeFrom: nil})
	if s.Available(b) != 3 {
		t.Errorf("null changeFromQuantity: available %d, want 3 (%v)", s.Available(b), out)
	}
	// Leaving it out is an error from 2026-04 on.
	out = setQuantities(t, s, "k4", qty{item: b, quantity: 1, omitFrom: true})
	if dig(out, "errors", 0, "extensions", "code") != "BAD_REQUEST" || s.Available(b) != 3 {
		t.Errorf("omitted changeFromQuantity: %v", out)
	}

	log := s.SetLog()
	if len(log) != 2 || log[0].Quantity != 8 || *log[0].ChangeFrom != 10 || log[1].ChangeFrom != nil || log[1].Previous != 4 {
		t.Errorf("set log %+v", log)
	}
}

func TestUserErrorsForBadInput(t *testing.T) {
	s := newTestStore(t, newClock(), nil)
	p := s.AddProduct("Tee", Variant{SKU: "A", Available: 1})
	a := p.Variants[0].InventoryItemID
	in := setInput(qty{item: a, quantity: 2, changeFrom: 1}, qty{item: a, quantity: 3, changeFrom: 1}, qty{item: "gid://shopify/InventoryItem/9", quantity: 1, changeFrom: nil})
	in["reason"] = "because"
	_, out := gql(t, s, setMutation, map[string]any{"input": in, "key": "bad"})
	var codes []string
	for _, e := range dig(out, "data", "inventorySetQuantities", "userErrors").([]any) {
		codes = append(codes, dig(e, "code").(string))
	}
	if got := strings.Join(codes, ","); got != "INVALID_REASON,NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR,INVALID_INVENTORY_ITEM" {
		t.Errorf("codes %s", got)
	}
	if s.Available(a) != 1 {
		t.Error("applied despite errors")
	}
}

func TestIdempotentReplayIsNotAppliedTwice(t *testing.T) {
	s := newTestStore(t, newClock(), nil)
	p := s.AddProduct("Tee", Variant{SKU: "A", Available: 10})
	a := p.Variants[0].InventoryItemID

	first := setQuantities(t, s, "same-key", qty{item: a, quantity: 6, changeFrom: 10})
	// The answer was lost; meanwhile the merchant edits the quantity. The
	// retry with the same key must not set 6 again over the merchant's 9.
	_ = s.SetAvailable(a, 9)
	again := setQuantities(t, s, "same-key", qty{item: a, quantity: 6, changeFrom: 10})
	if s.Available(a) != 9 {
		t.Errorf("replay applied the change again: available %d", s.Available(a))
	}
	g1 := dig(first, "data", "inventorySetQuantities", "inventoryAdjustmentGroup", "id")
	g2 := dig(again, "data", "inventorySetQuantities", "inventoryAdjustmentGroup", "id")
	if g1 == nil || g1 != g2 {
		t.Errorf("replay returned group %v, first call %v", g2, g1)
	}
	st := s.Stats()
	if st.IdempotentReplays != 1 || st.QuantitiesSet != 1 || len(s.SetLog()) != 1 {
		t.Errorf("stats %+v, log %d", st, len(s.SetLog()))
	}

	// The same key with another input is refused.
	out := setQuantities(t, s, "same-key", qty{item: a, quantity: 5, changeFrom: 9})
	if got := dig(out, "data", "inventorySetQuantities", "userErrors", 0, "code"); got != "IDEMPOTENCY_KEY_PARAMETER_MISMATCH" {
		t.Errorf("want IDEMPOTENCY_KEY_PARAMETER_MISMATCH, got %v", out)
	}
	if s.Available(a) != 9 {
		t.Error("mismatched key was applied")
	}
}

func TestMissingIdempotentDirectiveIsRefused(t *testing.T) {
	s := newTestStore(t, newClock(), nil)
	p := s.AddProduct("Tee", Variant{SKU: "A", Available: 10})
	doc := `mutation Set($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) { userErrors { code } }
}`
	_, out := gql(t, s, doc, map[string]any{"input": setInput(qty{item: p.Variants[0].InventoryItemID, quantity: 1, changeFrom: 10})})
	if got := dig(out, "errors", 0, "message"); got != "The @idempotent directive is required for this mutation but was not provided." {
		t.Errorf("message %v", got)
	}
	if dig(out, "errors", 0, "extensions", "code") != "BAD_REQUEST" || fmt.Sprint(dig(out, "errors", 0, "path")) != "[inventorySetQuantities]" {
		t.Errorf("error %v", out)
	}
	if m, _ := dig(out, "data").(map[string]any); m == nil || m["inventorySetQuantities"] != nil {
		t.Errorf("data %v", dig(out, "data"))
	}
	if d := shapeDiff(readTestdata(t, "graphql_missing_idempotent.json"), out, ""); len(d) > 0 {
		t.Errorf("shape differs from the documented example: %v", d)
	}
	if s.Available(p.Variants[0].InventoryItemID) != 10 {
		t.Error("applied without @idempotent")
	}
}

func TestMoreThan250QuantitiesAreRefused(t *testing.T) {
	s := newTestStore(t, newClock(), nil)
	var vs []Variant
	for i := range 251 {
		vs = append(vs, Variant{SKU: fmt.Sprintf("S%03d", i), Available: 1})
	}
	p := s.AddProduct("Many", vs...)
	var qs []qty
	for _, v := range p.Variants {
		qs = append(qs, qty{item: v.InventoryItemID, quantity: 0, changeFrom: 1})
	}
	out := setQuantities(t, s, "big", qs...)
	if got := dig(out, "errors", 0, "message"); got != "The input array size of 251 is greater than the maximum allowed of 250." {
		t.Errorf("message %v", got)
	}
	if dig(out, "errors", 0, "extensions", "code") != "MAX_INPUT_SIZE_EXCEEDED" {
		t.Errorf("error %v", out)
	}
	if d := shapeDiff(readTestdata(t, "graphql_max_input_size.json"), out, ""); len(d) > 0 {
		t.Errorf("shape differs from the documented example: %v", d)
	}
	if s.Stats().QuantitiesSet != 0 || s.Available(p.Variants[0].InventoryItemID) != 1 {
		t.Error("an oversized call was applied")
	}
	out = setQuantities(t, s, "max", qs[:250]...)
	if dig(out, "errors") != nil || s.Stats().QuantitiesSet != 250 {
		t.Errorf("250 quantities should pass: %v", dig(out, "errors"))
	}
}

func TestProductVariantsPaginate(t *testing.T) {
	s := newTestStore(t, newClock(), nil)
	for i := range 3 {
		s.AddProduct(fmt.Sprintf("P%d", i), Variant{SKU: fmt.Sprintf("SKU-%d-a", i), Barcode: fmt.Sprintf("400000000%d", i)}, Variant{SKU: fmt.Sprintf("SKU-%d-b", i)})
	}
	q := `query($after: String) {
  productVariants(first: 4, after: $after) {
    edges { cursor node { id sku barcode inventoryItem { id } } }
    pageInfo { hasNextPage endCursor }
  }
}`
	var skus []string
	var after any
	pages := 0
	for {
		_, out := gql(t, s, q, map[string]any{"after": after})
		if dig(out, "errors") != nil {
			t.Fatal(out)
		}
		if pages == 0 {
			if d := shapeDiff(readTestdata(t, "graphql_product_variants.json"), out, ""); len(d) > 0 {
				t.Errorf("shape differs from the documented example: %v", d)
			}
		}
		pages++
		for _, e := range dig(out, "data", "productVariants", "edges").([]any) {
			skus = append(skus, dig(e, "node", "sku").(string))
			if !strings.HasPrefix(dig(e, "node", "inventoryItem", "id").(string), "gid://shopify/InventoryItem/") {
				t.Errorf("inventory item id %v", dig(e, "node", "inventoryItem", "id"))
			}
		}
		if dig(out, "data", "productVariants", "pageInfo", "hasNextPage") != true {
			break
		}
		after = dig(out, "data", "productVariants", "pageInfo", "endCursor")
	}
	if pages != 2 || strings.Join(skus, ",") != "SKU-0-a,SKU-0-b,SKU-1-a,SKU-1-b,SKU-2-a,SKU-2-b" {
		t.Errorf("%d pages: %v", pages, skus)
	}

	_, out := gql(t, s, `{ productVariants(first: 5, query: "barcode:4000000001") { nodes { sku } } }`, nil)
	if got := fmt.Sprint(dig(out, "data", "productVariants", "nodes")); got != "[map[sku:SKU-1-a]]" {
		t.Errorf("barcode search: %s", got)
	}
	_, out = gql(t, s, `{ products { nodes { id } } }`, nil)
	if dig(out, "errors", 0, "message") != "you must provide one of first or last" {
		t.Errorf("connection without first: %v", out)
	}
	_, out = gql(t, s, `{ products(first: 251) { nodes { id } } }`, nil)
	if dig(out, "errors", 0, "extensions", "code") != "BAD_REQUEST" {
		t.Errorf("page size 251: %v", out)
	}
}

func TestReadingInventoryLevels(t *testing.T) {
	s := newTestStore(t, newClock(), nil)
	p := s.AddProduct("Tee", Variant{SKU: "A", Available: 7})
	item := p.Variants[0].InventoryItemID
	if _, err := s.PlaceOrder(OrderParams{LineItems: []OrderLine{{VariantID: p.Variants[0].ID, Quantity: 2}}}); err != nil {
		t.Fatal(err)
	}
	_, out := gql(t, s, `query($item: ID!, $loc: ID!) {
  inventoryItem(id: $item) {
    id
    inventoryLevel(locationId: $loc) { quantities(names: ["available", "committed", "on_hand"]) { name quantity } }
  }
}`, map[string]any{"item": item, "loc": testLocation})
	got := fmt.Sprint(dig(out, "data", "inventoryItem", "inventoryLevel", "quantities"))
	if got != "[map[name:available quantity:5] map[name:committed quantity:2] map[name:on_hand quantity:7]]" {
		t.Errorf("quantities %s", got)
	}
	if d := shapeDiff(readTestdata(t, "graphql_inventory_level.json"), out, ""); len(d) > 0 {
		t.Errorf("shape differs from the documented example: %v", d)
	}
	_, out = gql(t, s, `query($loc: ID!) { location(id: $loc) { inventoryLevels(first: 10) { nodes { item { sku } quantities(names: ["available"]) { quantity } } } } }`,
		map[string]any{"loc": testLocation})
	if got := fmt.Sprint(dig(out, "data", "location", "inventoryLevels", "nodes")); got != "[map[item:map[sku:A] quantities:[map[quantity:5]]]]" {
		t.Errorf("location levels %s", got)
	}
}

func TestFaults(t *testing.T) {
	clock := newClock()
	s := newTestStore(t, clock, nil)
	base, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	p := s.AddProduct("Tee", Variant{SKU: "A", Available: 10})
	a := p.Variants[0].InventoryItemID
	url := base + "/admin/api/" + APIVersion + "/graphql.json"
	client := &http.Client{Timeout: 300 * time.Millisecond}
	call := func(query string, vars map[string]any) (*http.Response, []byte, error) {
		body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Shopify-Access-Token", testToken)
		resp, err := client.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		b := new(bytes.Buffer)
		_, _ = b.ReadFrom(resp.Body)
		return resp, b.Bytes(), nil
	}
	shop := `{ shop { name } }`

	if err := s.Fail(Fault{Kind: FaultTooManyRequests, Count: 2}); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		resp, body, err := call(shop, nil)
		if err != nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "2.0" ||
			!strings.Contains(string(body), "Exceeded 2 calls per second") {
			t.Fatalf("429 #%d: %v %v %s", i, err, resp, body)
		}
	}
	if resp, _, err := call(shop, nil); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("after two 429s: %v %v", err, resp)
	}

	_ = s.Fail(Fault{Kind: FaultServerError})
	resp, body, err := call(shop, nil)
	if err != nil || resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), "INTERNAL_SERVER_ERROR") {
		t.Fatalf("500: %v %v %s", err, resp, body)
	}

	_ = s.Fail(Fault{Kind: FaultTimeout})
	start := time.Now()
	if _, _, err := call(shop, nil); err == nil {
		t.Fatal("timeout fault answered")
	}
	if time.Since(start) < 250*time.Millisecond {
		t.Error("timeout fault did not wait for the client to give up")
	}

	_ = s.Fail(Fault{Kind: FaultClose})
	if _, _, err := call(shop, nil); err == nil {
		t.Fatal("close fault answered")
	}

	// The mutation lands but the connection drops before the answer: only
	// a retry with the same idempotency key is safe, and it is a replay.
	_ = s.Fail(Fault{Kind: FaultClose, AfterApply: true})
	vars := map[string]any{"input": setInput(qty{item: a, quantity: 4, changeFrom: 10}), "key": "lost-answer"}
	if _, _, err := call(setMutation, vars); err == nil {
		t.Fatal("close-after-apply answered")
	}
	if s.Available(a) != 4 {
		t.Fatalf("the mutation should have landed: %d", s.Available(a))
	}
	resp, body, err = call(setMutation, vars)
	if err != nil || resp.StatusCode != 200 || !strings.Contains(string(body), `"userErrors":[]`) {
		t.Fatalf("retry: %v %s", err, body)
	}
	if st := s.Stats(); st.IdempotentReplays != 1 || st.QuantitiesSet != 1 {
		t.Errorf("stats %+v", st)
	}

	// A fault for a duration, on the store's clock.
	_ = s.Fail(Fault{Kind: FaultServerError, For: time.Minute})
	for range 3 {
		if resp, _, _ := call(shop, nil); resp == nil || resp.StatusCode != 500 {
			t.Fatal("want 500 during the fault window")
		}
	}
	clock.Advance(time.Minute)
	if resp, _, _ := call(shop, nil); resp == nil || resp.StatusCode != 200 {
		t.Fatal("want 200 after the fault window")
	}
	if err := s.Fail(Fault{Kind: "teapot"}); err == nil {
		t.Error("unknown fault kind accepted")
	}
}

func TestValidateRequestChecksVariablesAndLimits(t *testing.T) {
	item := "gid://shopify/InventoryItem/1"
	ok := map[string]any{"input": setInput(qty{item: item, quantity: 1, changeFrom: 2}), "key": "k"}
	if err := ValidateRequest(setMutation, "", ok); err != nil {
		t.Errorf("valid request refused: %v", err)
	}
	var many []qty
	for range 251 {
		many = append(many, qty{item: item, quantity: 1, changeFrom: nil})
	}
	cases := []struct {
		name, query string
		vars        map[string]any
		want        string
	}{
		{"missing changeFromQuantity", setMutation, map[string]any{"input": setInput(qty{item: item, quantity: 1, omitFrom: true}), "key": "k"}, "changeFromQuantity"},
		{"251 quantities", setMutation, map[string]any{"input": setInput(many...), "key": "k"}, "maximum allowed of 250"},
		{"missing key variable", setMutation, map[string]any{"input": setInput(qty{item: item, quantity: 1})}, "Variable $key of type String! was provided invalid value"},
		{"wrong variable type", setMutation, map[string]any{"input": map[string]any{"name": "available"}, "key": "k"}, "was provided invalid value for"},
		{"no first", `{ products { nodes { id } } }`, nil, "you must provide one of first or last"},
		{"too costly", `{ products(first: 100) { nodes { variants(first: 100) { nodes { id } } } } }`, nil, "exceeds the single query max cost limit"},
	}
	for _, c := range cases {
		err := ValidateRequest(c.query, "", c.vars)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want it to mention %q", c.name, err, c.want)
		}
	}
}
