package shopify_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/allot/allot"
	"github.com/allot/allot/shopify"
)

// Shopify's documented order payloads map to the imports they mean.
func TestDocumentedOrderPayloadsMapToImports(t *testing.T) {
	variant := shopify.VariantGID(642667041472713922)
	for _, c := range []struct {
		file      string
		payment   allot.Payment
		cancelled bool
	}{
		{"orders_create.json", allot.Terms, false}, // pending, with Net 30 terms
		{"orders_paid.json", allot.Paid, false},
		{"orders_updated.json", allot.Paid, false},
		{"orders_cancelled.json", allot.Terms, true}, // voided (terms still given), its line removed
	} {
		raw, err := os.ReadFile("shopifysim/testdata/" + c.file)
		if err != nil {
			t.Fatal(err)
		}
		var o shopify.Order
		if err := json.Unmarshal(raw, &o); err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		p := o.OrderParams("b2c")
		if p.ExternalID != "820982911946154508" || p.Payment != c.payment || p.Cancelled != c.cancelled || p.UpdatedAt == nil {
			t.Errorf("%s: %+v, want payment %s, cancelled %v", c.file, p, c.payment, c.cancelled)
		}
		if len(p.Lines) != 1 || p.Lines[0].Listing != variant || p.Lines[0].Quantity != 3 {
			t.Errorf("%s: lines %+v, want 3 of %s", c.file, p.Lines, variant)
		}
	}
}
