package web

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/allot/allot"
	"github.com/allot/allot/csvio"
)

// fileKinds describes the CSV files in the order a set-up imports them.
var fileKinds = []struct{ Kind, Title, What string }{
	{"products", "Products", "SKU, name, barcode; a bundle lists its components."},
	{"stock", "Stock", "What each warehouse holds of each SKU, as of a time."},
	{"listings", "Listings", "Which item of a channel sells which SKU."},
	{"allocations", "Allocations", "Reserves and presells, one line per SKU."},
	{"orders", "Orders", "Channel orders to import, one line per order line."},
}

// filesView is the data of the files page.
type filesView struct {
	Kinds []struct{ Kind, Title, What string }
	// The outcome of an upload, shown on its form.
	Kind     string
	Imported int
	Errors   []string // one per line at fault
	Err      error
}

func (s *Server) files(w http.ResponseWriter, r *request) error {
	return s.render(w, r, http.StatusOK, "files", "Files", "files", filesView{Kinds: fileKinds})
}

// download sends a CSV file, named by kind with .csv.
func (s *Server) download(w http.ResponseWriter, r *request) error {
	kind, ok := strings.CutSuffix(r.PathValue("file"), ".csv")
	if !ok || !slices.Contains(csvio.Kinds, kind) {
		return allot.Errorf(allot.NotFound, "there is no file %q; the files are %s", r.PathValue("file"), strings.Join(csvio.Kinds, ", "))
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.csv"`, kind))
	if err := csvio.Export(r.Context(), s.svc, r.who, kind, w); err != nil {
		// Part of the file may be sent already: log it, the download fails.
		s.log.Error("web export failed", "kind", kind, "err", err)
	}
	return nil
}

// upload imports a CSV file, whole or not at all.
func (s *Server) upload(w http.ResponseWriter, r *request) error {
	kind := r.PathValue("kind")
	if !slices.Contains(csvio.Kinds, kind) {
		return allot.Errorf(allot.NotFound, "there is no file %q; the files are %s", kind, strings.Join(csvio.Kinds, ", "))
	}
	v := filesView{Kinds: fileKinds, Kind: kind}
	f, _, err := r.FormFile("file")
	if err != nil {
		v.Err = allot.FieldError("file", "choose a CSV file to upload")
		return s.render(w, r, http.StatusBadRequest, "files", "Files", "files", v)
	}
	defer f.Close()
	n, err := csvio.Import(r.Context(), s.svc, r.who, kind, f)
	if err != nil {
		if allot.ErrorCode(err) == allot.Internal {
			return err
		}
		v.Err, v.Errors = err, lineErrors(err)
		return s.render(w, r, http.StatusBadRequest, "files", "Files", "files", v)
	}
	return s.done(w, r, "/files", fmt.Sprintf("Imported %s from the %s file.", plural(n, "record", "records"), kind))
}

// lineErrors splits a file's error into one message per line at fault:
// the file's reader joins them with "; " after a count.
func lineErrors(err error) []string {
	var e *allot.Error
	if !errors.As(err, &e) {
		return nil
	}
	msg := e.Message
	if _, rest, ok := strings.Cut(msg, "the file was not applied: "); ok {
		msg = rest
	}
	var out []string
	for _, part := range strings.Split(msg, "; line ") {
		if len(out) > 0 {
			part = "line " + part
		}
		out = append(out, part)
	}
	if len(out) == 1 && e.Field != "" && !strings.HasPrefix(out[0], "line ") {
		out[0] = e.Field + ": " + out[0]
	}
	for i, o := range out {
		if field, m, ok := strings.Cut(o, ": "); ok && strings.HasPrefix(field, "line ") {
			out[i] = fieldLabel(field) + ": " + m
		}
	}
	return out
}
