package web

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/allot/allot"
	"github.com/allot/allot/service"
)

// readinessView is the data of the readiness page.
type readinessView struct {
	Channels []readinessCard
	SKUs     []string
	// LinkErr is the error of a listing just linked, shown on its form.
	LinkErr                   error
	LinkChannel, LinkListing  string
	LinkSKU                   string
	ReprocessErr              error
	ReprocessChannel, Reorder string
}

// readinessCard is one channel's readiness, with its items sorted by what
// they are, so that each gets its own way to fix it.
type readinessCard struct {
	service.Readiness
	Checks []checkView
}

// checkView is one check with the things it names.
type checkView struct {
	service.Check
	Listings []string // listings to link
	SKUs     []string // products to look at
	Orders   []string // orders in needs attention
	Other    []string
}

func (s *Server) readiness(w http.ResponseWriter, r *request) error {
	return s.showReadiness(w, r, http.StatusOK, readinessView{})
}

func (s *Server) showReadiness(w http.ResponseWriter, r *request, status int, v readinessView) error {
	rs, err := s.svc.ReadinessOf(r.Context(), r.who, r.URL.Query().Get("channel"))
	if err != nil {
		return err
	}
	for _, rd := range rs {
		card := readinessCard{Readiness: rd}
		for _, c := range rd.Checks {
			cv := checkView{Check: c}
			for _, item := range c.Items {
				kind, id, _ := strings.Cut(item, ":")
				switch {
				case kind == "listing":
					cv.Listings = append(cv.Listings, id)
				case kind == "sku" && c.Name != "connected":
					cv.SKUs = append(cv.SKUs, id)
				case kind == "order":
					cv.Orders = append(cv.Orders, id)
				default:
					cv.Other = append(cv.Other, item)
				}
			}
			card.Checks = append(card.Checks, cv)
		}
		v.Channels = append(v.Channels, card)
	}
	ps, err := s.svc.ListProducts(r.Context(), r.who, "", 2000)
	if err != nil {
		return err
	}
	for _, p := range ps {
		v.SKUs = append(v.SKUs, p.SKU)
	}
	return s.render(w, r, status, "readiness", "Readiness", "readiness", v)
}

// linkListing links a listing to a product from the readiness page. The
// service then reprocesses the channel's orders that waited for it.
func (s *Server) linkListing(w http.ResponseWriter, r *request) error {
	channel, listing := r.PostForm.Get("channel"), r.PostForm.Get("listing")
	sku := strings.TrimSpace(r.PostForm.Get("sku"))
	if sku == "" {
		return s.showReadiness(w, r, http.StatusBadRequest, readinessView{LinkErr: allot.FieldError("sku", "is required: the SKU this listing sells"),
			LinkChannel: channel, LinkListing: listing})
	}
	_, err := s.svc.PutListing(r.Context(), r.who, service.ListingParams{Channel: channel, ExternalID: listing, SKU: sku})
	if err != nil {
		if allot.ErrorCode(err) == allot.Internal {
			return err
		}
		return s.showReadiness(w, r, http.StatusBadRequest, readinessView{LinkErr: err, LinkChannel: channel, LinkListing: listing, LinkSKU: sku})
	}
	return s.done(w, r, "/readiness", fmt.Sprintf("Linked listing %s on %s to %s. Orders that waited for it were processed again.",
		listing, channel, sku))
}

// reprocessOrder retries an order waiting in needs attention.
func (s *Server) reprocessOrder(w http.ResponseWriter, r *request) error {
	channel, id := r.PostForm.Get("channel"), r.PostForm.Get("order")
	o, err := s.svc.ReprocessOrder(r.Context(), r.who, channel, id)
	if err != nil {
		return s.failed(w, r, "/readiness", fmt.Sprintf("Order %s on %s", id, channel), err)
	}
	if o.NeedsAttention {
		return s.done(w, r, "/readiness", fmt.Sprintf("Order %s on %s still needs attention.", id, channel))
	}
	return s.done(w, r, "/readiness", fmt.Sprintf("Order %s on %s was processed: it counts now.", id, channel))
}
