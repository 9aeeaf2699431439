package shopify_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/allot/allot/allottest"
	"github.com/allot/allot/httpapi"
	"github.com/allot/allot/shopify"
	"github.com/allot/allot/store"
	"github.com/allot/allot/syncer"
)

func sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// VerifyHMAC takes the HMAC of the body under the secret, and nothing
// else: not another body, not another secret, not an empty secret.
func FuzzVerifyHMAC(f *testing.F) {
	f.Fuzz(func(t *testing.T, secret string, body []byte, header string) {
		good := sign(secret, body)
		if got := shopify.VerifyHMAC(secret, body, good); got != (secret != "") {
			t.Fatalf("the HMAC of %q under %q: verified %v", body, secret, got)
		}
		if shopify.VerifyHMAC(secret, body, header) && header != good {
			t.Fatalf("header %q verified %q under %q; the HMAC is %q", header, body, secret, good)
		}
		if len(body) > 0 {
			altered := bytes.Clone(body)
			altered[len(altered)/2] ^= 1
			if shopify.VerifyHMAC(secret, altered, good) {
				t.Fatalf("an altered body %q verified", altered)
			}
		}
		if shopify.VerifyHMAC(secret+"x", body, good) {
			t.Fatalf("another secret verified %q", body)
		}
	})
}

// Any order payload maps to lines of stocked variants, each with a
// quantity above 0, under the order's id.
func FuzzOrderParams(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		var o shopify.Order
		if json.Unmarshal(body, &o) != nil {
			return
		}
		p := o.OrderParams("b2c")
		if p.Channel != "b2c" || p.ExternalID != strconv.FormatInt(o.ID, 10) {
			t.Fatalf("%s: channel %q, external id %q", body, p.Channel, p.ExternalID)
		}
		if len(p.Lines) > len(o.LineItems) {
			t.Fatalf("%s: %d lines from %d line items", body, len(p.Lines), len(o.LineItems))
		}
		for i, l := range p.Lines {
			if l.Quantity <= 0 || !strings.HasPrefix(l.Listing, "gid://shopify/ProductVariant/") || l.SKU != "" {
				t.Fatalf("%s: line %d is %+v", body, i, l)
			}
		}
		if o.CancelledAt != nil && !p.Cancelled {
			t.Fatalf("%s: cancelled on Shopify, not in the import", body)
		}
	})
}

const fuzzSecret = "shpss_fuzz_webhook_secret"

// FuzzWebhook posts any payload under any topic, signed, to a real server:
// it is imported, ignored or refused with a 4xx that names the problem,
// never a 500. The same payload with a wrong signature is refused with a
// 401 before it is read, whatever it holds.
func FuzzWebhook(f *testing.F) {
	var handlers []http.Handler
	for _, engine := range allottest.Engines() {
		srv, c := allottest.Server(f, allottest.Options{Engine: engine, Connect: func(store.ChannelRow) (syncer.Connector, error) {
			return nil, errors.New("no connections in this test")
		}})
		for _, step := range []struct {
			path string
			body any
		}{
			{"/v1/warehouses/w1", map[string]any{}},
			{"/v1/products/tee", map[string]any{"name": "T-shirt"}},
			{"/v1/stock/w1/tee", map[string]any{"in_warehouse": 10}},
			{"/v1/channels/b2c", map[string]any{"platform": "shopify", "settings": map[string]any{"shop_url": "http://127.0.0.1:1",
				"access_token": "shpat_fuzz", "location_id": "gid://shopify/Location/1", "webhook_secret": fuzzSecret}}},
			{"/v1/channels/b2c/listings/" + url.PathEscape(shopify.VariantGID(1)), map[string]any{"sku": "tee"}},
		} {
			if err := c.Do(context.Background(), "PUT", step.path, step.body, nil); err != nil {
				f.Fatalf("PUT %s: %v", step.path, err)
			}
		}
		handlers = append(handlers, srv.Handler())
	}
	f.Fuzz(func(t *testing.T, topic, webhookID string, body []byte) {
		for _, h := range handlers {
			for _, forged := range []bool{false, true} {
				mac := sign(fuzzSecret, body)
				if forged {
					mac = sign("not the secret", body)
				}
				req := httptest.NewRequest("POST", "/webhooks/shopify/b2c", bytes.NewReader(body))
				req.Header.Set(shopify.HMACHeader, mac)
				req.Header.Set(shopify.TopicHeader, topic)
				req.Header.Set(shopify.WebhookHeader, webhookID)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if forged && rec.Code != http.StatusUnauthorized {
					t.Fatalf("a forged webhook %q answered %d, want 401: %s", body, rec.Code, rec.Body.Bytes())
				}
				checkWebhookAnswer(t, body, rec)
			}
		}
	})
}

// checkWebhookAnswer fails t on a 5xx, and on an error that lacks the
// error shape, a code, a message or, for a 400, the field.
func checkWebhookAnswer(t *testing.T, body []byte, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("webhook %q answered %d: %s", body, rec.Code, rec.Body.Bytes())
	}
	if rec.Code < 400 {
		return
	}
	var e httpapi.ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" ||
		(rec.Code == 400 && e.Error.Field == "") {
		t.Fatalf("webhook %q answered %d without a clear error: %s", body, rec.Code, rec.Body.Bytes())
	}
}
