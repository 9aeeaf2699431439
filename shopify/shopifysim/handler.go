package shopifysim

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator"
)

// Fault kinds for Fail.
const (
	// FaultTooManyRequests answers 429 with Retry-After, as Shopify's
	// request-based limiter does.
	FaultTooManyRequests = "429"
	// FaultServerError answers 500 with Shopify's internal-error body.
	FaultServerError = "500"
	// FaultTimeout never answers: the request hangs until the client gives
	// up (or the store is closed).
	FaultTimeout = "timeout"
	// FaultClose closes the TCP connection without an answer.
	FaultClose = "close"
)

// Fault makes API calls fail, for testing a client's retries.
type Fault struct {
	// Kind is one of the Fault* constants.
	Kind string
	// Count is how many calls fail. For, if set instead, makes every call
	// fail until that much time has passed on the store's clock. Both zero
	// means one call.
	Count int
	For   time.Duration
	// AfterApply runs the call first and then fails the answer, the case
	// where a mutation took effect but the client never heard: only an
	// idempotent retry is then safe.
	AfterApply bool
	// RetryAfter is the Retry-After of a 429; zero means 2 seconds.
	RetryAfter time.Duration
}

type faultState struct {
	Fault
	remaining int
	until     time.Time
}

// Fail queues a fault; faults apply one after the other, each to the next
// calls of the GraphQL endpoint.
func (s *Store) Fail(f Fault) error {
	switch f.Kind {
	case FaultTooManyRequests, FaultServerError, FaultTimeout, FaultClose:
	default:
		return fmt.Errorf("shopifysim: unknown fault kind %q", f.Kind)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &faultState{Fault: f}
	if f.For > 0 {
		st.until = s.clock().Add(f.For)
	} else {
		st.remaining = max(f.Count, 1)
	}
	s.faults = append(s.faults, st)
	return nil
}

// takeFault returns the fault for this call, if any. Called with s.mu held.
func (s *Store) takeFault() (Fault, bool) {
	now := s.clock()
	for len(s.faults) > 0 {
		f := s.faults[0]
		if f.remaining > 0 {
			f.remaining--
			if f.remaining == 0 {
				s.faults = s.faults[1:]
			}
			return f.Fault, true
		}
		if !f.until.IsZero() && now.Before(f.until) {
			return f.Fault, true
		}
		s.faults = s.faults[1:]
	}
	return Fault{}, false
}

var pathPattern = regexp.MustCompile(`^/admin/api/([^/]+)/graphql\.json$`)

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// ServeHTTP serves POST /admin/api/{version}/graphql.json.
func (s *Store) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m := pathPattern.FindStringSubmatch(r.URL.Path)
	if m == nil || m[1] != APIVersion {
		writeJSON(w, http.StatusNotFound, map[string]string{"errors": "Not Found"})
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"errors": "Method Not Allowed"})
		return
	}
	if s.opts.AccessToken != "" && r.Header.Get("X-Shopify-Access-Token") != s.opts.AccessToken {
		writeJSON(w, http.StatusUnauthorized, map[string]string{
			"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)",
		})
		return
	}

	s.mu.Lock()
	s.stats.Calls++
	s.requestID++
	reqID := fmt.Sprintf("%08x-%04x-4000-8000-%012x", uint32(s.shopID), uint16(s.requestID>>48), s.requestID&0xffffffffffff)
	fault, faulted := s.takeFault()
	if faulted {
		s.stats.FaultedCalls++
	}
	s.mu.Unlock()
	w.Header().Set("X-Request-Id", reqID)

	if faulted && !fault.AfterApply {
		s.answerFault(w, r, fault, reqID)
		return
	}
	status, body := s.handleGraphQL(r)
	if faulted {
		s.answerFault(w, r, fault, reqID)
		return
	}
	writeJSON(w, status, body)
}

func (s *Store) answerFault(w http.ResponseWriter, r *http.Request, f Fault, reqID string) {
	switch f.Kind {
	case FaultTooManyRequests:
		ra := f.RetryAfter
		if ra <= 0 {
			ra = 2 * time.Second
		}
		w.Header().Set("Retry-After", strconv.FormatFloat(ra.Seconds(), 'f', 1, 64))
		writeJSON(w, http.StatusTooManyRequests, map[string]string{
			"errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service.",
		})
	case FaultServerError:
		writeJSON(w, http.StatusInternalServerError, map[string]any{"errors": []GraphQLError{{
			Message:    "Internal error. Looks like something went wrong on our end.\nRequest ID: " + reqID + " (include this in support requests).",
			Extensions: map[string]any{"code": "INTERNAL_SERVER_ERROR", "requestId": reqID},
		}}})
	case FaultTimeout:
		select {
		case <-r.Context().Done():
		case <-s.closed:
		}
		// Without an answer the server aborts the connection.
		panic(http.ErrAbortHandler)
	case FaultClose:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
}

type graphqlBody struct {
	Query         string         `json:"query"`
	Variables     map[string]any `json:"variables"`
	OperationName string         `json:"operationName"`
}

// response is a GraphQL answer. Data is raw so that an explicit null can
// be told from no data at all.
type response struct {
	Errors     []GraphQLError  `json:"errors,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`
	Extensions *extensions     `json:"extensions,omitempty"`
}

type extensions struct {
	Cost costExtension `json:"cost"`
}

type costExtension struct {
	RequestedQueryCost int            `json:"requestedQueryCost"`
	ActualQueryCost    *int           `json:"actualQueryCost"`
	ThrottleStatus     throttleStatus `json:"throttleStatus"`
}

// throttleStatus uses json.Number so the figures read as Shopify writes
// them: maximumAvailable 2000.0, currentlyAvailable a whole number,
// restoreRate 100.0.
type throttleStatus struct {
	MaximumAvailable   json.Number `json:"maximumAvailable"`
	CurrentlyAvailable json.Number `json:"currentlyAvailable"`
	RestoreRate        json.Number `json:"restoreRate"`
}

func (s *Store) throttleStatus() throttleStatus {
	return throttleStatus{
		MaximumAvailable:   json.Number(strconv.FormatFloat(s.bucket.max, 'f', 1, 64)),
		CurrentlyAvailable: json.Number(strconv.FormatInt(int64(math.Floor(s.bucket.available)), 10)),
		RestoreRate:        json.Number(strconv.FormatFloat(s.bucket.rate, 'f', 1, 64)),
	}
}

var nullData = json.RawMessage("null")

// handleGraphQL reads, validates, costs and runs one request.
func (s *Store) handleGraphQL(r *http.Request) (int, any) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	if err != nil {
		return http.StatusBadRequest, map[string]any{"errors": map[string]string{"query": "Required parameter missing or invalid"}}
	}
	var body graphqlBody
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/graphql" {
		body.Query = string(raw)
	} else if err := json.Unmarshal(raw, &body); err != nil || strings.TrimSpace(body.Query) == "" {
		return http.StatusBadRequest, map[string]any{"errors": map[string]string{"query": "Required parameter missing or invalid"}}
	}

	doc, errs := parseAndValidate(body.Query)
	if len(errs) > 0 {
		return http.StatusOK, response{Errors: errs}
	}
	op, gerr := pickOperation(doc, body.OperationName)
	if gerr != nil {
		return http.StatusOK, response{Errors: []GraphQLError{*gerr}}
	}
	vars := body.Variables
	if vars == nil {
		vars = map[string]any{}
	}
	if _, err := validator.VariableValues(schema, op, vars); err != nil {
		return http.StatusOK, response{Errors: []GraphQLError{variableError(op, body.Variables, err)}}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	req := &request{s: s, doc: doc, op: op, vars: vars, now: s.clock()}
	rootName := "QueryRoot"
	if op.Operation == ast.Mutation {
		rootName = "Mutation"
	}
	root := schema.Types[rootName]
	requested := req.staticCost(op.SelectionSet, root, nil)
	if len(req.errs) > 0 {
		// An oversized input is refused before execution starts, with no
		// data at all; a bad page size is an execution error, data null.
		for _, e := range req.errs {
			if e.Extensions["code"] == "MAX_INPUT_SIZE_EXCEEDED" {
				return http.StatusOK, response{Errors: req.errs}
			}
		}
		return http.StatusOK, response{Errors: req.errs, Data: nullData}
	}
	if requested > MaxQueryCost {
		return http.StatusOK, response{Errors: []GraphQLError{{
			Message:    fmt.Sprintf("Query cost is %d, which exceeds the single query max cost limit (%d).", requested, MaxQueryCost),
			Extensions: map[string]any{"code": "MAX_COST_EXCEEDED", "cost": requested, "maxCost": MaxQueryCost},
		}}}
	}
	s.bucket.refill(req.now)
	if float64(requested) > s.bucket.available {
		s.stats.ThrottledCalls++
		return http.StatusOK, response{
			Errors: []GraphQLError{{
				Message:    "Throttled",
				Extensions: map[string]any{"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"},
			}},
			Extensions: &extensions{Cost: costExtension{RequestedQueryCost: requested, ThrottleStatus: s.throttleStatus()}},
		}
	}
	s.bucket.available -= float64(requested)
	if op.Operation == ast.Mutation {
		s.stats.MutationCalls++
	}
	data := req.execSet(op.SelectionSet, root, nil, nil)
	actual := min(req.actual, requested)
	s.bucket.available = math.Min(s.bucket.max, s.bucket.available+float64(requested-actual))
	dataJSON, _ := json.Marshal(data)
	return http.StatusOK, response{
		Errors:     req.errs,
		Data:       dataJSON,
		Extensions: &extensions{Cost: costExtension{RequestedQueryCost: requested, ActualQueryCost: &actual, ThrottleStatus: s.throttleStatus()}},
	}
}

func pickOperation(doc *ast.QueryDocument, name string) (*ast.OperationDefinition, *GraphQLError) {
	if name != "" {
		if op := doc.Operations.ForName(name); op != nil {
			return op, nil
		}
		return nil, &GraphQLError{Message: fmt.Sprintf("No operation named \"%s\"", name)}
	}
	if len(doc.Operations) == 1 {
		return doc.Operations[0], nil
	}
	return nil, &GraphQLError{Message: "An operation name is required"}
}

// variableError puts gqlparser's variable coercion error into the shape
// Shopify's server gives a bad variable.
func variableError(op *ast.OperationDefinition, raw map[string]any, err error) GraphQLError {
	ge, ok := err.(*gqlerror.Error)
	if !ok {
		return GraphQLError{Message: err.Error()}
	}
	var name string
	var rest []any
	if len(ge.Path) >= 2 {
		if n, ok := ge.Path[1].(ast.PathName); ok {
			name = string(n)
		}
		for _, p := range ge.Path[2:] {
			switch x := p.(type) {
			case ast.PathName:
				rest = append(rest, string(x))
			case ast.PathIndex:
				rest = append(rest, int(x))
			}
		}
	}
	typ := ""
	if vd := op.VariableDefinitions.ForName(name); vd != nil {
		typ = vd.Type.String()
	}
	explanation := ge.Message
	switch ge.Message {
	case "must be defined", "cannot be null":
		explanation = "Expected value to not be null"
	case "unknown field":
		explanation = "Field is not defined on the input type"
	}
	msg := fmt.Sprintf("Variable $%s of type %s was provided invalid value", name, typ)
	if len(rest) > 0 {
		parts := make([]string, len(rest))
		for i, p := range rest {
			parts[i] = fmt.Sprint(p)
		}
		msg += " for " + strings.Join(parts, ".")
	}
	msg += " (" + explanation + ")"
	if rest == nil {
		rest = []any{}
	}
	var locs []Location
	if vd := op.VariableDefinitions.ForName(name); vd != nil && vd.Position != nil {
		locs = []Location{{Line: vd.Position.Line, Column: vd.Position.Column}}
	}
	return GraphQLError{
		Message:   msg,
		Locations: locs,
		Extensions: map[string]any{
			"value":    raw[name],
			"problems": []map[string]any{{"path": rest, "explanation": explanation}},
		},
	}
}
