// Package web serves allot's web page for operations managers at /: the
// overview of what every channel shows, the four use cases as guided
// forms with a preview, readiness, channels, products, files and history.
// Pages are rendered on the server with html/template, which escapes
// everything they show; the templates, the stylesheet and the little
// JavaScript are embedded, so nothing is fetched from elsewhere. Every
// change goes through package service, like the JSON API's.
package web

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/csvio"
	"github.com/allot/allot/service"
)

//go:embed templates/*.html static
var files embed.FS

// Sync is what the page asks of the synchronisation; app's worker
// provides it, so that this package does not depend on app.
type Sync interface {
	// Resync pushes every listing of a channel again.
	Resync(ctx context.Context, merchant int64, channel string) error
	// CheckDrift reads a channel back and mends what differs.
	CheckDrift(ctx context.Context, merchant int64, channel string) (int, error)
	// Link reads a channel's catalogue and links its listings.
	Link(ctx context.Context, merchant int64, channel string) (service.LinkResult, error)
}

// Server serves the web page.
type Server struct {
	svc      *service.Service
	sync     Sync
	log      *slog.Logger
	mux      *http.ServeMux
	pages    map[string]*template.Template
	sessions *sessions
	cross    *http.CrossOriginProtection
	static   http.Handler
}

// PageSize is how many products a page of the overview shows.
const PageSize = 50

// New returns the web page's server. sync may be nil: the channel
// buttons then say that synchronisation is not running.
func New(svc *service.Service, sync Sync, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{svc: svc, sync: sync, log: log, mux: http.NewServeMux(), pages: parsePages(),
		sessions: newSessions(), cross: http.NewCrossOriginProtection()}
	static, _ := fs.Sub(files, "static")
	s.static = http.StripPrefix("/static/", http.FileServerFS(static))
	s.routes()
	return s
}

func (s *Server) routes() {
	s.mux.HandleFunc("GET /static/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		s.static.ServeHTTP(w, r)
	})
	s.mux.HandleFunc("GET /signin", s.signInForm)
	s.mux.HandleFunc("POST /signin", s.signIn)
	s.mux.HandleFunc("POST /signout", s.signOut)

	s.page("GET /{$}", s.overview)
	s.page("GET /allocations", s.allocations)
	s.page("GET /allocations/new/{kind}", s.newAllocation)
	s.page("POST /allocations/new/{kind}", s.postAllocation)
	s.page("GET /allocations/{id}", s.allocation)
	s.page("POST /allocations/{id}", s.editAllocation)
	s.page("GET /inbounds/new", s.newInbound)
	s.page("POST /inbounds/new", s.postInbound)
	s.page("POST /inbounds/{id}/receive", s.receiveInbound)
	s.page("GET /readiness", s.readiness)
	s.page("POST /readiness/link", s.linkListing)
	s.page("POST /readiness/reprocess", s.reprocessOrder)
	s.page("GET /products/{sku}", s.product)
	s.page("GET /channels", s.channels)
	s.page("GET /channels/{code}", s.channel)
	s.page("POST /channels/{code}/{action}", s.channelAction)
	s.page("GET /files", s.files)
	s.page("GET /files/{file}", s.download)
	s.page("POST /files/{kind}", s.upload)
	s.page("GET /history", s.history)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.notFound(w, r, "There is no page at this address.")
	})
}

// ServeHTTP serves the page, with headers that keep it from being framed,
// sniffed or made to run scripts from elsewhere.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	s.mux.ServeHTTP(w, r)
}

// request is what a page handler gets: the request, who is signed in and
// their session.
type request struct {
	*http.Request
	who  service.Actor
	sess *session
}

type pageHandler func(w http.ResponseWriter, r *request) error

// page registers a handler that needs a signed-in user. Without a session,
// a reading request is sent to the sign-in form and back; a change is
// refused. Every change must carry the session's CSRF token and come from
// this site.
func (s *Server) page(pattern string, h pageHandler) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		sess, ok := s.sessions.get(w, r, s.svc)
		if !ok {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			s.forbidden(w, r, "You are not signed in, or your session has ended. Sign in and try again.")
			return
		}
		if r.Method == http.MethodPost {
			if err := s.cross.Check(r); err != nil {
				s.forbidden(w, r, "This form was sent from another site, so it was refused. Nothing was changed.")
				return
			}
			// Forms are small; an upload may be as large as a CSV file may.
			if !strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
				r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
			} else {
				r.Body = http.MaxBytesReader(w, r.Body, csvio.MaxBytes+1<<20)
				var tooLarge *http.MaxBytesError
				if err := r.ParseMultipartForm(32 << 20); errors.As(err, &tooLarge) {
					s.plain(w, r, http.StatusRequestEntityTooLarge,
						fmt.Sprintf("The file is larger than %d MiB, the most a file may hold. Nothing was changed.", csvio.MaxBytes>>20))
					return
				}
			}
			if !sess.validCSRF(r) {
				s.forbidden(w, r, "This form has expired or was not sent from allot's own page, so it was refused. "+
					"Nothing was changed. Go back, reload the page and send it again.")
				return
			}
		}
		req := &request{Request: r, who: sess.who, sess: sess}
		if err := h(w, req); err != nil {
			s.fail(w, req, err)
		}
	})
}

// view is what every page template gets.
type view struct {
	Title string
	Nav   string // the navigation item to mark current
	CSRF  string
	Actor string
	Flash *flash
	Data  any
}

type flash struct {
	Error bool
	Text  string
}

// render writes a page; it renders into a buffer first so that a template
// error becomes a clean 500 rather than half a page.
func (s *Server) render(w http.ResponseWriter, r *request, status int, name, title, nav string, data any) error {
	t, ok := s.pages[name]
	if !ok {
		return errors.New("web: no template " + name)
	}
	v := view{Title: title, Nav: nav, Data: data}
	if r != nil && r.sess != nil {
		v.CSRF, v.Actor = r.sess.csrf, r.sess.who.Name
		v.Flash = r.sess.takeFlash()
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// done sends the browser on after a change, with a message for the next
// page: the usual post, redirect, get.
func (s *Server) done(w http.ResponseWriter, r *request, to, msg string) error {
	r.sess.setFlash(false, msg)
	http.Redirect(w, r.Request, to, http.StatusSeeOther)
	return nil
}

// failed sends the browser back after a change that was refused, with the
// reason, after what, if given.
func (s *Server) failed(w http.ResponseWriter, r *request, to, what string, err error) error {
	if allot.ErrorCode(err) == allot.Internal {
		return err
	}
	msg := describe(err)
	if what != "" {
		msg = what + ": " + msg
	}
	r.sess.setFlash(true, msg)
	http.Redirect(w, r.Request, to, http.StatusSeeOther)
	return nil
}

// errorPage is the data of the error template.
type errorPage struct {
	Status  int
	Message string
}

// fail shows an error that no form can show next to a field: not found,
// or an internal error, which is logged and not described.
func (s *Server) fail(w http.ResponseWriter, r *request, err error) {
	code := allot.ErrorCode(err)
	status, msg := http.StatusInternalServerError, "Something went wrong on our side; it was logged. Try again in a moment."
	switch {
	case errors.Is(err, context.Canceled):
		return
	case code == allot.NotFound:
		status, msg = http.StatusNotFound, allot.ErrorMessage(err)
	case code != allot.Internal:
		status, msg = http.StatusBadRequest, describe(err)
	default:
		s.log.Error("web page failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if err := s.render(w, r, status, "error", "Error", "", errorPage{Status: status, Message: msg}); err != nil {
		s.log.Error("web error page", "err", err)
	}
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request, msg string) {
	s.plain(w, r, http.StatusNotFound, msg)
}

func (s *Server) forbidden(w http.ResponseWriter, r *http.Request, msg string) {
	s.plain(w, r, http.StatusForbidden, msg)
}

// plain shows an error page outside a session's pages.
func (s *Server) plain(w http.ResponseWriter, r *http.Request, status int, msg string) {
	var req *request
	if sess, ok := s.sessions.peek(r); ok {
		req = &request{Request: r, who: sess.who, sess: sess}
	}
	if err := s.render(w, req, status, "error", "Error", "", errorPage{Status: status, Message: msg}); err != nil {
		s.log.Error("web error page", "err", err)
	}
}

// describe turns an error into a sentence that names the field at fault in
// words an operations manager uses.
func describe(err error) string {
	var e *allot.Error
	if !errors.As(err, &e) {
		return "internal error"
	}
	msg := e.Message
	if len(e.Shortfall) > 0 {
		var parts []string
		for _, s := range e.Shortfall {
			parts = append(parts, s.SKU+": "+itoa(s.Requested)+" asked, "+itoa(s.Sellable)+" sellable")
		}
		msg += " (" + strings.Join(parts, "; ") + ")"
	}
	if e.Field == "" {
		return msg
	}
	return fieldLabel(e.Field) + ": " + msg
}

// localPath returns next if it is a path on this site, else "/": the
// sign-in form must not send anyone elsewhere.
func localPath(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Host != "" || u.Scheme != "" {
		return "/"
	}
	return path.Clean(u.Path) + func() string {
		if u.RawQuery != "" {
			return "?" + u.RawQuery
		}
		return ""
	}()
}

// parseTime reads a datetime-local input, in UTC; empty is nil.
func parseTime(field, v string) (*time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02", time.RFC3339} {
		if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			return &t, nil
		}
	}
	return nil, allot.FieldError(field, "must be a date and time like 2026-12-24T18:00, not %q", v)
}
