package shopifysim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
)

// request is one GraphQL operation being costed and run.
type request struct {
	s    *Store
	doc  *ast.QueryDocument
	op   *ast.OperationDefinition
	vars map[string]any
	now  time.Time

	errs       []GraphQLError
	actual     int
	inMutation bool
}

// ordered is a JSON object that keeps the order of the selection set, as
// GraphQL responses do.
type ordered struct {
	keys []string
	vals map[string]any
}

func newOrdered() *ordered { return &ordered{vals: map[string]any{}} }

func (o *ordered) set(k string, v any) {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

// MarshalJSON writes the keys in selection order.
func (o *ordered) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		buf.Write(kb)
		buf.WriteByte(':')
		vb, err := json.Marshal(o.vals[k])
		if err != nil {
			return nil, err
		}
		buf.Write(vb)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// collectFields flattens a selection set into the fields that apply to an
// object of type typeName, following fragments and @skip/@include, and
// merging fields that share a response key. typeName "" takes every
// fragment, which is what static costing wants: an upper bound.
func collectFields(doc *ast.QueryDocument, set ast.SelectionSet, typeName string, vars map[string]any) []*ast.Field {
	var order []string
	groups := map[string]*ast.Field{}
	var walk func(ast.SelectionSet)
	walk = func(set ast.SelectionSet) {
		for _, sel := range set {
			switch x := sel.(type) {
			case *ast.Field:
				if !included(x.Directives, vars) {
					continue
				}
				if g, ok := groups[x.Alias]; ok {
					merged := *g
					merged.SelectionSet = append(append(ast.SelectionSet{}, g.SelectionSet...), x.SelectionSet...)
					groups[x.Alias] = &merged
					continue
				}
				groups[x.Alias] = x
				order = append(order, x.Alias)
			case *ast.InlineFragment:
				if included(x.Directives, vars) && typeApplies(x.TypeCondition, typeName) {
					walk(x.SelectionSet)
				}
			case *ast.FragmentSpread:
				def := x.Definition
				if def == nil && doc != nil {
					def = doc.Fragments.ForName(x.Name)
				}
				if def != nil && included(x.Directives, vars) && typeApplies(def.TypeCondition, typeName) {
					walk(def.SelectionSet)
				}
			}
		}
	}
	walk(set)
	out := make([]*ast.Field, len(order))
	for i, k := range order {
		out[i] = groups[k]
	}
	return out
}

func typeApplies(cond, typeName string) bool {
	if cond == "" || typeName == "" || cond == typeName {
		return true
	}
	for _, d := range schema.PossibleTypes[cond] {
		if d.Name == typeName {
			return true
		}
	}
	return false
}

func included(ds ast.DirectiveList, vars map[string]any) bool {
	for _, d := range ds {
		if d.Name != "skip" && d.Name != "include" {
			continue
		}
		arg := d.Arguments.ForName("if")
		if arg == nil {
			continue
		}
		v, _ := arg.Value.Value(vars)
		b, _ := v.(bool)
		if d.Name == "skip" && b {
			return false
		}
		if d.Name == "include" && !b {
			return false
		}
	}
	return true
}

// args resolves a field's arguments: literals, variables (an unset
// variable counts as absent, not null) and schema defaults.
func (r *request) args(f *ast.Field) map[string]any {
	out := map[string]any{}
	if f.Definition == nil {
		return out
	}
	for _, ad := range f.Definition.Arguments {
		if a := f.Arguments.ForName(ad.Name); a != nil {
			if a.Value.Kind == ast.Variable {
				if _, ok := r.vars[a.Value.Raw]; !ok && (a.Value.VariableDefinition == nil || a.Value.VariableDefinition.DefaultValue == nil) {
					if ad.DefaultValue != nil {
						v, _ := ad.DefaultValue.Value(nil)
						out[ad.Name] = v
					}
					continue
				}
			}
			v, _ := a.Value.Value(r.vars)
			out[ad.Name] = v
			continue
		}
		if ad.DefaultValue != nil {
			v, _ := ad.DefaultValue.Value(nil)
			out[ad.Name] = v
		}
	}
	return out
}

func toInt(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int32:
		return int(n), true
	case int64:
		return int(n), true
	case float64:
		if n == math.Trunc(n) && !math.IsInf(n, 0) {
			return int(n), true
		}
	case json.Number:
		i, err := n.Int64()
		return int(i), err == nil
	}
	return 0, false
}

func toString(v any) (string, bool) {
	switch s := v.(type) {
	case string:
		return s, true
	case int64:
		return fmt.Sprint(s), true
	case int:
		return fmt.Sprint(s), true
	}
	return "", false
}

func badRequest(msg string, f *ast.Field, path []any) GraphQLError {
	return GraphQLError{Message: msg, Locations: fieldLocation(f), Path: path, Extensions: map[string]any{"code": "BAD_REQUEST"}}
}

func appendPath(path []any, elem any) []any {
	out := make([]any, len(path)+1)
	copy(out, path)
	out[len(path)] = elem
	return out
}

// staticCost computes the requested query cost the way Shopify documents
// it — scalars and enums 0, objects 1, connections 2 plus first/last times
// the cost of one node, mutations 10 — and collects the argument errors
// Shopify reports before running anything: a connection without first or
// last, a page size over 250, an input list over 250 items.
func (r *request) staticCost(set ast.SelectionSet, parent *ast.Definition, path []any) int {
	total := 0
	for _, f := range collectFields(r.doc, set, "", r.vars) {
		if f.Name == "__typename" || f.Definition == nil {
			continue
		}
		fpath := appendPath(path, f.Alias)
		args := r.args(f)
		for _, name := range sortedKeys(args) {
			r.checkInputSize(args[name], appendPath(fpath, name), f)
		}
		named := schema.Types[f.Definition.Type.Name()]
		if parent.Name == "Mutation" {
			total += 10
			continue
		}
		if named == nil || named.Kind == ast.Scalar || named.Kind == ast.Enum {
			continue
		}
		if strings.HasSuffix(named.Name, "Connection") {
			n, ok := r.pageSize(f, args, fpath)
			if !ok {
				continue
			}
			total += 2 + n*r.perNodeCost(f.SelectionSet, fpath)
			continue
		}
		mult := 1
		if f.Definition.Type.Elem != nil {
			switch {
			case f.Name == "nodes" && parent.Name == "QueryRoot":
				mult = listLen(args["ids"])
			case f.Name == "quantities":
				mult = listLen(args["names"])
			}
		}
		total += mult * (1 + r.staticCost(f.SelectionSet, named, fpath))
	}
	return total
}

// perNodeCost is the cost of one item of a connection: its node (1) and
// the node's own fields, counted once for edges.node and once for nodes if
// both are selected.
func (r *request) perNodeCost(set ast.SelectionSet, path []any) int {
	per := 0
	for _, f := range collectFields(r.doc, set, "", r.vars) {
		switch f.Name {
		case "edges":
			for _, ef := range collectFields(r.doc, f.SelectionSet, "", r.vars) {
				if ef.Name == "node" {
					per += 1 + r.staticCost(ef.SelectionSet, schema.Types[ef.Definition.Type.Name()], appendPath(appendPath(path, f.Alias), ef.Alias))
				}
			}
		case "nodes":
			per += 1 + r.staticCost(f.SelectionSet, schema.Types[f.Definition.Type.Name()], appendPath(path, f.Alias))
		}
	}
	return per
}

func listLen(v any) int {
	if l, ok := v.([]any); ok {
		return len(l)
	}
	if v == nil {
		return 0
	}
	return 1
}

// pageSize checks first/last as Shopify does and returns the page size.
func (r *request) pageSize(f *ast.Field, args map[string]any, path []any) (int, bool) {
	first, hasFirst := toInt(args["first"])
	last, hasLast := toInt(args["last"])
	if !hasFirst && !hasLast {
		r.errs = append(r.errs, badRequest("you must provide one of first or last", f, path))
		return 0, false
	}
	if hasFirst && hasLast {
		r.errs = append(r.errs, badRequest("providing both first and last is not supported", f, path))
		return 0, false
	}
	n, name := first, "first"
	if hasLast {
		n, name = last, "last"
	}
	if n < 0 || n > MaxPageSize {
		r.errs = append(r.errs, badRequest(fmt.Sprintf("Argument '%s' on Field '%s' has an invalid value (%d). Expected a page size from 0 to %d.", name, f.Name, n, MaxPageSize), f, path))
		return 0, false
	}
	return n, true
}

// checkInputSize refuses any input list longer than Shopify's limit,
// wherever it sits in the argument.
func (r *request) checkInputSize(v any, path []any, f *ast.Field) {
	switch x := v.(type) {
	case []any:
		if len(x) > MaxInputArraySize {
			r.errs = append(r.errs, GraphQLError{
				Message:    fmt.Sprintf("The input array size of %d is greater than the maximum allowed of %d.", len(x), MaxInputArraySize),
				Locations:  fieldLocation(f),
				Path:       path,
				Extensions: map[string]any{"code": "MAX_INPUT_SIZE_EXCEEDED"},
			})
			return
		}
		for i, e := range x {
			r.checkInputSize(e, appendPath(path, i), f)
		}
	case map[string]any:
		for _, k := range sortedKeys(x) {
			r.checkInputSize(x[k], appendPath(path, k), f)
		}
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// execSet runs a selection set against obj, an object of type def.
func (r *request) execSet(set ast.SelectionSet, def *ast.Definition, obj any, path []any) *ordered {
	out := newOrdered()
	for _, f := range collectFields(r.doc, set, def.Name, r.vars) {
		fpath := appendPath(path, f.Alias)
		if f.Name == "__typename" {
			out.set(f.Alias, def.Name)
			continue
		}
		fdef := def.Fields.ForName(f.Name)
		if fdef == nil {
			out.set(f.Alias, nil)
			continue
		}
		if def.Name == "Mutation" {
			r.actual += 10
			r.inMutation = true
		}
		val, gerr := r.resolve(def.Name, f, r.args(f), obj)
		if gerr != nil {
			gerr.Path = fpath
			if gerr.Locations == nil {
				gerr.Locations = fieldLocation(f)
			}
			r.errs = append(r.errs, *gerr)
			out.set(f.Alias, nil)
			continue
		}
		out.set(f.Alias, r.complete(fdef.Type, val, f, fpath))
	}
	return out
}

// complete turns a resolved value into its response form for type t.
func (r *request) complete(t *ast.Type, val any, f *ast.Field, path []any) any {
	if isNil(val) {
		return nil
	}
	if t.Elem != nil {
		list, _ := val.([]any)
		out := make([]any, len(list))
		for i, item := range list {
			out[i] = r.complete(t.Elem, item, f, appendPath(path, i))
		}
		return out
	}
	named := schema.Types[t.NamedType]
	switch named.Kind {
	case ast.Object, ast.Interface, ast.Union:
		concrete := named
		if named.Kind != ast.Object {
			concrete = schema.Types[typeOf(val)]
		}
		r.countActual(concrete.Name)
		return r.execSet(f.SelectionSet, concrete, val, path)
	default:
		return val
	}
}

// countActual adds what an object that was actually returned costs, so the
// difference between requested and actual cost can go back to the bucket.
func (r *request) countActual(typeName string) {
	switch {
	case r.inMutation:
	case strings.HasSuffix(typeName, "Connection"):
		r.actual += 2
	case strings.HasSuffix(typeName, "Edge"), typeName == "PageInfo":
	default:
		r.actual++
	}
}

func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
		return rv.IsNil()
	}
	return false
}
