package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/allot/allot"
	"github.com/allot/allot/allottest"
	"github.com/allot/allot/engine"
	"github.com/allot/allot/httpapi"
	"github.com/allot/allot/service"
	"github.com/allot/allot/shopify/shopifysim"
)

// The OpenAPI document (httpapi/openapi.json) is checked three ways: its
// operations are exactly the server's routes; its schemas have exactly the
// JSON fields of the Go types they describe; and a realistic conversation
// with a real server, every route and the usual errors, has each request
// and each answer validated against it.

// loadOpenAPI parses and validates the embedded document.
func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(httpapi.OpenAPI())
	if err != nil {
		t.Fatalf("openapi.json does not load: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI document: %v", err)
	}
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi.json declares OpenAPI %q, want 3.0.3", doc.OpenAPI)
	}
	return doc
}

// routeKey turns a ServeMux pattern ("GET /v1/items/{id}") into the form of
// the document's operations: {name...} becomes {name} and {$} goes.
func routeKey(pattern string) string {
	pattern = strings.ReplaceAll(pattern, "...}", "}")
	return strings.ReplaceAll(pattern, "{$}", "")
}

func TestOpenAPIRoutesMatchDocument(t *testing.T) {
	allottest.Server(t, allottest.Options{}) // building the server fills httpapi.Routes
	doc := loadOpenAPI(t)

	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	implemented := map[string]bool{}
	for _, r := range httpapi.Routes {
		implemented[routeKey(r)] = true
	}
	if len(implemented) == 0 {
		t.Fatal("httpapi.Routes is empty: the server registered no route")
	}
	var undocumented, unimplemented []string
	for r := range implemented {
		if !documented[r] {
			undocumented = append(undocumented, r)
		}
	}
	for r := range documented {
		if !implemented[r] {
			unimplemented = append(unimplemented, r)
		}
	}
	slices.Sort(undocumented)
	slices.Sort(unimplemented)
	if len(undocumented) > 0 {
		t.Errorf("%d routes of the server are missing from openapi.json:\n  %s", len(undocumented), strings.Join(undocumented, "\n  "))
	}
	if len(unimplemented) > 0 {
		t.Errorf("%d operations of openapi.json are not routes of the server:\n  %s", len(unimplemented), strings.Join(unimplemented, "\n  "))
	}

	// Conventions: a summary and a unique operationId each; the bearer
	// token everywhere but on the document itself, with 401, 429 (the
	// token's rate limit) and 500 described; a JSON body refuses unknown fields, like the server.
	ids := map[string]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			key := method + " " + path
			if op.Summary == "" {
				t.Errorf("%s: no summary", key)
			}
			if other, dup := ids[op.OperationID]; dup || op.OperationID == "" {
				t.Errorf("%s: operationId %q is empty or also used by %s", key, op.OperationID, other)
			}
			ids[op.OperationID] = key
			if key == "GET /v1/openapi.json" {
				if op.Security == nil || len(*op.Security) != 0 {
					t.Errorf("%s must need no token (security: [])", key)
				}
				continue
			}
			if op.Security != nil {
				t.Errorf("%s overrides the document's bearer security", key)
			}
			for _, status := range []int{401, 429, 500} {
				if op.Responses.Status(status) == nil {
					t.Errorf("%s does not describe its %d answer", key, status)
				}
			}
			if op.RequestBody != nil {
				if mt := op.RequestBody.Value.Content.Get("application/json"); mt != nil {
					ap := mt.Schema.Value.AdditionalProperties
					if ap.Has == nil || *ap.Has {
						t.Errorf("%s: its JSON body must say additionalProperties: false", key)
					}
				}
			}
		}
	}
	security := doc.Security
	if len(security) != 1 || security[0]["bearer"] == nil {
		t.Errorf("the document's security is %v, want [{bearer: []}]", security)
	}
	scheme := doc.Components.SecuritySchemes["bearer"]
	if scheme == nil || scheme.Value.Type != "http" || scheme.Value.Scheme != "bearer" {
		t.Errorf("components.securitySchemes.bearer must be an http bearer scheme")
	}
}

// goSchemas pairs the document's schemas with the Go types they describe.
// skip lists the Go fields a schema leaves out on purpose: path values,
// and fields a request of that kind may not send.
var goSchemas = []struct {
	schema   string
	typ      reflect.Type
	response bool
	skip     []string
}{
	// Answers.
	{"Error", reflect.TypeFor[httpapi.ErrorBody](), true, nil},
	{"ErrorDetail", reflect.TypeFor[httpapi.ErrorDetail](), true, nil},
	{"Shortfall", reflect.TypeFor[allot.Shortfall](), true, nil},
	{"Product", reflect.TypeFor[allot.Product](), true, nil},
	{"Component", reflect.TypeFor[allot.Component](), false, nil},
	{"Warehouse", reflect.TypeFor[allot.Warehouse](), true, nil},
	{"Stock", reflect.TypeFor[allot.Stock](), true, nil},
	{"StockResult", reflect.TypeFor[service.StockResult](), true, nil},
	{"Line", reflect.TypeFor[allot.Line](), true, nil},
	{"Inbound", reflect.TypeFor[allot.Inbound](), true, nil},
	{"Channel", reflect.TypeFor[allot.Channel](), true, nil},
	{"ChannelRules", reflect.TypeFor[allot.ChannelRules](), true, nil},
	{"Listing", reflect.TypeFor[allot.Listing](), true, nil},
	{"Allocation", reflect.TypeFor[allot.Allocation](), true, nil},
	{"AllocationChannel", reflect.TypeFor[allot.AllocationChannel](), true, nil},
	{"AllocationLine", reflect.TypeFor[allot.AllocationLine](), true, nil},
	{"AllSKUs", reflect.TypeFor[allot.AllSKUs](), true, nil},
	{"Order", reflect.TypeFor[allot.Order](), true, nil},
	{"OrderLine", reflect.TypeFor[allot.OrderLine](), true, nil},
	{"Hold", reflect.TypeFor[service.Hold](), true, nil},
	{"Quantity", reflect.TypeFor[service.Quantity](), true, nil},
	{"SyncStatus", reflect.TypeFor[service.SyncStatus](), true, nil},
	{"Publication", reflect.TypeFor[service.Publication](), true, nil},
	{"LinkResult", reflect.TypeFor[service.LinkResult](), true, nil},
	{"Explanation", reflect.TypeFor[engine.Explanation](), true, nil},
	{"Term", reflect.TypeFor[engine.Term](), true, nil},
	{"Readiness", reflect.TypeFor[service.Readiness](), true, nil},
	{"Check", reflect.TypeFor[service.Check](), true, nil},
	{"Warning", reflect.TypeFor[service.Warning](), true, nil},
	{"HistoryEntry", reflect.TypeFor[allot.HistoryEntry](), true, nil},

	// Requests. The server decodes some bodies into small types of its
	// own with the same fields as these, less the path's.
	{"ProductRequest", reflect.TypeFor[allot.Product](), false, []string{"sku", "components"}},
	{"BundleRequest", reflect.TypeFor[allot.Product](), false, []string{"sku"}},
	{"WarehouseRequest", reflect.TypeFor[allot.Warehouse](), false, []string{"code"}},
	{"StockReportRequest", reflect.TypeFor[allot.StockReport](), false, []string{"warehouse", "sku"}},
	{"InboundRequest", reflect.TypeFor[allot.Inbound](), false, []string{"id", "received", "received_at"}},
	{"InboundLine", reflect.TypeFor[allot.Line](), false, []string{"listing"}},
	{"ChannelRequest", reflect.TypeFor[allot.Channel](), false, []string{"code", "rules"}},
	{"ListingRequest", reflect.TypeFor[service.ListingParams](), false, []string{"Channel", "ExternalID"}},
	{"RulesRequest", reflect.TypeFor[service.RulesPatch](), false, nil},
	{"AllocationRequest", reflect.TypeFor[service.AllocationParams](), false, nil},
	{"AllocationChannelRequest", reflect.TypeFor[allot.AllocationChannel](), false, nil},
	{"AllocationLineRequest", reflect.TypeFor[allot.Line](), false, []string{"listing"}},
	{"AllocationPatch", reflect.TypeFor[service.AllocationPatch](), false, nil},
	{"BufferRequest", reflect.TypeFor[service.BufferParams](), false, nil},
	{"StopRequest", reflect.TypeFor[service.StopParams](), false, nil},
	{"OrderRequest", reflect.TypeFor[service.OrderParams](), false, []string{"cancelled", "updated_at"}},
	{"ImportOrderRequest", reflect.TypeFor[service.OrderParams](), false, nil},
	{"OrderLineRequest", reflect.TypeFor[allot.Line](), false, nil},
	{"HoldRequest", reflect.TypeFor[service.HoldParams](), false, nil},
	{"ConfirmHoldRequest", reflect.TypeFor[service.ConfirmParams](), false, nil},
}

// goField is one field of a Go type as encoding/json sees it.
type goField struct {
	typ       reflect.Type
	omitempty bool
}

func jsonFields(t reflect.Type) map[string]goField {
	out := map[string]goField{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" && opts == "" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = goField{typ: f.Type, omitempty: slices.Contains(strings.Split(opts, ","), "omitempty")}
	}
	return out
}

var (
	timeType      = reflect.TypeFor[time.Time]()
	unmarshalType = reflect.TypeFor[json.Unmarshaler]()
)

// jsonType is the JSON Schema type of values of t, "" if t decodes itself.
func jsonType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		return "string"
	case reflect.PointerTo(t).Implements(unmarshalType):
		return ""
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int32, reflect.Int64:
		return "integer"
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	}
	return t.String()
}

// resolved follows a nullable wrapper ({nullable, allOf: [$ref]}) to the
// schema it wraps.
func resolved(s *openapi3.Schema) *openapi3.Schema {
	if s.Type.IsEmpty() && len(s.AllOf) == 1 {
		return s.AllOf[0].Value
	}
	return s
}

// checkType compares a Go type with a schema, array items included.
func checkType(t *testing.T, where string, typ reflect.Type, s *openapi3.Schema) {
	t.Helper()
	want := jsonType(typ)
	if want == "" {
		return
	}
	s = resolved(s)
	if !s.Type.Is(want) {
		t.Errorf("%s: the Go type %s is a JSON %s, the schema says %v", where, typ, want, s.Type.Slice())
		return
	}
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	if want == "array" && s.Items != nil {
		checkType(t, where+"[]", typ.Elem(), s.Items.Value)
	}
}

func TestOpenAPISchemasMatchGoTypes(t *testing.T) {
	doc := loadOpenAPI(t)
	for _, c := range goSchemas {
		ref := doc.Components.Schemas[c.schema]
		if ref == nil {
			t.Errorf("no schema %s in openapi.json", c.schema)
			continue
		}
		s := ref.Value
		fields := jsonFields(c.typ)
		for _, name := range c.skip {
			if _, ok := fields[name]; !ok {
				t.Errorf("%s: %s has no field %q to skip", c.schema, c.typ, name)
			}
			delete(fields, name)
		}
		for name, f := range fields {
			p := s.Properties[name]
			where := c.schema + "." + name
			if p == nil {
				t.Errorf("%s: the field %q of %s is not in the schema", c.schema, name, c.typ)
				continue
			}
			checkType(t, where, f.typ, p.Value)
			pointer := f.typ.Kind() == reflect.Pointer && jsonType(f.typ) != ""
			switch {
			case pointer && (!c.response || !f.omitempty) && !p.Value.Nullable:
				t.Errorf("%s: may be null (a pointer), but is not nullable", where)
			case c.response && p.Value.Nullable && (f.omitempty || !slices.Contains([]reflect.Kind{reflect.Pointer, reflect.Slice, reflect.Map}, f.typ.Kind())):
				t.Errorf("%s: is nullable, but %s is never encoded as null", where, c.typ)
			}
			if c.response && f.omitempty == slices.Contains(s.Required, name) {
				t.Errorf("%s: required is %v, but the field is omitempty: %v", where, !f.omitempty, f.omitempty)
			}
		}
		for name := range s.Properties {
			if _, ok := fields[name]; !ok {
				t.Errorf("%s: the property %q is not a JSON field of %s", c.schema, name, c.typ)
			}
		}
		if !c.response {
			if ap := s.AdditionalProperties.Has; ap == nil || *ap {
				t.Errorf("%s: a request schema must say additionalProperties: false", c.schema)
			}
		}
	}
}

// ---- the conversation

// apiCheck talks to a real server through a transport that validates every
// request and every answer against the document.
type apiCheck struct {
	t      *testing.T
	url    string
	http   *http.Client
	router routers.Router
	opts   *openapi3filter.Options

	answered map[string][]int // operation → statuses answered
	codes    map[string]bool  // error codes answered
	problems []string         // of the exchange in flight, reported by do
}

// refusedKey marks, in a request's context, a request that the document
// itself must refuse (the server refuses it too).
type refusedKey struct{}

func newAPICheck(t *testing.T, url string) *apiCheck {
	doc := loadOpenAPI(t)
	strict(doc)
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	c := &apiCheck{t: t, url: url, router: router, answered: map[string][]int{}, codes: map[string]bool{},
		opts: &openapi3filter.Options{AuthenticationFunc: bearer, MultiError: true, IncludeResponseStatus: true, SkipSettingDefaults: true}}
	c.opts.WithCustomSchemaErrorFunc(func(e *openapi3.SchemaError) string {
		return fmt.Sprintf("at /%s: %s", strings.Join(e.JSONPointer(), "/"), e.Reason)
	})
	c.http = &http.Client{Transport: c}
	return c
}

// strict forbids, for this test, the properties that an answer's schema
// does not list, so that a field the server sends without the document
// saying so fails the test.
func strict(doc *openapi3.T) {
	for _, ref := range doc.Components.Schemas {
		s := ref.Value
		if s.Type.Is("object") && len(s.Properties) > 0 && s.AdditionalProperties.Has == nil && s.AdditionalProperties.Schema == nil {
			s.AdditionalProperties.Has = openapi3.Ptr(false)
		}
	}
}

// bearer accepts the document's bearer scheme when a token is sent; the
// server decides whether it is a valid one.
func bearer(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if in.SecuritySchemeName != "bearer" || in.SecurityScheme.Type != "http" || in.SecurityScheme.Scheme != "bearer" {
		return fmt.Errorf("unexpected security scheme %q", in.SecuritySchemeName)
	}
	token, ok := strings.CutPrefix(in.RequestValidationInput.Request.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		return errors.New("no bearer token")
	}
	return nil
}

// RoundTrip validates req, sends it, and validates the answer. What does
// not match is kept in c.problems for do to report, at the test's line.
func (c *apiCheck) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	name := req.Method + " " + req.URL.RequestURI()

	// The request, on a copy, since validating reads it.
	vreq := req.Clone(req.Context())
	if body != nil {
		vreq.Body = io.NopCloser(bytes.NewReader(body))
	}
	route, params, err := c.router.FindRoute(vreq)
	if err != nil {
		c.problem("%s: no operation of the document: %v", name, err)
		return http.DefaultTransport.RoundTrip(req)
	}
	op := route.Method + " " + route.Path
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route, Options: c.opts}
	err = openapi3filter.ValidateRequest(req.Context(), in)
	refused, _ := req.Context().Value(refusedKey{}).(bool)
	switch {
	case refused && err == nil:
		c.problem("%s (%s): the document accepts a request the server refuses", name, op)
	case !refused && err != nil:
		c.problem("%s (%s): the request does not match the document: %v", name, op, err)
	}

	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(answer))

	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header, Options: c.opts}
	out.SetBodyBytes(answer)
	if err := openapi3filter.ValidateResponse(req.Context(), out); err != nil {
		c.problem("%s (%s) answered %d, which does not match the document: %v\n\tanswer: %.500s", name, op, resp.StatusCode, err, answer)
	}
	c.answered[op] = append(c.answered[op], resp.StatusCode)
	var e httpapi.ErrorBody
	if resp.StatusCode >= 400 && json.Unmarshal(answer, &e) == nil {
		c.codes[e.Error.Code] = true
	}
	return resp, nil
}

func (c *apiCheck) problem(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

// send sends a request with the test token; body is JSON, or a string sent
// as it is.
func (c *apiCheck) send(refused bool, method, path string, body any) (int, map[string]any) {
	c.t.Helper()
	req := c.request(method, path, body)
	if refused {
		req = req.WithContext(context.WithValue(req.Context(), refusedKey{}, true))
	}
	return c.do(req)
}

func (c *apiCheck) request(method, path string, body any) *http.Request {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.url+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+allottest.Token)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// exchange sends req through the validating transport and reports what
// did not match the document.
func (c *apiCheck) exchange(req *http.Request) (int, http.Header, []byte) {
	c.t.Helper()
	c.problems = nil
	resp, err := c.http.Do(req)
	for _, p := range c.problems {
		c.t.Error(p)
	}
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL.RequestURI(), err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL.RequestURI(), err)
	}
	return resp.StatusCode, resp.Header, raw
}

// do sends req and decodes a JSON answer; another answer comes back as
// {"text": answer}.
func (c *apiCheck) do(req *http.Request) (int, map[string]any) {
	c.t.Helper()
	status, header, raw := c.exchange(req)
	var out map[string]any
	if strings.HasPrefix(header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out); err != nil {
			c.t.Errorf("%s %s: the answer is not JSON: %v", req.Method, req.URL.RequestURI(), err)
		}
	} else {
		out = map[string]any{"text": string(raw)}
	}
	return status, out
}

// ok sends a request that must be answered with status want.
func (c *apiCheck) ok(want int, method, path string, body any) map[string]any {
	c.t.Helper()
	status, out := c.send(false, method, path, body)
	if status != want {
		c.t.Fatalf("%s %s: answered %d, want %d: %v", method, path, status, want, out)
	}
	return out
}

// fail sends a request that the document accepts and the server must
// refuse with status, code and, if not empty, field.
func (c *apiCheck) fail(status int, code, field, method, path string, body any) map[string]any {
	c.t.Helper()
	return c.wantError(false, status, code, field, method, path, body)
}

// refuse sends a request that both the document and the server refuse.
func (c *apiCheck) refuse(status int, code, field, method, path string, body any) map[string]any {
	c.t.Helper()
	return c.wantError(true, status, code, field, method, path, body)
}

func (c *apiCheck) wantError(refused bool, status int, code, field, method, path string, body any) map[string]any {
	c.t.Helper()
	got, out := c.send(refused, method, path, body)
	e, _ := out["error"].(map[string]any)
	if got != status || e == nil || e["code"] != code || (field != "" && e["field"] != field) {
		c.t.Fatalf("%s %s: answered %d %v, want %d %s on field %q", method, path, got, out, status, code, field)
	}
	return e
}

func id(m map[string]any) string {
	return strconv.FormatInt(int64(m["id"].(float64)), 10)
}

func TestOpenAPIConversation(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		start := time.Now().UTC().Truncate(time.Second)
		clock := allottest.NewClock(start)
		srv, _ := allottest.Server(t, allottest.Options{Engine: engine, Clock: clock})
		c := newAPICheck(t, srv.URL())
		at := func(d time.Duration) string { return clock.Now().Add(d).Format(time.RFC3339) }

		// The document is served without a token, as it is embedded.
		req := c.request("GET", "/v1/openapi.json", nil)
		req.Header.Del("Authorization")
		if status, _, served := c.exchange(req); status != 200 || !bytes.Equal(served, httpapi.OpenAPI()) {
			t.Errorf("GET /v1/openapi.json answered %d and not httpapi/openapi.json", status)
		}

		// Tokens: a wrong one, and none at all (which the document refuses too).
		req = c.request("GET", "/v1/products", nil)
		req.Header.Set("Authorization", "Bearer not-a-token")
		if status, _ := c.do(req); status != 401 {
			t.Errorf("wrong token: answered %d, want 401", status)
		}
		req = c.request("GET", "/v1/warehouses", nil)
		req.Header.Del("Authorization")
		if status, _ := c.do(req.WithContext(context.WithValue(req.Context(), refusedKey{}, true))); status != 401 {
			t.Errorf("no token: answered %d, want 401", status)
		}

		// The catalog.
		c.ok(201, "PUT", "/v1/warehouses/w1", map[string]any{"name": "Main warehouse"})
		if w := c.ok(201, "PUT", "/v1/warehouses/w2", nil); w["name"] != "w2" {
			t.Errorf("a warehouse without a name is named %v, want its code", w["name"])
		}
		c.ok(200, "PUT", "/v1/warehouses/w1", map[string]any{"name": "Main warehouse (Leeds)"})
		c.ok(200, "GET", "/v1/warehouses", nil)
		c.ok(201, "PUT", "/v1/products/tee", map[string]any{"name": "T-shirt", "barcode": "4006381333931"})
		c.ok(201, "PUT", "/v1/products/cap", map[string]any{"name": "Cap"})
		c.ok(200, "PUT", "/v1/products/tee", map[string]any{"name": "T-shirt black", "barcode": "4006381333931"})
		c.ok(201, "PUT", "/v1/bundles/kit", map[string]any{"name": "Tee and cap",
			"components": []map[string]any{{"sku": "tee", "quantity": 1}, {"sku": "cap", "quantity": 1}}})
		c.fail(400, "invalid", "components[0].sku", "PUT", "/v1/bundles/kit2", map[string]any{"name": "Two",
			"components": []map[string]any{{"sku": "nope", "quantity": 1}}})
		c.fail(409, "conflict", "", "PUT", "/v1/bundles/tee", map[string]any{"name": "Tee",
			"components": []map[string]any{{"sku": "cap", "quantity": 2}}})
		c.refuse(400, "invalid", "colour", "PUT", "/v1/products/tee", map[string]any{"name": "T-shirt", "colour": "black"})
		c.fail(413, "too_large", "body", "PUT", "/v1/products/big", `{"name": "Big"}`+strings.Repeat(" ", httpapi.MaxBody))
		if page := c.ok(200, "GET", "/v1/products?limit=2", nil); page["next_after"] != "kit" {
			t.Errorf("next_after = %v, want kit", page["next_after"])
		}
		c.ok(200, "GET", "/v1/products?after=kit", nil)
		c.ok(200, "GET", "/v1/products/tee", nil)
		c.ok(200, "GET", "/v1/bundles/kit", nil)
		c.fail(404, "not_found", "", "GET", "/v1/products/nope", nil)

		// Stock and an inbound shipment.
		c.ok(200, "PUT", "/v1/stock/w1/tee", map[string]any{"in_warehouse": 100, "damaged": 2})
		c.ok(200, "PUT", "/v1/stock/w1/cap", map[string]any{"in_warehouse": 40})
		if r := c.ok(200, "PUT", "/v1/stock/w1/cap", map[string]any{"in_warehouse": 10, "as_of": at(-time.Hour)}); r["applied"] != false {
			t.Errorf("an old stock report was applied: %v", r)
		}
		c.fail(400, "invalid", "sku", "PUT", "/v1/stock/w1/kit", map[string]any{"in_warehouse": 5})
		c.refuse(400, "invalid", "in_warehouse", "PUT", "/v1/stock/w1/tee", map[string]any{"in_warehouse": -1})
		if r := c.ok(200, "POST", "/v1/stock", map[string]any{"reports": []map[string]any{{"warehouse": "w1", "sku": "tee", "in_warehouse": 100,
			"damaged": 2}, {"warehouse": "w1", "sku": "cap", "in_warehouse": 10, "as_of": at(-time.Hour)}}}); r["applied"] != 1.0 {
			t.Errorf("a whole stock report with one old line: %v, want 1 applied", r)
		}
		c.fail(400, "invalid", "reports[1].sku", "POST", "/v1/stock", map[string]any{"reports": []map[string]any{
			{"warehouse": "w1", "sku": "tee", "in_warehouse": 1}, {"warehouse": "w1", "sku": "kit", "in_warehouse": 5}}})
		c.refuse(400, "invalid", "reports[0].in_warehouse", "POST", "/v1/stock", map[string]any{"reports": []map[string]any{{"warehouse": "w1", "sku": "tee"}}})
		c.ok(200, "GET", "/v1/stock", nil)
		c.ok(200, "GET", "/v1/stock?sku=tee", nil)
		c.fail(404, "not_found", "", "GET", "/v1/stock?sku=nope", nil)
		inbound := id(c.ok(201, "POST", "/v1/inbounds", map[string]any{"warehouse": "w1", "expected_at": at(72 * time.Hour),
			"lines": []map[string]any{{"sku": "tee", "quantity": 200}}}))
		c.fail(400, "invalid", "warehouse", "POST", "/v1/inbounds", map[string]any{"warehouse": "w9",
			"lines": []map[string]any{{"sku": "tee", "quantity": 1}}})
		c.ok(200, "GET", "/v1/inbounds?open=true", nil)
		c.ok(200, "GET", "/v1/inbounds/"+inbound, nil)
		c.fail(404, "not_found", "", "GET", "/v1/inbounds/999999", nil)

		// Channels, listings and rules.
		sim := shopifysim.New(shopifysim.Options{AccessToken: "shpat_secret"})
		simURL, err := sim.Start()
		if err != nil {
			t.Fatal(err)
		}
		defer sim.Close()
		shopify := map[string]any{"shop_url": simURL, "access_token": "shpat_secret",
			"location_id": "gid://shopify/Location/1", "webhook_secret": "whsec"}
		ch := c.ok(201, "PUT", "/v1/channels/b2c", map[string]any{"name": "Shopify B2C", "platform": "shopify",
			"warehouses": []string{"w1"}, "settings": shopify})
		if s := ch["settings"].(map[string]any); s["access_token"] != service.Redacted {
			t.Errorf("a secret setting is shown: %v", s)
		}
		c.ok(201, "PUT", "/v1/channels/b2b", map[string]any{"name": "B2B portal", "platform": "api", "count_unpaid": true})
		c.ok(201, "PUT", "/v1/channels/manual", map[string]any{"platform": "manual"})
		c.ok(201, "PUT", "/v1/channels/amazon", map[string]any{"name": "Amazon", "platform": "generic",
			"settings": map[string]any{"push_url": "https://example.com/push", "secret": "s3cret"}})
		shopify["access_token"] = service.Redacted
		c.ok(200, "PUT", "/v1/channels/b2c", map[string]any{"name": "Shopify B2C", "platform": "shopify",
			"warehouses": []string{"w1"}, "settings": shopify})
		c.fail(400, "invalid", "warehouses[0]", "PUT", "/v1/channels/outlet", map[string]any{"platform": "api", "warehouses": []string{"w9"}})
		c.refuse(400, "invalid", "platform", "PUT", "/v1/channels/ebay", map[string]any{"platform": "ebay"})
		c.ok(200, "GET", "/v1/channels", nil)
		c.ok(200, "GET", "/v1/channels/b2c", nil)
		c.fail(404, "not_found", "", "GET", "/v1/channels/nope", nil)
		c.ok(200, "PUT", "/v1/channels/b2c/listings/gid-tee", map[string]any{"sku": "tee"})
		c.ok(200, "PUT", "/v1/channels/b2c/listings/gid-kit", map[string]any{"sku": "kit", "enabled": true})
		c.fail(400, "invalid", "sku", "PUT", "/v1/channels/b2c/listings/gid-cap", map[string]any{"sku": "nope"})
		c.ok(200, "GET", "/v1/channels/b2c/listings", nil)
		c.fail(404, "not_found", "", "GET", "/v1/channels/nope/listings", nil)
		c.ok(200, "PUT", "/v1/channels/amazon/rules", map[string]any{"percent": 50, "zero_at": 2})
		c.ok(200, "PUT", "/v1/channels/amazon/rules/tee", map[string]any{"max": 10})
		if r := c.ok(200, "PUT", "/v1/channels/amazon/rules", map[string]any{"zero_at": nil}); r["zero_at"] != nil || r["percent"] != 50.0 {
			t.Errorf("null removes zero_at and keeps percent: %v", r)
		}
		c.refuse(400, "invalid", "percent", "PUT", "/v1/channels/amazon/rules", map[string]any{"percent": 150})
		c.ok(200, "GET", "/v1/channels/amazon/rules", nil)
		c.ok(200, "GET", "/v1/channels/amazon/rules/tee", nil)
		c.fail(404, "not_found", "", "GET", "/v1/channels/nope/rules", nil)
		c.fail(404, "not_found", "", "PUT", "/v1/channels/amazon/rules/nope", map[string]any{"max": 1})

		// Allocations: a reserve, a presell tied to the inbound, buffers, a stop.
		reserve := id(c.ok(201, "POST", "/v1/allocations", map[string]any{"name": "Wholesale tees", "purpose": "reserve",
			"channels": []map[string]any{{"channel": "b2b", "rule": "use_available"}},
			"lines":    []map[string]any{{"sku": "tee", "quantity": 30}}, "priority": 1}))
		e := c.fail(409, "conflict", "channels", "POST", "/v1/allocations", map[string]any{"purpose": "reserve",
			"channels": []map[string]any{{"channel": "b2b"}}, "lines": []map[string]any{{"sku": "tee", "quantity": 10}}})
		if !strings.Contains(e["message"].(string), "Wholesale tees") {
			t.Errorf("the conflict does not name the allocation in the way: %v", e["message"])
		}
		c.ok(201, "POST", "/v1/allocations", map[string]any{"name": "Autumn presell", "purpose": "presell",
			"channels": []map[string]any{{"channel": "b2c", "rule": "follow_allocation"}},
			"lines":    []map[string]any{{"sku": "tee", "quantity": 150}}, "inbound": json.Number(inbound), "ends_at": at(30 * 24 * time.Hour)})
		c.fail(400, "invalid", "channels", "POST", "/v1/allocations", map[string]any{"purpose": "presell",
			"lines": []map[string]any{{"sku": "cap", "quantity": 5}}})
		c.ok(201, "POST", "/v1/buffers", map[string]any{"channel": "manual", "lines": []map[string]any{{"sku": "cap", "quantity": 5}}})
		margin := c.ok(201, "POST", "/v1/buffers", map[string]any{"name": "Safety margin", "all_skus": map[string]any{"quantity": 1}})
		if margin["channels"] != nil {
			t.Errorf("a buffer without channel has channels %v", margin["channels"])
		}
		c.fail(400, "invalid", "channel", "POST", "/v1/buffers", map[string]any{"channel": "b2c", "lines": []map[string]any{{"sku": "cap", "quantity": 5}}})
		c.ok(201, "POST", "/v1/stops", map[string]any{"channels": []string{"amazon"}, "skus": []string{"cap"}})
		c.fail(400, "invalid", "skus", "POST", "/v1/stops", map[string]any{"channels": []string{"amazon"}})
		c.ok(200, "GET", "/v1/allocations", nil)
		c.ok(200, "GET", "/v1/allocations?current=true", nil)
		c.ok(200, "GET", "/v1/allocations/"+reserve, nil)
		c.fail(404, "not_found", "", "GET", "/v1/allocations/999999", nil)
		c.ok(200, "PATCH", "/v1/allocations/"+reserve, map[string]any{"lines": []map[string]any{{"sku": "tee", "quantity": 35}},
			"note": "Raised for the autumn fair"})
		c.fail(400, "invalid", "all_skus", "PATCH", "/v1/allocations/"+reserve, map[string]any{"all_skus": map[string]any{"quantity": 3}})

		// Quantities and their explanations.
		c.ok(200, "GET", "/v1/channels/b2c/quantities", nil)
		c.ok(200, "GET", "/v1/channels/b2c/sync", nil)
		c.ok(202, "POST", "/v1/channels/b2c/resync", nil)
		c.fail(409, "conflict", "", "POST", "/v1/channels/manual/resync", nil)
		c.fail(404, "not_found", "", "POST", "/v1/channels/nope/drift", nil)
		c.ok(200, "POST", "/v1/channels/manual/drift", nil)
		c.fail(409, "conflict", "", "POST", "/v1/channels/manual/link", nil)
		c.ok(200, "POST", "/v1/channels/b2c/link", nil)
		c.fail(404, "not_found", "", "GET", "/v1/channels/nope/quantities", nil)
		c.ok(200, "GET", "/v1/quantities", nil)
		c.ok(200, "GET", "/v1/quantities?sku=tee&sku=cap", nil)
		c.fail(404, "not_found", "", "GET", "/v1/quantities?sku=nope", nil)
		if x := c.ok(200, "GET", "/v1/quantities/b2b/tee", nil); x["quantity"] != 35.0 {
			t.Errorf("b2b shows %v of tee, want its reserve of 35: %v", x["quantity"], x["explanation"])
		}
		c.ok(200, "GET", "/v1/quantities/amazon/tee", nil)
		c.ok(200, "GET", "/v1/quantities/b2c/kit", nil)
		c.fail(404, "not_found", "", "GET", "/v1/quantities/b2c/nope", nil)

		// Orders: placed, imported, waiting for a listing, shipped, cancelled.
		po := map[string]any{"channel": "b2b", "external_id": "PO-1001", "lines": []map[string]any{{"sku": "tee", "quantity": 5}}, "payment": "terms"}
		c.ok(201, "POST", "/v1/orders", po)
		c.ok(200, "POST", "/v1/orders", po)
		c.fail(409, "conflict", "external_id", "POST", "/v1/orders", map[string]any{"channel": "b2b", "external_id": "PO-1001",
			"lines": []map[string]any{{"sku": "tee", "quantity": 6}}})
		e = c.fail(409, "insufficient_stock", "", "POST", "/v1/orders", map[string]any{"channel": "manual", "external_id": "M-1",
			"lines": []map[string]any{{"sku": "cap", "quantity": 500}}})
		if short, _ := e["shortfall"].([]any); len(short) != 1 {
			t.Errorf("insufficient_stock without a shortfall per SKU: %v", e)
		}
		c.fail(400, "invalid", "lines[0].sku", "POST", "/v1/orders", map[string]any{"channel": "b2b", "external_id": "PO-1002",
			"lines": []map[string]any{{"sku": "nope", "quantity": 1}}})
		c.refuse(400, "invalid", "lines[0].quantity", "POST", "/v1/orders", map[string]any{"channel": "b2b", "external_id": "PO-1003",
			"lines": []map[string]any{{"sku": "tee", "quantity": 0}}})
		web := map[string]any{"channel": "b2c", "external_id": "1001", "payment": "paid", "updated_at": at(0),
			"lines": []map[string]any{{"listing": "gid-tee", "quantity": 2}, {"listing": "gid-kit", "quantity": 1}}}
		c.ok(201, "POST", "/v1/orders/import", web)
		c.ok(200, "POST", "/v1/orders/import", web)
		if o := c.ok(201, "POST", "/v1/orders/import", map[string]any{"channel": "b2c", "external_id": "1002",
			"lines": []map[string]any{{"listing": "gid-hoodie", "quantity": 1}}}); o["needs_attention"] != true {
			t.Errorf("an order of an unknown listing does not need attention: %v", o)
		}
		c.fail(409, "conflict", "", "POST", "/v1/orders/b2c/1002/reprocess", nil)
		c.ok(201, "PUT", "/v1/products/hoodie", map[string]any{"name": "Hoodie"})
		c.ok(200, "PUT", "/v1/stock/w1/hoodie", map[string]any{"in_warehouse": 12})
		c.ok(200, "PUT", "/v1/channels/b2c/listings/gid-hoodie", map[string]any{"sku": "hoodie"})
		if o := c.ok(200, "POST", "/v1/orders/b2c/1002/reprocess", nil); o["needs_attention"] != false {
			t.Errorf("the order still needs attention once its listing is linked: %v", o)
		}
		c.ok(200, "GET", "/v1/orders", nil)
		c.ok(200, "GET", "/v1/orders?channel=b2c&limit=10", nil)
		c.ok(200, "GET", "/v1/orders?needs_attention=true&oversold=false", nil)
		c.ok(200, "GET", "/v1/orders/b2b/PO-1001", nil)
		c.fail(404, "not_found", "", "GET", "/v1/orders/b2b/nope", nil)
		if o := c.ok(200, "POST", "/v1/orders/b2b/PO-1001/ship", map[string]any{"lines": []map[string]any{{"sku": "tee", "quantity": 2}}}); o["state"] != "partially_shipped" {
			t.Errorf("after shipping 2 of 5: state %v", o["state"])
		}
		c.fail(400, "invalid", "lines[0].quantity", "POST", "/v1/orders/b2b/PO-1001/ship", map[string]any{"lines": []map[string]any{{"sku": "tee", "quantity": 9}}})
		c.ok(200, "POST", "/v1/orders/b2b/PO-1001/cancel", nil)
		c.ok(200, "POST", "/v1/orders/b2c/1001/ship", nil)
		c.refuse(400, "invalid", "lines", "POST", "/v1/orders/b2c/1002/cancel", map[string]any{})
		c.ok(200, "POST", "/v1/orders/b2c/1002/cancel", map[string]any{"lines": []map[string]any{{"listing": "gid-hoodie", "quantity": 1}}})
		c.fail(404, "not_found", "", "POST", "/v1/orders/b2c/nope/cancel", nil)

		// Holds: confirmed, released, refused, expired.
		hold := id(c.ok(201, "POST", "/v1/holds", map[string]any{"channel": "b2c", "lines": []map[string]any{{"sku": "tee", "quantity": 1}}, "ttl_seconds": 900}))
		c.ok(200, "GET", "/v1/holds/"+hold, nil)
		if h := c.ok(200, "POST", "/v1/holds/"+hold+"/confirm", map[string]any{"external_id": "CHK-1", "payment": "paid"}); h["state"] != "confirmed" || h["order"] == nil {
			t.Errorf("a confirmed hold: %v", h)
		}
		c.fail(409, "conflict", "", "DELETE", "/v1/holds/"+hold, nil)
		hold = id(c.ok(201, "POST", "/v1/holds", map[string]any{"channel": "manual", "lines": []map[string]any{{"sku": "cap", "quantity": 1}}, "ttl_seconds": 60}))
		if h := c.ok(200, "DELETE", "/v1/holds/"+hold, nil); h["state"] != "released" {
			t.Errorf("a released hold: %v", h)
		}
		c.fail(409, "conflict", "", "POST", "/v1/holds/"+hold+"/confirm", nil)
		c.fail(409, "insufficient_stock", "", "POST", "/v1/holds", map[string]any{"channel": "b2b", "lines": []map[string]any{{"sku": "cap", "quantity": 1000}}, "ttl_seconds": 60})
		c.refuse(400, "invalid", "ttl_seconds", "POST", "/v1/holds", map[string]any{"channel": "b2b", "lines": []map[string]any{{"sku": "tee", "quantity": 1}}, "ttl_seconds": 0})
		hold = id(c.ok(201, "POST", "/v1/holds", map[string]any{"channel": "b2b", "lines": []map[string]any{{"sku": "tee", "quantity": 1}}, "ttl_seconds": 60}))
		clock.Advance(2 * time.Minute)
		if h := c.ok(200, "GET", "/v1/holds/"+hold, nil); h["state"] != "expired" {
			t.Errorf("a hold past its time: %v", h)
		}
		c.fail(404, "not_found", "", "GET", "/v1/holds/999999", nil)

		// The shipment arrives; the reserve ends.
		if in := c.ok(200, "POST", "/v1/inbounds/"+inbound+"/receive", nil); in["received"] != true {
			t.Errorf("a received inbound: %v", in)
		}
		c.fail(409, "conflict", "", "POST", "/v1/inbounds/"+inbound+"/receive", nil)
		if a := c.ok(200, "DELETE", "/v1/allocations/"+reserve, nil); a["active"] != false {
			t.Errorf("an ended allocation is active: %v", a)
		}
		c.fail(409, "conflict", "", "PATCH", "/v1/allocations/"+reserve, map[string]any{"note": "too late"})

		// Readiness, history, CSV files.
		c.ok(200, "GET", "/v1/readiness", nil)
		c.ok(200, "GET", "/v1/readiness?channel=b2c", nil)
		c.fail(404, "not_found", "", "GET", "/v1/readiness?channel=nope", nil)
		c.ok(200, "GET", "/v1/history?sku=tee&limit=5", nil)
		c.ok(200, "GET", "/v1/history?channel=b2b&since="+at(-time.Hour), nil)
		c.refuse(400, "invalid", "limit", "GET", "/v1/history?limit=0", nil)
		csvFile := func(path, file string) (int, map[string]any) {
			req := c.request("POST", path, file)
			req.Header.Set("Content-Type", "text/csv")
			return c.do(req)
		}
		if status, out := csvFile("/v1/import/products", "sku,name,barcode\nsocks,Socks,\nscarf,Scarf,5012345678900\n"); status != 200 || out["imported"] != 2.0 {
			t.Errorf("import products: %d %v", status, out)
		}
		if status, out := csvFile("/v1/import/stock", "warehouse,sku,in_warehouse\nw1,socks,ten\n"); status != 400 || !strings.HasPrefix(fmt.Sprint(out["error"].(map[string]any)["field"]), "line 2") {
			t.Errorf("import of a bad stock file: %d %v, want 400 naming line 2", status, out)
		}
		if status, out := csvFile("/v1/import/allocations", "ref,purpose,channels,sku,quantity\nA,reserve,manual,cap,3\n"); status != 409 {
			t.Errorf("import of a conflicting allocation: %d %v, want 409", status, out)
		}
		for _, kind := range []string{"products", "stock", "orders"} {
			if out := c.ok(200, "GET", "/v1/export/"+kind, nil); !strings.Contains(out["text"].(string), "sku") {
				t.Errorf("export %s: %q", kind, out["text"])
			}
		}
		c.refuse(404, "not_found", "", "GET", "/v1/export/nope", nil)

		// Every operation of the document answered with success at least once,
		// and every error code a client must handle came up.
		var missed []string
		for op, statuses := range c.answered {
			if !slices.ContainsFunc(statuses, func(s int) bool { return s < 300 }) {
				missed = append(missed, fmt.Sprintf("%s (answered %v)", op, statuses))
			}
		}
		for _, r := range httpapi.Routes {
			if _, ok := c.answered[routeKey(r)]; !ok {
				missed = append(missed, routeKey(r)+" (never called)")
			}
		}
		slices.Sort(missed)
		if len(missed) > 0 {
			t.Errorf("operations never answered with success:\n  %s", strings.Join(missed, "\n  "))
		}
		for _, code := range []string{allot.Invalid, allot.Unauthorized, allot.NotFound, allot.Conflict, allot.InsufficientStock, httpapi.TooLarge} {
			if !c.codes[code] {
				t.Errorf("no answer with the error code %s", code)
			}
		}
	})
}
