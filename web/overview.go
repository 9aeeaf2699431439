package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/allot/allot/service"
)

// overviewView is the data of the overview page.
type overviewView struct {
	Query    string
	Channel  string // "" for every channel
	All      []string
	Channels []string // the columns shown
	Rows     []service.OverviewRow
	Total    int
	Page     int
	Pages    int
	From, To int
	Computed int
	Prev     string
	Next     string
}

// Cell returns a row's cell for a channel.
func (v overviewView) Cell(row service.OverviewRow, channel string) service.OverviewCell {
	return row.Cells[channel]
}

func (s *Server) overview(w http.ResponseWriter, r *request) error {
	q := r.URL.Query()
	v := overviewView{Query: strings.TrimSpace(q.Get("q")), Channel: q.Get("channel"), Page: 1}
	if p, err := strconv.Atoi(q.Get("page")); err == nil && p > 1 {
		v.Page = p
	}
	ov, err := s.svc.Overview(r.Context(), r.who, service.OverviewParams{Query: v.Query, Offset: (v.Page - 1) * PageSize, Limit: PageSize})
	if err != nil {
		return err
	}
	v.All, v.Rows, v.Total, v.Computed = ov.Channels, ov.Rows, ov.Total, ov.Computed
	v.Channels = ov.Channels
	if v.Channel != "" {
		if !slices.Contains(ov.Channels, v.Channel) {
			v.Channel = ""
		} else {
			v.Channels = []string{v.Channel}
		}
	}
	v.Pages = max(1, (v.Total+PageSize-1)/PageSize)
	if len(v.Rows) > 0 {
		v.From = (v.Page-1)*PageSize + 1
		v.To = v.From + len(v.Rows) - 1
	}
	link := func(page int) string {
		u := url.Values{}
		if v.Query != "" {
			u.Set("q", v.Query)
		}
		if v.Channel != "" {
			u.Set("channel", v.Channel)
		}
		if page > 1 {
			u.Set("page", strconv.Itoa(page))
		}
		if len(u) == 0 {
			return "/"
		}
		return "/?" + u.Encode()
	}
	if v.Page > 1 {
		v.Prev = link(min(v.Page-1, v.Pages))
	}
	if v.Page < v.Pages {
		v.Next = link(v.Page + 1)
	}
	return s.render(w, r, http.StatusOK, "overview", "Overview", "overview", v)
}
