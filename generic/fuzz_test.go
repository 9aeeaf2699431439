package generic_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/allot/allot/allottest"
	"github.com/allot/allot/generic"
	"github.com/allot/allot/httpapi"
	"github.com/allot/allot/store"
	"github.com/allot/allot/syncer"
)

// Verify takes the signature of the body sent at the timestamp, under the
// secret, within MaxSkew of now, and nothing else.
func FuzzVerify(f *testing.F) {
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, secret, signature, timestamp string, body []byte, skew int64) {
		sent := now.Add(time.Duration(skew%int64(time.Hour/time.Second)) * time.Second)
		ts := strconv.FormatInt(sent.Unix(), 10)
		good := generic.Sign(secret, sent, body)
		within := sent.Sub(now).Abs() <= generic.MaxSkew
		if got := generic.Verify(secret, good, ts, body, now); got != (secret != "" && within) {
			t.Fatalf("a signature of %q under %q sent %v from now: verified %v", body, secret, sent.Sub(now), got)
		}
		if generic.Verify(secret, signature, timestamp, body, now) {
			sec, err := strconv.ParseInt(timestamp, 10, 64)
			if err != nil || signature != generic.Sign(secret, time.Unix(sec, 0), body) {
				t.Fatalf("signature %q at %q verified %q under %q", signature, timestamp, body, secret)
			}
		}
		if len(body) > 0 {
			altered := bytes.Clone(body)
			altered[0] ^= 1
			if generic.Verify(secret, good, ts, altered, now) {
				t.Fatalf("an altered body %q verified", altered)
			}
		}
	})
}

const fuzzSecret = "generic_fuzz_secret"

// FuzzWebhook posts any order, signed, to a real server: it is imported or
// refused with a 4xx that names the problem, never a 500. The same body
// with a wrong signature is refused with a 401 before it is read.
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
			{"/v1/channels/outlet", map[string]any{"platform": "generic", "settings": map[string]any{"push_url": "http://127.0.0.1:1/push",
				"secret": fuzzSecret}}},
			{"/v1/channels/outlet/listings/OUT-TEE", map[string]any{"sku": "tee"}},
		} {
			if err := c.Do(context.Background(), "PUT", step.path, step.body, nil); err != nil {
				f.Fatalf("PUT %s: %v", step.path, err)
			}
		}
		handlers = append(handlers, srv.Handler())
	}
	f.Fuzz(func(t *testing.T, delivery string, body []byte) {
		for _, h := range handlers {
			for _, forged := range []bool{false, true} {
				now := time.Now()
				sig := generic.Sign(fuzzSecret, now, body)
				if forged {
					sig = generic.Sign("not the secret", now, body)
				}
				req := httptest.NewRequest("POST", "/webhooks/generic/outlet", bytes.NewReader(body))
				req.Header.Set(generic.SignatureHeader, sig)
				req.Header.Set(generic.TimestampHeader, strconv.FormatInt(now.Unix(), 10))
				req.Header.Set(generic.DeliveryHeader, delivery)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if forged && rec.Code != http.StatusUnauthorized {
					t.Fatalf("a forged order %q answered %d, want 401: %s", body, rec.Code, rec.Body.Bytes())
				}
				if rec.Code >= 500 {
					t.Fatalf("order %q answered %d: %s", body, rec.Code, rec.Body.Bytes())
				}
				if rec.Code >= 400 {
					var e httpapi.ErrorBody
					if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" ||
						(rec.Code == 400 && e.Error.Field == "") {
						t.Fatalf("order %q answered %d without a clear error: %s", body, rec.Code, rec.Body.Bytes())
					}
				}
			}
		}
	})
}
