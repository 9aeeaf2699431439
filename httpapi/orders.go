package httpapi

import (
	"context"
	"net/http"

	"github.com/allot/allot"
	"github.com/allot/allot/service"
	"github.com/allot/allot/store"
)

// ---- allocations

func (s *Server) listAllocations(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	q := query{r: r}
	current := q.bool("current")
	if q.err != nil {
		return q.err
	}
	as, err := s.svc.ListAllocations(r.Context(), who, current)
	if err != nil {
		return err
	}
	if as == nil {
		as = []allot.Allocation{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"allocations": as})
	return nil
}

func (s *Server) createAllocation(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	var p service.AllocationParams
	if err := decode(r, &p, "lines[].quantity", "all_skus.quantity"); err != nil {
		return err
	}
	a, err := s.svc.CreateAllocation(r.Context(), who, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, a)
	return nil
}

func (s *Server) getAllocation(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	a, err := s.svc.GetAllocation(r.Context(), who, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}

func (s *Server) patchAllocation(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var p service.AllocationPatch
	if err := decode(r, &p, "lines[].quantity", "all_skus.quantity"); err != nil {
		return err
	}
	a, err := s.svc.PatchAllocation(r.Context(), who, id, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}

func (s *Server) endAllocation(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	a, err := s.svc.EndAllocation(r.Context(), who, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}

func (s *Server) createBuffer(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	var p service.BufferParams
	if err := decode(r, &p, "lines[].quantity", "all_skus.quantity"); err != nil {
		return err
	}
	a, err := s.svc.CreateBuffer(r.Context(), who, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, a)
	return nil
}

func (s *Server) createStop(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	var p service.StopParams
	if err := decode(r, &p); err != nil {
		return err
	}
	a, err := s.svc.CreateStop(r.Context(), who, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, a)
	return nil
}

// ---- orders and holds

func (s *Server) listOrders(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	q := query{r: r}
	f := store.OrderFilter{
		Channel:        q.str("channel", service.MaxCodeLen),
		NeedsAttention: q.bool("needs_attention"),
		Oversold:       q.bool("oversold"),
		Kind:           allot.OrderKind(q.str("kind", 20)),
		Before:         int64(q.int("before", 0, 0, 1<<62)),
		Limit:          q.int("limit", 100, 1, 1000),
	}
	if q.err != nil {
		return q.err
	}
	switch f.Kind {
	case "", allot.Placed, allot.Imported, allot.Hold:
	default:
		return allot.FieldError("kind", "must be placed, imported or hold, not %q", f.Kind)
	}
	os, err := s.svc.ListOrders(r.Context(), who, f)
	if err != nil {
		return err
	}
	if os == nil {
		os = []allot.Order{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"orders": os})
	return nil
}

func (s *Server) placeOrder(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	var p service.OrderParams
	if err := decode(r, &p, "lines[].quantity"); err != nil {
		return err
	}
	o, isNew, err := s.svc.PlaceOrder(r.Context(), who, p)
	if err != nil {
		return err
	}
	writeJSON(w, created(isNew), o)
	return nil
}

func (s *Server) importOrder(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	var p service.OrderParams
	if err := decode(r, &p, "lines[].quantity"); err != nil {
		return err
	}
	o, isNew, err := s.svc.ImportOrder(r.Context(), who, p)
	if err != nil {
		return err
	}
	writeJSON(w, created(isNew), o)
	return nil
}

func (s *Server) getOrder(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	o, err := s.svc.GetOrder(r.Context(), who, r.PathValue("channel"), r.PathValue("external_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, o)
	return nil
}

type linesBody struct {
	Lines []allot.Line `json:"lines"`
}

func (s *Server) cancelOrder(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	return s.progressOrder(w, r, who, s.svc.CancelOrder)
}

func (s *Server) shipOrder(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	return s.progressOrder(w, r, who, s.svc.ShipOrder)
}

func (s *Server) progressOrder(w http.ResponseWriter, r *http.Request, who service.Actor,
	do func(ctx context.Context, who service.Actor, channel, externalID string, lines []allot.Line) (allot.Order, error)) error {
	var b linesBody
	given, err := decodeOptional(r, &b, "lines[].quantity")
	if err != nil {
		return err
	}
	if given && b.Lines == nil {
		return allot.FieldError("lines", "is required when a body is sent; send no body for the whole order")
	}
	o, err := do(r.Context(), who, r.PathValue("channel"), r.PathValue("external_id"), b.Lines)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, o)
	return nil
}

func (s *Server) reprocessOrder(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	o, err := s.svc.ReprocessOrder(r.Context(), who, r.PathValue("channel"), r.PathValue("external_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, o)
	return nil
}

func (s *Server) createHold(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	var p service.HoldParams
	if err := decode(r, &p, "lines[].quantity"); err != nil {
		return err
	}
	h, err := s.svc.CreateHold(r.Context(), who, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, h)
	return nil
}

func (s *Server) getHold(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	h, err := s.svc.GetHold(r.Context(), who, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

func (s *Server) confirmHold(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var p service.ConfirmParams
	if _, err := decodeOptional(r, &p); err != nil {
		return err
	}
	h, err := s.svc.ConfirmHold(r.Context(), who, id, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

func (s *Server) releaseHold(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	h, err := s.svc.ReleaseHold(r.Context(), who, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}
