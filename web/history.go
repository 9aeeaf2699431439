package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/allot/allot"
	"github.com/allot/allot/store"
)

// historyView is the data of the history page.
type historyView struct {
	SKU, Channel string
	Entries      []allot.HistoryEntry
	Older        string // link to the next page back, if any
}

// historyPage is how many entries a page of the history shows.
const historyPage = 100

func (s *Server) history(w http.ResponseWriter, r *request) error {
	q := r.URL.Query()
	v := historyView{SKU: strings.TrimSpace(q.Get("sku")), Channel: strings.TrimSpace(q.Get("channel"))}
	before, _ := strconv.ParseInt(q.Get("before"), 10, 64)
	es, err := s.svc.History(r.Context(), r.who, store.HistoryFilter{SKU: v.SKU, Channel: v.Channel, Before: before, Limit: historyPage})
	if err != nil {
		return err
	}
	v.Entries = es
	if len(es) == historyPage {
		u := url.Values{}
		if v.SKU != "" {
			u.Set("sku", v.SKU)
		}
		if v.Channel != "" {
			u.Set("channel", v.Channel)
		}
		u.Set("before", strconv.FormatInt(es[len(es)-1].ID, 10))
		v.Older = "/history?" + u.Encode()
	}
	return s.render(w, r, http.StatusOK, "history", "History", "history", v)
}
