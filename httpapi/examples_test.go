package httpapi_test

import (
	"testing"

	"github.com/allot/allot"
	"github.com/allot/allot/allottest"
)

// The worked examples of the spec, section 3, through the HTTP API on a
// real SQLite file.

func TestSpecExample1ReservesFollowAllocationMayExceedStock(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		a := newAPI(t, allottest.Options{Engine: engine})
		a.setup(100)
		a.reserve("b2b", allot.FollowAllocation, 30)
		a.reserve("b2c", allot.FollowAllocation, 50)
		a.reserve("manual", allot.FollowAllocation, 30)
		a.expect("tee", map[string]int{"b2b": 30, "b2c": 50, "manual": 30, "amazon": 0})

		a.do("POST", "/v1/orders", map[string]any{"channel": "b2b", "external_id": "o1", "lines": []map[string]any{{"sku": "tee", "quantity": 5}}})
		a.expect("tee", map[string]int{"b2b": 25, "b2c": 50, "manual": 30, "amazon": 0})
	})
}

func TestSpecExample2UseAvailableReservesAreServedInCreationOrder(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		a := newAPI(t, allottest.Options{Engine: engine})
		a.setup(100)
		a.reserve("b2b", allot.UseAvailable, 30)
		a.reserve("b2c", allot.UseAvailable, 50)
		a.reserve("manual", allot.UseAvailable, 30)
		a.expect("tee", map[string]int{"b2b": 30, "b2c": 50, "manual": 20})
	})
}

func TestSpecExample3UseAvailableReserveComesBackWhenStockReturns(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		a := newAPI(t, allottest.Options{Engine: engine})
		a.setup(20)
		a.reserve("b2b", allot.UseAvailable, 30)
		a.expect("tee", map[string]int{"b2b": 20, "b2c": 0, "manual": 0, "amazon": 0})
		a.stock("w1", "tee", 70)
		a.expect("tee", map[string]int{"b2b": 30, "b2c": 40, "manual": 40, "amazon": 40})
	})
}

func TestSpecExample4PresellSellsInboundStockAsBackorders(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		for _, rule := range []allot.Rule{allot.FollowAllocation, allot.UseAvailable} {
			t.Run(string(rule), func(t *testing.T) {
				a := newAPI(t, allottest.Options{Engine: engine})
				a.setup(0)
				in := a.do("POST", "/v1/inbounds", map[string]any{"warehouse": "w1", "lines": []map[string]any{{"sku": "tee", "quantity": 200}}})
				a.do("POST", "/v1/allocations", map[string]any{"purpose": "presell",
					"channels": []map[string]any{{"channel": "b2c", "rule": rule}}, "lines": []map[string]any{{"sku": "tee", "quantity": 150}}})
				if rule == allot.FollowAllocation {
					a.expect("tee", map[string]int{"b2c": 150, "b2b": 0, "amazon": 0, "manual": 0})
				}
				a.do("POST", "/v1/orders", map[string]any{"channel": "b2c", "external_id": "big", "lines": []map[string]any{{"sku": "tee", "quantity": 150}}})
				stock := a.do("GET", "/v1/stock?sku=tee", nil)["stock"].([]any)[0].(map[string]any)
				if stock["backordered"].(float64) != 150 {
					t.Fatalf("backordered %v, want 150", stock["backordered"])
				}
				a.expect("tee", map[string]int{"b2c": 0})

				a.do("POST", "/v1/inbounds/"+jsonString(in["id"])+"/receive", nil)
				stock = a.do("GET", "/v1/stock?sku=tee", nil)["stock"].([]any)[0].(map[string]any)
				if stock["backordered"].(float64) != 0 || stock["available"].(float64) != 50 {
					t.Fatalf("after receipt: %v, want backordered 0 and available 50", stock)
				}
				want := map[string]int{"b2b": 50, "amazon": 50, "manual": 50, "b2c": 0}
				if rule == allot.UseAvailable {
					want["b2c"] = 50
				}
				a.expect("tee", want)
			})
		}
	})
}

func TestSpecExample5StopSellingOnOneChannel(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		a := newAPI(t, allottest.Options{Engine: engine})
		a.setup(80)
		a.reserve("b2b", allot.FollowAllocation, 10)
		a.do("POST", "/v1/stops", map[string]any{"channels": []string{"amazon"}, "skus": []string{"tee"}})
		a.expect("tee", map[string]int{"amazon": 0, "b2c": 70, "manual": 70, "b2b": 10})
	})
}
