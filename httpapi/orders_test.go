package httpapi_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/allottest"
)

func TestImportedOrderWithUnlinkedListingWaitsThenCountsOnceLinked(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		a := newAPI(t, allottest.Options{Engine: engine})
		a.setup(10)
		out := a.do("POST", "/v1/orders/import", map[string]any{"channel": "b2c", "external_id": "w1",
			"lines": []map[string]any{{"listing": "gid-77", "quantity": 4}}})
		if out["needs_attention"] != true || out["counts"] != false {
			t.Fatalf("order %v: want needs_attention and not counting", out)
		}
		a.expect("tee", map[string]int{"b2c": 10})
		ready := a.do("GET", "/v1/readiness?channel=b2c", nil)
		if s := jsonString(ready); !contains(s, "listing:gid-77") || !contains(s, "order:w1") {
			t.Fatalf("readiness does not point at the listing and the order: %s", s)
		}
		a.do("PUT", "/v1/channels/b2c/listings/gid-77", map[string]any{"sku": "tee"})
		o := a.do("GET", "/v1/orders/b2c/w1", nil)
		if o["needs_attention"] != false || o["counts"] != true {
			t.Fatalf("after linking: %v", o)
		}
		a.expect("tee", map[string]int{"b2c": 6, "b2b": 6})
	})
}

func TestImportBeyondPublishedIsAcceptedAndFlaggedOversold(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		a := newAPI(t, allottest.Options{Engine: engine})
		a.setup(3)
		out := a.do("POST", "/v1/orders/import", map[string]any{"channel": "b2c", "external_id": "big",
			"lines": []map[string]any{{"sku": "tee", "quantity": 5}}})
		if out["oversold"] != true {
			t.Fatalf("order %v: want oversold", out)
		}
		again := a.do("POST", "/v1/orders/import", map[string]any{"channel": "b2c", "external_id": "big",
			"lines": []map[string]any{{"sku": "tee", "quantity": 5}}})
		if again["id"] != out["id"] {
			t.Fatalf("re-import made another order: %v", again)
		}
		stock := a.do("GET", "/v1/stock?sku=tee", nil)["stock"].([]any)[0].(map[string]any)
		if stock["committed"].(float64) != 5 || stock["backordered"].(float64) != 2 {
			t.Fatalf("stock %v: want committed 5, backordered 2", stock)
		}
	})
}

func TestHoldCountsWhileItLivesAndGivesBackWhenItExpires(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		clock := allottest.NewClock(time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC))
		a := newAPI(t, allottest.Options{Engine: engine, Clock: clock})
		a.setup(10)
		h := a.do("POST", "/v1/holds", map[string]any{"channel": "b2c", "lines": []map[string]any{{"sku": "tee", "quantity": 7}}, "ttl_seconds": 600})
		a.expect("tee", map[string]int{"b2c": 3, "b2b": 3})
		a.fail(allot.InsufficientStock, "", "POST", "/v1/holds", map[string]any{"channel": "b2b", "lines": []map[string]any{{"sku": "tee", "quantity": 4}}, "ttl_seconds": 60})

		clock.Advance(10*time.Minute + time.Second)
		a.expect("tee", map[string]int{"b2c": 10, "b2b": 10})
		got := a.do("GET", fmt.Sprintf("/v1/holds/%v", h["id"]), nil)
		if got["state"] != "expired" {
			t.Fatalf("hold %v: want expired", got)
		}
		a.fail(allot.Conflict, "", "POST", fmt.Sprintf("/v1/holds/%v/confirm", h["id"]), nil)
	})
}

func TestConfirmedHoldBecomesAnOrderThatKeepsItsUnits(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		clock := allottest.NewClock(time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC))
		a := newAPI(t, allottest.Options{Engine: engine, Clock: clock})
		a.setup(10)
		a.reserve("b2b", allot.FollowAllocation, 6)
		h := a.do("POST", "/v1/holds", map[string]any{"channel": "b2b", "lines": []map[string]any{{"sku": "tee", "quantity": 4}}, "ttl_seconds": 60})
		a.expect("tee", map[string]int{"b2b": 2, "b2c": 4})
		a.do("POST", fmt.Sprintf("/v1/holds/%v/confirm", h["id"]), map[string]any{"external_id": "quote-9", "payment": "terms"})
		clock.Advance(time.Hour)
		// b2b does not count unpaid orders with terms: the confirmed order holds
		// nothing until paid, so the reserve is whole again.
		a.expect("tee", map[string]int{"b2b": 6, "b2c": 4})
		a.do("POST", "/v1/orders/import", map[string]any{"channel": "b2b", "external_id": "quote-9", "payment": "paid",
			"lines": []map[string]any{{"sku": "tee", "quantity": 4}}})
		a.expect("tee", map[string]int{"b2b": 2, "b2c": 4})
		a.do("POST", "/v1/orders/b2b/quote-9/cancel", map[string]any{"lines": []map[string]any{{"sku": "tee", "quantity": 1}}})
		a.expect("tee", map[string]int{"b2b": 3, "b2c": 4})
	})
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
