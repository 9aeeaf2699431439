// Package httpapi serves allot's JSON API under /v1 (spec section 8): one
// route table on the standard ServeMux, bearer tokens per merchant, one
// map from error codes to statuses, and the OpenAPI document that the
// tests check against the routes.
package httpapi

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/allot/allot"
	"github.com/allot/allot/service"
)

// Codes beside the spec's, for limits.
const (
	TooLarge = "too_large" // 413: a body or file over the limit
)

// statuses maps each error code to its one HTTP status.
var statuses = map[string]int{
	allot.Invalid:           http.StatusBadRequest,
	allot.Unauthorized:      http.StatusUnauthorized,
	allot.NotFound:          http.StatusNotFound,
	allot.Conflict:          http.StatusConflict,
	allot.InsufficientStock: http.StatusConflict,
	TooLarge:                http.StatusRequestEntityTooLarge,
	allot.TooMany:           http.StatusTooManyRequests,
	allot.Internal:          http.StatusInternalServerError,
}

//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the OpenAPI document of the API.
func OpenAPI() []byte { return openAPI }

// Sync is what the API asks of the synchronisation.
type Sync interface {
	// Resync pushes every listing of a channel again.
	Resync(ctx context.Context, merchant int64, channel string) error
	// CheckDrift reads a channel back and mends what differs.
	CheckDrift(ctx context.Context, merchant int64, channel string) (int, error)
	// Link reads a channel's catalogue and links its listings.
	Link(ctx context.Context, merchant int64, channel string) (service.LinkResult, error)
}

// Server serves the JSON API.
type Server struct {
	svc *service.Service
	log *slog.Logger
	mux *http.ServeMux
	// Sync, when set, serves resync and drift checks.
	Sync Sync

	mu    sync.Mutex
	cache map[string]cachedActor // token hash → who, for a short while
	limit *limiter               // requests per token; nil: no limit
}

type cachedActor struct {
	who     service.Actor
	expires time.Time
}

// authCacheTTL is how long a checked token is trusted without asking the
// database again.
const authCacheTTL = 30 * time.Second

// New returns a Server for svc.
func New(svc *service.Service, log *slog.Logger) *Server {
	s := &Server{svc: svc, log: log, mux: http.NewServeMux(), cache: map[string]cachedActor{}}
	s.routes()
	return s
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// handler serves one authenticated request; an error is written as the
// error shape.
type handler func(w http.ResponseWriter, r *http.Request, who service.Actor) error

// Routes lists the method and pattern of every route, for the test that
// checks the OpenAPI document against them.
var Routes []string

func (s *Server) handle(pattern string, h handler) {
	Routes = appendOnce(Routes, pattern)
	var names []string
	for _, m := range wildcard.FindAllStringSubmatch(pattern, -1) {
		names = append(names, m[1])
	}
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		who, key, err := s.authenticate(r)
		if err == nil {
			err = s.allow(w, key)
		}
		if err == nil {
			err = checkParams(r, names)
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := h(w, r, who); err != nil {
			s.writeError(w, r, err)
		}
	})
}

var wildcard = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)(?:\.\.\.)?\}`)

// checkParams refuses path values that no code, SKU or id allot knows can
// hold: invalid UTF-8 or control characters (PostgreSQL cannot even
// compare a string with a NUL in it). Every route gets the same clear 400
// naming the value, rather than each lookup failing on its own. The query
// helpers check query parameters the same way.
func checkParams(r *http.Request, names []string) error {
	for _, name := range names {
		if err := checkParam(name, r.PathValue(name)); err != nil {
			return err
		}
	}
	return nil
}

// CheckHeader refuses a header value that allot keeps, such as a webhook's
// delivery id, when it is longer than max bytes, not UTF-8 or holds a
// control character: an error naming the header.
func CheckHeader(name, v string, max int) error {
	if len(v) > max {
		return allot.FieldError(name, "is longer than %d characters", max)
	}
	return checkParam(name, v)
}

func checkParam(field, v string) error {
	if !utf8.ValidString(v) {
		return allot.FieldError(field, "is not valid UTF-8 (%q)", v)
	}
	for _, c := range v {
		if unicode.IsControl(c) {
			return allot.FieldError(field, "holds a control character (%q)", c)
		}
	}
	return nil
}

func appendOnce(list []string, v string) []string {
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}

// authenticate checks the bearer token; it returns who it speaks for and
// the token's hash, which keys its rate limit.
func (s *Server) authenticate(r *http.Request) (service.Actor, string, error) {
	h := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || token == "" {
		return service.Actor{}, "", allot.Errorf(allot.Unauthorized, "send Authorization: Bearer <token>")
	}
	key := service.HashToken(token)
	who, err := s.authenticateHashed(r.Context(), token, key)
	return who, key, err
}

// Authenticate returns who a token speaks for, from a short cache or the
// database.
func (s *Server) Authenticate(ctx context.Context, token string) (service.Actor, error) {
	return s.authenticateHashed(ctx, token, service.HashToken(token))
}

// authenticateHashed is Authenticate for a token whose hash, the cache's
// key, is known.
func (s *Server) authenticateHashed(ctx context.Context, token, key string) (service.Actor, error) {
	now := time.Now()
	s.mu.Lock()
	c, ok := s.cache[key]
	s.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.who, nil
	}
	who, err := s.svc.Authenticate(ctx, token)
	if err != nil {
		return who, err
	}
	s.mu.Lock()
	if len(s.cache) > 10000 {
		s.cache = map[string]cachedActor{}
	}
	s.cache[key] = cachedActor{who: who, expires: now.Add(authCacheTTL)}
	s.mu.Unlock()
	return who, nil
}

// ErrorBody is the JSON shape of every error.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of ErrorBody.
type ErrorDetail struct {
	Code      string            `json:"code"`
	Message   string            `json:"message"`
	Field     string            `json:"field,omitempty"`
	Shortfall []allot.Shortfall `json:"shortfall,omitempty"`
}

// Describe returns the error shape and status for err. Internal errors are
// not described to the caller.
func Describe(err error) (int, ErrorBody) {
	var e *allot.Error
	if errors.As(err, &e) {
		status, ok := statuses[e.Code]
		if !ok {
			status = http.StatusInternalServerError
		}
		return status, ErrorBody{ErrorDetail{Code: e.Code, Message: e.Message, Field: e.Field, Shortfall: e.Shortfall}}
	}
	if errors.Is(err, context.Canceled) {
		return 499, ErrorBody{ErrorDetail{Code: allot.Internal, Message: "request cancelled"}}
	}
	return http.StatusInternalServerError, ErrorBody{ErrorDetail{Code: allot.Internal, Message: "internal error"}}
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, body := Describe(err)
	if status >= 500 {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	enc.Encode(v)
}

// created answers 201 for something new and 200 for something updated.
func created(isNew bool) int {
	if isNew {
		return http.StatusCreated
	}
	return http.StatusOK
}

// pathID reads a numeric id from the path; NotFound if it is not one,
// since no such thing exists.
func pathID(r *http.Request, name string) (int64, error) {
	v := r.PathValue(name)
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, allot.Errorf(allot.NotFound, "%s %q not found", name, v)
	}
	return id, nil
}

// query reads query parameters, naming the one at fault.
type query struct {
	r   *http.Request
	err error
}

func (q *query) str(name string, max int) string {
	v := q.r.URL.Query().Get(name)
	if len(v) > max && q.err == nil {
		q.err = allot.FieldError(name, "is longer than %d characters", max)
	}
	if err := checkParam(name, v); err != nil && q.err == nil {
		q.err = err
	}
	return v
}

func (q *query) int(name string, def, min, max int) int {
	v := q.r.URL.Query().Get(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if (err != nil || n < min || n > max) && q.err == nil {
		q.err = allot.FieldError(name, "must be a whole number from %d to %d, not %q", min, max, v)
	}
	return n
}

func (q *query) bool(name string) bool {
	v := q.r.URL.Query().Get(name)
	switch v {
	case "", "false", "0":
		return false
	case "true", "1":
		return true
	}
	if q.err == nil {
		q.err = allot.FieldError(name, "must be true or false, not %q", v)
	}
	return false
}

func (q *query) time(name string) time.Time {
	v := q.r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil && q.err == nil {
		q.err = allot.FieldError(name, "must be a time like 2026-11-26T09:00:00Z (RFC 3339), not %q", v)
	}
	return t
}

// WriteJSON writes v as the API does.
func WriteJSON(w http.ResponseWriter, status int, v any) { writeJSON(w, status, v) }

// WriteError writes err in the API's error shape, logging internal errors.
func WriteError(w http.ResponseWriter, log *slog.Logger, err error) {
	status, body := Describe(err)
	if status >= 500 {
		log.Error("request failed", "err", err)
	}
	writeJSON(w, status, body)
}
