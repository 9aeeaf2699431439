package shopifysim

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// APIVersion is the Admin API version the simulator serves. Requests for
// any other version get the 404 Shopify gives for a version it does not
// know.
const APIVersion = "2026-10"

//go:embed admin-2026-10.graphql
var schemaSDL string

// schema is the served subset of the Admin API, loaded once: every
// document is validated against it before anything runs.
var schema = gqlparser.MustLoadSchema(&ast.Source{Name: "admin-2026-10.graphql", Input: schemaSDL})

// idempotentFields are the mutations that refuse to run without
// @idempotent(key:) from 2026-04 on.
var idempotentFields = map[string]bool{"inventorySetQuantities": true}

// ValidationError is what Validate returns: every problem Shopify would
// report for the document, in Shopify's wording where it is known.
type ValidationError struct {
	Errors []GraphQLError
}

// Error lists the problems in one line.
func (e *ValidationError) Error() string {
	msgs := make([]string, len(e.Errors))
	for i, err := range e.Errors {
		msgs[i] = err.Message
	}
	return "invalid GraphQL document for Admin API " + APIVersion + ": " + strings.Join(msgs, "; ")
}

// GraphQLError is one entry of a response's top-level "errors" list.
type GraphQLError struct {
	Message    string         `json:"message"`
	Locations  []Location     `json:"locations,omitempty"`
	Path       []any          `json:"path,omitempty"`
	Extensions map[string]any `json:"extensions,omitempty"`
}

// Location is a line and column in a GraphQL document.
type Location struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

// Validate reports whether query is a document Shopify's Admin API
// version APIVersion would accept from the document alone: it parses,
// validates against the served schema, and has @idempotent(key:) on every
// inventory mutation. It does not look at variables. Connector tests use it
// to check the documents they send without running a store.
func Validate(query string) error {
	doc, errs := parseAndValidate(query)
	if len(errs) == 0 {
		errs = checkIdempotentDirectives(doc)
	}
	if len(errs) > 0 {
		return &ValidationError{Errors: errs}
	}
	return nil
}

// parseAndValidate parses query and validates it against the schema, with
// the errors already in Shopify's shape.
func parseAndValidate(query string) (*ast.QueryDocument, []GraphQLError) {
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	if err != nil {
		var gerr *gqlerror.Error
		if errors.As(err, &gerr) {
			return nil, []GraphQLError{{
				Message:   "syntax error, " + lowerFirst(gerr.Message),
				Locations: locations(gerr.Locations),
			}}
		}
		return nil, []GraphQLError{{Message: "syntax error, " + err.Error()}}
	}
	list := validator.ValidateWithRules(schema, doc, rules.NewDefaultRules())
	if len(list) == 0 {
		return doc, nil
	}
	out := make([]GraphQLError, 0, len(list))
	for _, e := range list {
		out = append(out, translateValidationError(e))
	}
	return doc, out
}

var (
	reUndefinedField = regexp.MustCompile(`^Cannot query field "([^"]+)" on type "([^"]+)"`)
	reUnknownArg     = regexp.MustCompile(`^Unknown argument "([^"]+)" on field "([^".]+)\.([^"]+)"`)
	reMissingArg     = regexp.MustCompile(`^Field "([^"]+)" argument "([^"]+)" of type "([^"]+)" is required`)
	reUnknownType    = regexp.MustCompile(`^Unknown type "([^"]+)"`)
)

// translateValidationError turns a gqlparser validation error into the
// message and extensions Shopify's GraphQL server uses for the same
// problem, so a client that reads "extensions.code" sees familiar values.
func translateValidationError(e *gqlerror.Error) GraphQLError {
	out := GraphQLError{Message: e.Message, Locations: locations(e.Locations)}
	switch {
	case reUndefinedField.MatchString(e.Message):
		m := reUndefinedField.FindStringSubmatch(e.Message)
		out.Message = fmt.Sprintf("Field '%s' doesn't exist on type '%s'", m[1], m[2])
		out.Extensions = map[string]any{"code": "undefinedField", "typeName": m[2], "fieldName": m[1]}
	case reUnknownArg.MatchString(e.Message):
		m := reUnknownArg.FindStringSubmatch(e.Message)
		out.Message = fmt.Sprintf("Field '%s' doesn't accept argument '%s'", m[3], m[1])
		out.Extensions = map[string]any{"code": "argumentNotAccepted", "name": m[3], "typeName": "Field", "argumentName": m[1]}
	case reMissingArg.MatchString(e.Message):
		m := reMissingArg.FindStringSubmatch(e.Message)
		out.Message = fmt.Sprintf("Field '%s' is missing required arguments: %s", m[1], m[2])
		out.Extensions = map[string]any{"code": "missingRequiredArguments", "className": "Field", "name": m[1], "arguments": m[2]}
	case reUnknownType.MatchString(e.Message):
		m := reUnknownType.FindStringSubmatch(e.Message)
		out.Message = fmt.Sprintf("No such type %s, so it can't be a fragment condition", m[1])
		out.Extensions = map[string]any{"code": "undefinedType", "typeName": m[1]}
	default:
		out.Extensions = map[string]any{"code": lowerFirst(e.Rule)}
	}
	return out
}

// checkIdempotentDirectives finds inventory mutations sent without
// @idempotent(key:), which Shopify refuses at run time from 2026-04 on.
func checkIdempotentDirectives(doc *ast.QueryDocument) []GraphQLError {
	var out []GraphQLError
	for _, op := range doc.Operations {
		if op.Operation != ast.Mutation {
			continue
		}
		for _, f := range collectFields(doc, op.SelectionSet, "Mutation", nil) {
			if idempotentFields[f.Name] && f.Directives.ForName("idempotent") == nil {
				out = append(out, missingIdempotentError(f))
			}
		}
	}
	return out
}

// missingIdempotentError is Shopify's answer to an inventory mutation sent
// without the directive.
func missingIdempotentError(f *ast.Field) GraphQLError {
	return GraphQLError{
		Message:    "The @idempotent directive is required for this mutation but was not provided.",
		Locations:  fieldLocation(f),
		Extensions: map[string]any{"code": "BAD_REQUEST"},
		Path:       []any{f.Alias},
	}
}

func locations(ls []gqlerror.Location) []Location {
	if len(ls) == 0 {
		return nil
	}
	out := make([]Location, len(ls))
	for i, l := range ls {
		out[i] = Location{Line: l.Line, Column: l.Column}
	}
	return out
}

func fieldLocation(f *ast.Field) []Location {
	if f == nil || f.Position == nil {
		return nil
	}
	return []Location{{Line: f.Position.Line, Column: f.Position.Column}}
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// ValidateRequest checks a whole request as Shopify would before running
// it: everything Validate checks, then the variables against their
// declared types, connections' first/last, the 250-item limit on input
// lists, the single-query cost limit, and changeFromQuantity being present
// (a number or null) on every inventorySetQuantities quantity.
// operationName may be empty when the document has one operation.
func ValidateRequest(query, operationName string, variables map[string]any) error {
	doc, errs := parseAndValidate(query)
	if len(errs) > 0 {
		return &ValidationError{Errors: errs}
	}
	if errs := checkIdempotentDirectives(doc); len(errs) > 0 {
		return &ValidationError{Errors: errs}
	}
	op, gerr := pickOperation(doc, operationName)
	if gerr != nil {
		return &ValidationError{Errors: []GraphQLError{*gerr}}
	}
	vars := map[string]any{}
	for k, v := range variables {
		vars[k] = v
	}
	// Round-trip through JSON so values look as they do on the wire.
	if b, err := json.Marshal(vars); err == nil {
		vars = map[string]any{}
		_ = json.Unmarshal(b, &vars)
	}
	if _, err := validator.VariableValues(schema, op, vars); err != nil {
		return &ValidationError{Errors: []GraphQLError{variableError(op, vars, err)}}
	}
	root := schema.Types["QueryRoot"]
	if op.Operation == ast.Mutation {
		root = schema.Types["Mutation"]
	}
	req := &request{doc: doc, op: op, vars: vars}
	cost := req.staticCost(op.SelectionSet, root, nil)
	if len(req.errs) > 0 {
		return &ValidationError{Errors: req.errs}
	}
	if cost > MaxQueryCost {
		return &ValidationError{Errors: []GraphQLError{{
			Message:    fmt.Sprintf("Query cost is %d, which exceeds the single query max cost limit (%d).", cost, MaxQueryCost),
			Extensions: map[string]any{"code": "MAX_COST_EXCEEDED", "cost": cost, "maxCost": MaxQueryCost},
		}}}
	}
	if op.Operation == ast.Mutation {
		for _, f := range collectFields(doc, op.SelectionSet, "Mutation", vars) {
			if f.Name != "inventorySetQuantities" {
				continue
			}
			input, _ := req.args(f)["input"].(map[string]any)
			if e := missingChangeFrom(input); e != nil {
				e.Path = []any{f.Alias}
				e.Locations = fieldLocation(f)
				return &ValidationError{Errors: []GraphQLError{*e}}
			}
		}
	}
	return nil
}
