package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/allot/allot/allottest"
	"github.com/allot/allot/httpapi"
)

// Over its rate limit, a token is answered 429 too_many_requests with
// Retry-After, as the document says, and nothing is done; other tokens go
// on, and the token may send again once its bucket refilled.
func TestRateLimitAnswers429PerToken(t *testing.T) {
	srv, _ := allottest.Server(t, allottest.Options{RateLimit: httpapi.RateLimit{Rate: 2, Burst: 3}})
	if _, _, err := srv.Service.CreateMerchant(context.Background(), "other", "Other", tokenB); err != nil {
		t.Fatal(err)
	}
	c := newAPICheck(t, srv.URL())
	for range 3 {
		c.ok(200, "GET", "/v1/warehouses", nil)
	}
	status, header, raw := c.exchange(c.request("PUT", "/v1/products/late", map[string]any{"name": "Late"}))
	if status != http.StatusTooManyRequests {
		t.Fatalf("the fourth request at once answered %d, want 429: %s", status, raw)
	}
	if ra := header.Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After is %q, want 1 (a request comes back every half second)", ra)
	}
	if s := string(raw); !strings.Contains(s, `"code":"too_many_requests"`) || !strings.Contains(s, "2 requests a second") ||
		!strings.Contains(s, "bursts of up to 3") {
		t.Errorf("the 429 does not say which limit: %s", raw)
	}
	// Another merchant's token has a bucket of its own.
	if status, e, raw := send(t, srv.URL(), tokenB, "GET", "/v1/warehouses", nil); status != 200 {
		t.Errorf("the other token answered %d %s: %s", status, e.Code, raw)
	}
	// Requests without a valid token are refused as before, not counted.
	if status, e, _ := sendAuth(t, srv.URL(), "Bearer not-a-token", "GET", "/v1/warehouses", ""); status != 401 {
		t.Errorf("a wrong token answered %d %s, want 401", status, e.Code)
	}

	time.Sleep(600 * time.Millisecond)
	c.ok(404, "GET", "/v1/products/late", nil) // the refused PUT did nothing
	c.fail(429, "too_many_requests", "", "GET", "/v1/products/late", nil)
}
