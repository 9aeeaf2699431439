package shopify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/httpapi"
	"github.com/allot/allot/service"
)

// Webhook headers, as Shopify sends them.
const (
	HMACHeader    = "X-Shopify-Hmac-Sha256"
	TopicHeader   = "X-Shopify-Topic"
	WebhookHeader = "X-Shopify-Webhook-Id"
)

// Limits on a webhook: its body, and its id, which allot keeps to count a
// repeated delivery once.
const (
	MaxWebhookBody = 2 << 20
	MaxWebhookID   = 200
)

// Topics are the webhook topics allot subscribes to.
var Topics = []string{"orders/create", "orders/updated", "orders/paid", "orders/cancelled"}

// VerifyHMAC checks X-Shopify-Hmac-Sha256: the base64 HMAC-SHA256 of the
// raw body, keyed with the webhook secret, compared in constant time.
func VerifyHMAC(secret string, body []byte, header string) bool {
	if secret == "" || header == "" {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	return hmac.Equal([]byte(want), []byte(header))
}

// Order is the part of Shopify's order payload allot reads.
type Order struct {
	ID              int64      `json:"id"`
	Name            string     `json:"name"`
	FinancialStatus string     `json:"financial_status"`
	CancelledAt     *time.Time `json:"cancelled_at"`
	UpdatedAt       *time.Time `json:"updated_at"`
	PaymentTerms    *struct {
		PaymentTermsName string `json:"payment_terms_name"`
	} `json:"payment_terms"`
	LineItems []struct {
		VariantID       *int64 `json:"variant_id"`
		SKU             string `json:"sku"`
		Quantity        int    `json:"quantity"`
		CurrentQuantity *int   `json:"current_quantity"`
	} `json:"line_items"`
}

// VariantGID is the listing id of a variant: its Admin API gid.
func VariantGID(id int64) string { return "gid://shopify/ProductVariant/" + strconv.FormatInt(id, 10) }

// Payment maps Shopify's financial status and payment terms to allot's
// payment states: paid (and partly paid or refunded) counts; pending or
// authorized with payment terms is "terms" (counted on channels that count
// unpaid orders); anything else waits as "unpaid".
func Payment(financialStatus string, terms bool) allot.Payment {
	switch financialStatus {
	case "paid", "partially_paid", "partially_refunded", "refunded":
		return allot.Paid
	}
	if terms {
		return allot.Terms
	}
	return allot.Unpaid
}

// OrderParams maps a Shopify order to an import. Lines name the variant as
// a listing; line items without a variant (custom items, no stock) are
// left out. A line's current quantity (after edits and removals) wins over
// its ordered quantity. An order whose lines were all removed, or that was
// cancelled, is imported cancelled.
func (o Order) OrderParams(channel string) service.OrderParams {
	p := service.OrderParams{Channel: channel, ExternalID: strconv.FormatInt(o.ID, 10),
		Payment: Payment(o.FinancialStatus, o.PaymentTerms != nil), UpdatedAt: o.UpdatedAt, Cancelled: o.CancelledAt != nil}
	var removed []allot.Line
	for _, li := range o.LineItems {
		if li.VariantID == nil || li.Quantity <= 0 {
			continue
		}
		q := li.Quantity
		if li.CurrentQuantity != nil {
			q = *li.CurrentQuantity
		}
		line := allot.Line{Listing: VariantGID(*li.VariantID), Quantity: q}
		if q <= 0 {
			line.Quantity = li.Quantity
			removed = append(removed, line)
			continue
		}
		p.Lines = append(p.Lines, line)
	}
	if len(p.Lines) == 0 && len(removed) > 0 {
		p.Lines, p.Cancelled = removed, true
	}
	return p
}

// Webhooks serves POST /webhooks/shopify/{channel}: the HMAC is checked
// against the channel's webhook_secret before the body is parsed (401 if
// no channel of that code opens it), a webhook id seen before counts once,
// and orders/create, orders/updated, orders/paid and orders/cancelled are
// imported. Other topics are acknowledged and ignored.
func Webhooks(svc *service.Service, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxWebhookBody+1))
		if err != nil || len(body) > MaxWebhookBody {
			httpapi.WriteError(w, log, &allot.Error{Code: httpapi.TooLarge, Field: "body", Message: "is larger than 2 MiB"})
			return
		}
		code := r.PathValue("channel")
		sig := r.Header.Get(HMACHeader)
		who, err := svc.ChannelOwner(r.Context(), allot.Shopify, code, func(settings map[string]any) bool {
			secret, _ := settings["webhook_secret"].(string)
			return VerifyHMAC(secret, body, sig)
		})
		if err != nil {
			httpapi.WriteError(w, log, err)
			return
		}
		webhookID := r.Header.Get(WebhookHeader)
		if err := httpapi.CheckHeader(WebhookHeader, webhookID, MaxWebhookID); err != nil {
			httpapi.WriteError(w, log, err)
			return
		}
		topic := r.Header.Get(TopicHeader)
		known := false
		for _, t := range Topics {
			known = known || t == topic
		}
		if !known {
			httpapi.WriteJSON(w, http.StatusOK, map[string]any{"ignored": topic})
			return
		}
		var o Order
		if err := json.Unmarshal(body, &o); err != nil || o.ID == 0 {
			httpapi.WriteError(w, log, allot.FieldError("body", "is not a Shopify order: %v", orMissingID(err)))
			return
		}
		p := o.OrderParams(code)
		if len(p.Lines) == 0 {
			httpapi.WriteJSON(w, http.StatusOK, map[string]any{"ignored": "an order with no stocked item"})
			return
		}
		order, duplicate, err := svc.ImportDelivery(r.Context(), who, webhookID, p)
		if err != nil {
			httpapi.WriteError(w, log, err)
			return
		}
		if duplicate {
			httpapi.WriteJSON(w, http.StatusOK, map[string]any{"duplicate": true})
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, order)
	}
}

func orMissingID(err error) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("it has no id")
}
