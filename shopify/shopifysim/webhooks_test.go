package shopifysim

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// received is what the test receiver saw of one POST.
type received struct {
	header http.Header
	body   []byte
}

// receiver is a webhook endpoint that fails the first failures POSTs with
// a 500 and checks every signature the way an app must: HMAC-SHA256 of the
// raw body, base64, compared in constant time.
type receiver struct {
	mu       sync.Mutex
	failures int
	got      []received
	badSig   int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	mac := hmac.New(sha256.New, []byte(testSecret))
	mac.Write(body)
	want := mac.Sum(nil)
	got, err := base64.StdEncoding.DecodeString(r.Header.Get("X-Shopify-Hmac-Sha256"))
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err != nil || !hmac.Equal(got, want) {
		rc.badSig++
	}
	rc.got = append(rc.got, received{header: r.Header.Clone(), body: body})
	if rc.failures > 0 {
		rc.failures--
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func flush(t *testing.T, s *Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestOrderWebhooksAreSignedAndRetried(t *testing.T) {
	s := newTestStore(t, newClock(), nil)
	rc := &receiver{failures: 2}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	s.SetWebhook(srv.URL)

	p := s.AddProduct("Tee", Variant{SKU: "TSHIRT-M", Available: 10, Price: "19.00"})
	o, err := s.PlaceOrder(OrderParams{LineItems: []OrderLine{{VariantID: p.Variants[0].ID, Quantity: 3}}})
	if err != nil {
		t.Fatal(err)
	}
	flush(t, s)
	if got := s.Available(p.Variants[0].InventoryItemID); got != 7 {
		t.Errorf("available after the order: %d, want 7", got)
	}

	ds := s.Deliveries()
	if len(ds) != 2 || ds[0].Topic != "orders/create" || ds[1].Topic != "orders/paid" {
		t.Fatalf("deliveries %+v", ds)
	}
	if !ds[0].Delivered || len(ds[0].Attempts) != 3 || ds[0].Attempts[0].Status != 500 {
		t.Errorf("orders/create should succeed on the third attempt: %+v", ds[0].Attempts)
	}
	if ds[0].EventID != ds[1].EventID || ds[0].WebhookID == ds[1].WebhookID {
		t.Error("the topics of one change share an event id and have their own webhook ids")
	}
	rc.mu.Lock()
	if rc.badSig != 0 {
		t.Errorf("%d deliveries had a bad signature", rc.badSig)
	}
	if len(rc.got) != 4 {
		t.Fatalf("receiver saw %d POSTs, want 4", len(rc.got))
	}
	for i := range 3 {
		if id := rc.got[i].header.Get("X-Shopify-Webhook-Id"); id != ds[0].WebhookID {
			t.Errorf("attempt %d carried webhook id %q, want %q", i, id, ds[0].WebhookID)
		}
	}
	h := rc.got[0].header
	for k, want := range map[string]string{
		"X-Shopify-Topic": "orders/create", "X-Shopify-Shop-Domain": "b2c-demo.myshopify.com",
		"X-Shopify-Api-Version": APIVersion, "Content-Type": "application/json",
	} {
		if h.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, h.Get(k), want)
		}
	}
	if _, err := time.Parse(time.RFC3339Nano, h.Get("X-Shopify-Triggered-At")); err != nil {
		t.Errorf("X-Shopify-Triggered-At %q: %v", h.Get("X-Shopify-Triggered-At"), err)
	}
	body := rc.got[0].body
	rc.mu.Unlock()

	var order map[string]any
	if err := json.Unmarshal(body, &order); err != nil {
		t.Fatal(err)
	}
	if num(order["id"]) != int(o.ID) || order["name"] != "#1001" || order["financial_status"] != "paid" || order["cancelled_at"] != nil {
		t.Errorf("order %v", order)
	}
	line := dig(order, "line_items", 0)
	if dig(line, "sku") != "TSHIRT-M" || num(dig(line, "quantity")) != 3 || dig(line, "variant_id") == nil || dig(line, "product_id") == nil {
		t.Errorf("line %v", line)
	}
	if d := shapeDiff(readTestdata(t, "orders_create.json"), order, ""); len(d) > 0 {
		t.Errorf("fields the documented payload does not have: %v", d)
	}

	// Cancelling restocks and sends orders/cancelled and orders/updated.
	if err := s.CancelOrder(o.ID); err != nil {
		t.Fatal(err)
	}
	flush(t, s)
	if got := s.Available(p.Variants[0].InventoryItemID); got != 10 {
		t.Errorf("available after cancelling: %d, want 10", got)
	}
	ds = s.Deliveries()
	if len(ds) != 4 || ds[2].Topic != "orders/cancelled" || ds[3].Topic != "orders/updated" {
		t.Fatalf("deliveries %+v", ds)
	}
	var cancelled map[string]any
	_ = json.Unmarshal(ds[2].Body, &cancelled)
	if cancelled["cancelled_at"] == nil || cancelled["cancel_reason"] != "customer" {
		t.Errorf("cancelled payload %v", cancelled)
	}
	if d := shapeDiff(readTestdata(t, "orders_cancelled.json"), cancelled, ""); len(d) > 0 {
		t.Errorf("fields the documented payload does not have: %v", d)
	}
	if err := s.CancelOrder(o.ID); err == nil {
		t.Error("cancelling twice should fail")
	}
}

func TestPaymentTermsAndMarkPaid(t *testing.T) {
	s := newTestStore(t, newClock(), nil)
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	s.SetWebhook(srv.URL)
	p := s.AddProduct("Tee", Variant{SKU: "A", Available: 10})
	o, err := s.PlaceOrder(OrderParams{
		LineItems: []OrderLine{{VariantID: p.Variants[0].ID, Quantity: 1}}, FinancialStatus: "pending", PaymentTermsName: "Net 30",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.MarkPaid(o.ID); err != nil {
		t.Fatal(err)
	}
	flush(t, s)
	ds := s.Deliveries()
	topics := []string{}
	for _, d := range ds {
		topics = append(topics, d.Topic)
	}
	if len(topics) != 3 || topics[0] != "orders/create" || topics[1] != "orders/paid" || topics[2] != "orders/updated" {
		t.Fatalf("topics %v", topics)
	}
	var created, paid map[string]any
	_ = json.Unmarshal(ds[0].Body, &created)
	_ = json.Unmarshal(ds[1].Body, &paid)
	if created["financial_status"] != "pending" || dig(created, "payment_terms", "payment_terms_name") != "Net 30" ||
		num(dig(created, "payment_terms", "due_in_days")) != 30 {
		t.Errorf("created %v", created)
	}
	if paid["financial_status"] != "paid" {
		t.Errorf("paid %v", paid["financial_status"])
	}
	for name, got := range map[string]map[string]any{"orders_create.json": created, "orders_paid.json": paid} {
		if d := shapeDiff(readTestdata(t, name), got, ""); len(d) > 0 {
			t.Errorf("%s: fields the documented payload does not have: %v", name, d)
		}
	}
	var updated map[string]any
	_ = json.Unmarshal(ds[2].Body, &updated)
	if d := shapeDiff(readTestdata(t, "orders_updated.json"), updated, ""); len(d) > 0 {
		t.Errorf("orders_updated.json: fields the documented payload does not have: %v", d)
	}
}

func TestRedeliverSendsADuplicate(t *testing.T) {
	s := newTestStore(t, newClock(), nil)
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	s.SetWebhook(srv.URL)
	p := s.AddProduct("Tee", Variant{SKU: "A", Available: 10})
	if _, err := s.PlaceOrder(OrderParams{LineItems: []OrderLine{{VariantID: p.Variants[0].ID, Quantity: 1}}, FinancialStatus: "pending"}); err != nil {
		t.Fatal(err)
	}
	flush(t, s)
	first := s.Deliveries()[0]
	if err := s.Redeliver(first.WebhookID); err != nil {
		t.Fatal(err)
	}
	flush(t, s)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.got) != 2 || rc.got[1].header.Get("X-Shopify-Webhook-Id") != first.WebhookID || string(rc.got[1].body) != string(rc.got[0].body) {
		t.Errorf("redelivery is not a duplicate: %d posts", len(rc.got))
	}
	if err := s.Redeliver("nope"); err == nil {
		t.Error("redelivering an unknown webhook should fail")
	}
}

func TestDeliveryGivesUpAfterTheRetries(t *testing.T) {
	s := newTestStore(t, newClock(), func(o *Options) { o.WebhookRetries = 2 })
	rc := &receiver{failures: 100}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	s.SetWebhook(srv.URL)
	p := s.AddProduct("Tee", Variant{SKU: "A", Available: 10})
	if _, err := s.PlaceOrder(OrderParams{LineItems: []OrderLine{{VariantID: p.Variants[0].ID, Quantity: 1}}, FinancialStatus: "pending"}); err != nil {
		t.Fatal(err)
	}
	flush(t, s)
	d := s.Deliveries()[0]
	if d.Delivered || !d.Done || len(d.Attempts) != 3 {
		t.Errorf("delivery %+v", d)
	}
}

func TestSign(t *testing.T) {
	// A fixed vector, so a receiver's implementation can be checked
	// against it: base64(HMAC-SHA256("hush", `{"id":1}`)).
	body := []byte(`{"id":1}`)
	mac := hmac.New(sha256.New, []byte("hush"))
	mac.Write(body)
	if got, want := Sign("hush", body), base64.StdEncoding.EncodeToString(mac.Sum(nil)); got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}
