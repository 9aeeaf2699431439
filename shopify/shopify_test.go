package shopify_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/allot/allot/allottest"
	"github.com/allot/allot/app"
	"github.com/allot/allot/client"
	"github.com/allot/allot/shopify"
	"github.com/allot/allot/shopify/shopifysim"
)

// The documents the connector sends are valid for the version it names.
func TestConnectorDocumentsAreValidForItsAPIVersion(t *testing.T) {
	if shopify.APIVersion != shopifysim.APIVersion {
		t.Fatalf("the connector speaks %s, the schema is %s", shopify.APIVersion, shopifysim.APIVersion)
	}
	for name, doc := range map[string]string{"shop": shopify.ShopQuery, "set": shopify.SetMutation,
		"levels": shopify.LevelsQuery, "variants": shopify.VariantsQuery} {
		if err := shopifysim.Validate(doc); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	vars := map[string]any{"key": "allot-0123", "input": map[string]any{"name": "available", "reason": "correction",
		"referenceDocumentUri": "allot://sync", "quantities": []any{map[string]any{"inventoryItemId": "gid://shopify/InventoryItem/1",
			"locationId": "gid://shopify/Location/1", "quantity": 3, "changeFromQuantity": nil}}}}
	if err := shopifysim.ValidateRequest(shopify.SetMutation, "", vars); err != nil {
		t.Errorf("set with its variables: %v", err)
	}
	if err := shopifysim.ValidateRequest(shopify.VariantsQuery, "", map[string]any{"first": 250, "after": nil}); err != nil {
		t.Errorf("variants with its variables: %v", err)
	}
}

func TestPaymentStatesFollowFinancialStatusAndTerms(t *testing.T) {
	for _, c := range []struct {
		status string
		terms  bool
		want   string
	}{
		{"paid", false, "paid"}, {"partially_paid", false, "paid"}, {"pending", true, "terms"},
		{"pending", false, "unpaid"}, {"authorized", false, "unpaid"}, {"authorized", true, "terms"}, {"voided", false, "unpaid"},
	} {
		if got := shopify.Payment(c.status, c.terms); string(got) != c.want {
			t.Errorf("%s (terms %v) = %s, want %s", c.status, c.terms, got, c.want)
		}
	}
}

type shop struct {
	t     *testing.T
	srv   *app.Server
	c     *client.Client
	store *shopifysim.Store
	tee   shopifysim.Product
	cap   shopifysim.Product
}

const secret = "shpss_webhook_secret"

// newShop runs allot with a B2C channel on a simulated Shopify store whose
// variants link to allot's products by SKU (tee) and barcode (cap).
func newShop(t *testing.T, opt allottest.Options) *shop {
	t.Helper()
	st := shopifysim.New(shopifysim.Options{AccessToken: "shpat_token", WebhookSecret: secret})
	base, err := st.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv, c := allottest.Server(t, opt)
	s := &shop{t: t, srv: srv, c: c, store: st}
	s.tee = st.AddProduct("T-shirt", shopifysim.Variant{SKU: "tee", Available: 0})
	s.cap = st.AddProduct("Cap", shopifysim.Variant{SKU: "CAP-OLD-CODE", Barcode: "4006381333931", Available: 0})
	st.SetWebhook(srv.URL() + "/webhooks/shopify/b2c")
	s.do("PUT", "/v1/warehouses/w1", map[string]any{})
	s.do("PUT", "/v1/products/tee", map[string]any{"name": "T-shirt"})
	s.do("PUT", "/v1/products/cap", map[string]any{"name": "Cap", "barcode": "4006381333931"})
	s.do("PUT", "/v1/channels/wholesale", map[string]any{"platform": "api"})
	s.do("PUT", "/v1/stock/w1/tee", map[string]any{"in_warehouse": 10})
	s.do("PUT", "/v1/stock/w1/cap", map[string]any{"in_warehouse": 4})
	s.do("PUT", "/v1/channels/b2c", map[string]any{"platform": "shopify", "settings": map[string]any{"shop_url": base,
		"access_token": "shpat_token", "location_id": "gid://shopify/Location/1", "webhook_secret": secret}})
	out := s.do("POST", "/v1/channels/b2c/link", nil)
	if out["linked"].(float64) != 2 {
		t.Fatalf("link: %v, want both variants linked (tee by SKU, cap by barcode)", out)
	}
	return s
}

func (s *shop) do(method, path string, body any) map[string]any {
	s.t.Helper()
	var out map[string]any
	if err := s.c.Do(context.Background(), method, path, body, &out); err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	return out
}

// eventually waits until the store shows want of the product's variant.
func (s *shop) eventually(p shopifysim.Product, want int) {
	s.t.Helper()
	item := p.Variants[0].InventoryItemID
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if s.store.Available(item) == want {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.t.Fatalf("the store shows %d of %s, want %d; sync: %v", s.store.Available(item), p.Title, want, s.do("GET", "/v1/channels/b2c/sync", nil))
}

func TestStockAllocationAndOrdersReachTheShopifyStore(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		s := newShop(t, allottest.Options{Engine: engine})
		s.eventually(s.tee, 10)
		s.eventually(s.cap, 4)

		s.do("PUT", "/v1/stock/w1/tee", map[string]any{"in_warehouse": 8})
		s.eventually(s.tee, 8)
		s.do("POST", "/v1/allocations", map[string]any{"purpose": "reserve", "channels": []map[string]any{{"channel": "wholesale"}},
			"lines": []map[string]any{{"sku": "tee", "quantity": 3}}})
		s.eventually(s.tee, 5)
		s.do("POST", "/v1/orders", map[string]any{"channel": "wholesale", "external_id": "w-1", "lines": []map[string]any{{"sku": "cap", "quantity": 1}}})
		s.eventually(s.cap, 3)

		// An order placed on the store arrives by webhook and changes the
		// other channels.
		if _, err := s.store.PlaceOrder(shopifysim.OrderParams{LineItems: []shopifysim.OrderLine{{VariantID: s.cap.Variants[0].ID, Quantity: 2}}}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			q := s.do("GET", "/v1/quantities/wholesale/cap", nil)
			if q["quantity"].(float64) == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("wholesale cap = %v after a Shopify order of 2, want 1", q["quantity"])
			}
			time.Sleep(20 * time.Millisecond)
		}
		s.eventually(s.cap, 1)
		for _, rec := range s.store.SetLog() {
			if rec.IdempotencyKey == "" {
				t.Fatal("a quantity was set without an idempotency key")
			}
		}
		if st := s.store.Stats(); st.ThrottledCalls > 0 {
			t.Errorf("%d calls throttled: the connector should wait for the bucket", st.ThrottledCalls)
		}
	})
}

func TestShopifyWebhooksAreVerifiedAndCountedOnce(t *testing.T) {
	s := newShop(t, allottest.Options{})
	s.eventually(s.tee, 10)
	o, err := s.store.PlaceOrder(shopifysim.OrderParams{LineItems: []shopifysim.OrderLine{{VariantID: s.tee.Variants[0].ID, Quantity: 3}}})
	if err != nil {
		t.Fatal(err)
	}
	s.store.Flush(context.Background())
	committed := func() float64 {
		return s.do("GET", "/v1/stock?sku=tee", nil)["stock"].([]any)[0].(map[string]any)["committed"].(float64)
	}
	if c := committed(); c != 3 {
		t.Fatalf("committed %v after the order, want 3", c)
	}
	for _, d := range s.store.Deliveries() {
		if err := s.store.Redeliver(d.WebhookID); err != nil {
			t.Fatal(err)
		}
	}
	s.store.Flush(context.Background())
	if c := committed(); c != 3 {
		t.Fatalf("committed %v after replays, want 3", c)
	}

	body := s.store.Deliveries()[0].Body
	post := func(b []byte, hmac string) int {
		req, _ := http.NewRequest("POST", s.srv.URL()+"/webhooks/shopify/b2c", bytes.NewReader(b))
		req.Header.Set(shopify.HMACHeader, hmac)
		req.Header.Set(shopify.TopicHeader, "orders/create")
		req.Header.Set(shopify.WebhookHeader, fmt.Sprintf("forged-%d", len(b)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	altered := bytes.Replace(body, []byte(`"quantity":3`), []byte(`"quantity":30`), -1)
	if code := post(altered, shopifysim.Sign(secret, body)); code != 401 {
		t.Fatalf("an altered webhook answered %d, want 401", code)
	}
	if code := post(body, shopifysim.Sign("another secret", body)); code != 401 {
		t.Fatalf("a forged webhook answered %d, want 401", code)
	}
	if c := committed(); c != 3 {
		t.Fatalf("committed %v after forged webhooks, want 3", c)
	}

	// Paid later, then cancelled: the order follows.
	s.store.CancelOrder(o.ID)
	s.store.Flush(context.Background())
	if c := committed(); c != 0 {
		t.Fatalf("committed %v after the cancellation, want 0", c)
	}
}

func TestShopifyFaultsLoseNoPush(t *testing.T) {
	for _, kind := range []string{shopifysim.FaultTooManyRequests, shopifysim.FaultServerError, shopifysim.FaultTimeout, shopifysim.FaultClose} {
		t.Run(kind, func(t *testing.T) {
			s := newShop(t, allottest.Options{Settle: 10 * time.Millisecond, CallTimeout: 300 * time.Millisecond})
			s.eventually(s.tee, 10)
			s.store.Fail(shopifysim.Fault{Kind: kind, Count: 3})
			for _, n := range []int{9, 7, 12, 6} {
				s.do("PUT", "/v1/stock/w1/tee", map[string]any{"in_warehouse": n})
				time.Sleep(20 * time.Millisecond)
			}
			s.eventually(s.tee, 6)
			// The store applied values in the order allot made them.
			var last int
			for _, rec := range s.store.SetLog() {
				if rec.InventoryItemID == s.tee.Variants[0].InventoryItemID {
					last = rec.Quantity
				}
			}
			if last != 6 {
				t.Fatalf("the last value set was %d, want 6", last)
			}
			// One more push: readiness then says the store answers again
			// (a fault may have hit the connection check last).
			s.do("PUT", "/v1/stock/w1/tee", map[string]any{"in_warehouse": 5})
			s.eventually(s.tee, 5)
			if !strings.Contains(fmt.Sprint(s.do("GET", "/v1/readiness?channel=b2c", nil)), "last successful call") {
				t.Fatal("readiness does not say the store answers again")
			}
		})
	}
}

func TestShopifyDriftIsMended(t *testing.T) {
	s := newShop(t, allottest.Options{})
	s.eventually(s.tee, 10)
	s.eventually(s.cap, 4)
	// Wait until allot recorded both publications, then change the store.
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := s.do("GET", "/v1/channels/b2c/sync", nil)
		if st["pending"].(float64) == 0 && len(st["publications"].([]any)) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("publications not recorded: %v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.store.SetAvailable(s.tee.Variants[0].InventoryItemID, 50)
	if out := s.do("POST", "/v1/channels/b2c/drift", nil); out["mended"].(float64) != 1 {
		t.Fatalf("drift check: %v", out)
	}
	s.eventually(s.tee, 10)
}
