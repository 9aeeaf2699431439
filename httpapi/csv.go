package httpapi

import (
	"fmt"
	"net/http"

	"github.com/allot/allot/csvio"
	"github.com/allot/allot/service"
)

func (s *Server) importCSV(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	kind := r.PathValue("kind")
	n, err := csvio.Import(r.Context(), s.svc, who, kind, r.Body)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"kind": kind, "imported": n})
	return nil
}

func (s *Server) exportCSV(w http.ResponseWriter, r *http.Request, who service.Actor) error {
	kind := r.PathValue("kind")
	// Check the kind before the first byte is written.
	known := false
	for _, k := range csvio.Kinds {
		known = known || k == kind
	}
	if !known {
		return csvio.Export(r.Context(), s.svc, who, kind, w)
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.csv"`, kind))
	if err := csvio.Export(r.Context(), s.svc, who, kind, w); err != nil {
		s.log.Error("export failed", "kind", kind, "err", err)
	}
	return nil
}
