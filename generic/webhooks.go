package generic

import (
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/httpapi"
	"github.com/allot/allot/service"
)

// Limits on an order delivered to the webhook: its body, and its delivery
// id, which allot keeps to count a repeated delivery once.
const (
	MaxOrderBody  = 1 << 20
	MaxDeliveryID = 200
)

// Webhooks serves POST /webhooks/generic/{channel}: an order of the
// platform, as the body of POST /v1/orders/import without "channel",
// signed like a push. The signature is checked before the body is parsed;
// a delivery id seen before counts once.
func Webhooks(svc *service.Service, log *slog.Logger, now func() time.Time) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxOrderBody+1))
		if err != nil || len(body) > MaxOrderBody {
			httpapi.WriteError(w, log, &allot.Error{Code: httpapi.TooLarge, Field: "body", Message: "is larger than 1 MiB"})
			return
		}
		code := r.PathValue("channel")
		sig, ts := r.Header.Get(SignatureHeader), r.Header.Get(TimestampHeader)
		who, err := svc.ChannelOwner(r.Context(), allot.Generic, code, func(settings map[string]any) bool {
			secret, _ := settings["secret"].(string)
			return Verify(secret, sig, ts, body, now())
		})
		if err != nil {
			httpapi.WriteError(w, log, err)
			return
		}
		delivery := r.Header.Get(DeliveryHeader)
		if err := httpapi.CheckHeader(DeliveryHeader, delivery, MaxDeliveryID); err != nil {
			httpapi.WriteError(w, log, err)
			return
		}
		var p service.OrderParams
		if err := httpapi.DecodeJSON(body, &p); err != nil {
			httpapi.WriteError(w, log, err)
			return
		}
		if p.Channel != "" && p.Channel != code {
			httpapi.WriteError(w, log, allot.FieldError("channel", "names %q but the order was sent to %q", p.Channel, code))
			return
		}
		p.Channel = code
		o, duplicate, err := svc.ImportDelivery(r.Context(), who, delivery, p)
		if err != nil {
			httpapi.WriteError(w, log, err)
			return
		}
		if duplicate {
			httpapi.WriteJSON(w, http.StatusOK, map[string]any{"duplicate": true})
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, o)
	}
}
