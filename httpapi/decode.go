package httpapi

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/allot/allot"
)

// MaxBody bounds a JSON request body.
const MaxBody = 1 << 20

// decode reads a JSON body into v, strictly: unknown fields, wrong types,
// trailing data and oversized bodies are refused with an error that names
// the field, as "lines[2].quantity". Each of required, as
// "lines[].quantity", names a key that must be present wherever its parent
// is: a quantity left out is refused, not taken for 0.
func decode(r *http.Request, v any, required ...string) error {
	return decodeLimit(r, v, MaxBody, required...)
}

// decodeLimit is decode for a body of up to limit bytes.
func decodeLimit(r *http.Request, v any, limit int64, required ...string) error {
	body, err := readBody(r, limit)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return allot.FieldError("body", "a JSON object is required")
	}
	if err := decodeBytes(body, v); err != nil {
		return err
	}
	if keysSurelyThere(v, required) {
		return nil
	}
	return requireKeys(body, required)
}

// decodeOptional is decode for bodies that may be empty.
func decodeOptional(r *http.Request, v any, required ...string) (bool, error) {
	body, err := readBody(r, MaxBody)
	if err != nil || len(bytes.TrimSpace(body)) == 0 {
		return false, err
	}
	if err := decodeBytes(body, v); err != nil {
		return true, err
	}
	if keysSurelyThere(v, required) {
		return true, nil
	}
	return true, requireKeys(body, required)
}

// requireKeys checks that body, already decoded, has each key of required
// wherever its parent is: "lines[].quantity" in every object of lines,
// "all_skus.quantity" in all_skus when it is an object.
func requireKeys(body []byte, required []string) error {
	if len(required) == 0 {
		return nil
	}
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil // decodeBytes took it: nothing to check
	}
	for _, pattern := range required {
		if field := missingKey(doc, "", strings.Split(pattern, ".")); field != "" {
			return allot.FieldError(field, "is required")
		}
	}
	return nil
}

// keysSurelyThere reports whether v, a pointer to the zero value the body
// was just decoded into, shows every key of required present: a key
// decoded into a value other than zero was in the body. A zero value may
// be a key left out, or one given as 0 or null, and any path v's type
// does not hold plainly is a doubt too: requireKeys then reads the body
// itself. An order's quantities are seldom 0, so its body is parsed once.
func keysSurelyThere(v any, required []string) bool {
	rv := reflect.ValueOf(v)
	for _, pattern := range required {
		if !surelyThere(rv, strings.Split(pattern, ".")) {
			return false
		}
	}
	return true
}

func surelyThere(v reflect.Value, segments []string) bool {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return true // no parent: nothing is required of it
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return false
	}
	name, each := strings.CutSuffix(segments[0], "[]")
	f, ok := fieldByJSON(v, name)
	switch {
	case !ok:
		return false
	case len(segments) == 1:
		return !f.IsZero()
	case !each:
		return surelyThere(f, segments[1:])
	case f.Kind() != reflect.Slice:
		return false
	}
	for i := range f.Len() {
		if !surelyThere(f.Index(i), segments[1:]) {
			return false
		}
	}
	return true
}

var jsonIndexes sync.Map // reflect.Type → map[string][]int, a field's index by its JSON name

// fieldByJSON returns the field of v, a struct, that encoding/json fills
// from key name.
func fieldByJSON(v reflect.Value, name string) (reflect.Value, bool) {
	t := v.Type()
	m, ok := jsonIndexes.Load(t)
	if !ok {
		index := map[string][]int{}
		for _, f := range reflect.VisibleFields(t) {
			key, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || f.Anonymous || key == "-" {
				continue
			}
			if _, dup := index[cmp.Or(key, f.Name)]; !dup {
				index[cmp.Or(key, f.Name)] = f.Index
			}
		}
		m, _ = jsonIndexes.LoadOrStore(t, index)
	}
	index, ok := m.(map[string][]int)[name]
	if !ok {
		return reflect.Value{}, false
	}
	f, err := v.FieldByIndexErr(index)
	return f, err == nil
}

// missingKey returns the path of the first place where the key that ends
// segments is missing, under v at path.
func missingKey(v any, path string, segments []string) string {
	obj, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	seg, each := strings.CutSuffix(segments[0], "[]")
	p := seg
	if path != "" {
		p = path + "." + seg
	}
	child, present := obj[seg]
	if len(segments) == 1 {
		if !present {
			return p
		}
		return ""
	}
	if !each {
		return missingKey(child, p, segments[1:])
	}
	list, _ := child.([]any)
	for i, item := range list {
		if field := missingKey(item, fmt.Sprintf("%s[%d]", p, i), segments[1:]); field != "" {
			return field
		}
	}
	return ""
}

func readBody(r *http.Request, limit int64) ([]byte, error) {
	if n := r.ContentLength; n > 0 && n <= limit {
		// Sized by its Content-Length, which net/http holds the body to:
		// read in one buffer rather than one grown from 512 bytes.
		body := make([]byte, n)
		if _, err := io.ReadFull(r.Body, body); err != nil {
			return nil, allot.FieldError("body", "could not be read: %v", err)
		}
		return body, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, allot.FieldError("body", "could not be read: %v", err)
	}
	if int64(len(body)) > limit {
		return nil, &allot.Error{Code: TooLarge, Field: "body", Message: fmt.Sprintf("is larger than %d bytes", limit)}
	}
	return body, nil
}

func decodeBytes(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(body, reflect.TypeOf(v), err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return allot.FieldError("body", "holds more than one JSON value")
	}
	// encoding/json matches keys whatever their case; allot's names are
	// exact, so "Quantity" is refused rather than taken for "quantity".
	// The walk that names the field runs only when a key of the body
	// could be a name of the type in another case.
	if t := reflect.TypeOf(v); mayMiscase(body, namesOf(t)) {
		if p := locate(body, t, unknown); p != "" {
			return allot.FieldError(p, "is not a field allot knows (names are lower case, as documented)")
		}
	}
	// No text allot keeps may hold a NUL, and PostgreSQL cannot store or
	// even look one up: refused here once, naming the field, rather than
	// failing inside a query.
	if bytes.Contains(body, []byte(`\u0000`)) {
		if p := locate(body, nil, nul); p != "" {
			return allot.FieldError(p, "holds a NUL character (\\u0000)")
		}
	}
	return nil
}

// jsonError turns a decoding error of body into v's type t into an
// Invalid error naming the field.
func jsonError(body []byte, t reflect.Type, err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var parse *time.ParseError
	switch {
	case errors.As(err, &syntax):
		return allot.FieldError("body", "is not valid JSON: %s (at byte %d)", strings.TrimPrefix(syntax.Error(), "json: "), syntax.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return allot.FieldError("body", "is not valid JSON: it ends too early")
	case errors.As(err, &typ):
		field := locate(body, t, misfit)
		if field == "" {
			field = typ.Field
		}
		if field == "" {
			return allot.FieldError("body", "must be a JSON object, not %s", typ.Value)
		}
		return allot.FieldError(field, "must be %s, not %s", kindOf(typ.Type), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return allot.FieldError(orBody(locate(body, t, unknown)), "is not a field allot knows")
	case errors.As(err, &parse):
		return allot.FieldError(orBody(locate(body, t, badTime)), "must be a time like 2026-11-26T09:00:00Z (RFC 3339), not %q", parse.Value)
	}
	if field := locate(body, t, badTime); field != "" {
		// time.Time refuses what is not a JSON string with an error of its own.
		return allot.FieldError(field, "must be a time like 2026-11-26T09:00:00Z (RFC 3339), as a string")
	}
	return allot.FieldError("body", "is not valid: %v", err)
}

func orBody(field string) string {
	if field == "" {
		return "body"
	}
	return field
}

func kindOf(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "a whole number within range"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "an array"
	case reflect.Struct, reflect.Map:
		if t == timeType {
			return "a time like 2026-11-26T09:00:00Z"
		}
		return "an object"
	}
	return "of type " + t.String()
}

// What locate looks for.
type fault int

const (
	unknown fault = iota // a key the Go type has no field for
	misfit               // a value that does not fit its Go type
	badTime              // a value of a time field that is no RFC 3339 string
	nul                  // a key or string value holding a NUL character
)

var (
	timeType        = reflect.TypeOf(time.Time{})
	unmarshalerType = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()
)

// locate walks body along the Go type t, as encoding/json decodes it, and
// returns the path, as "lines[0].sku", of the first fault of the kind
// asked for; "" if there is none. The decoder reports the first fault of
// a body in document order, and so does this walk.
func locate(body []byte, t reflect.Type, want fault) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	path, _ := walk(dec, t, "", want)
	return path
}

// walk reads one value from dec, of Go type t (nil: not known, not
// checked), at path. It returns the path of a fault and true, or true alone
// when the body ends early.
func walk(dec *json.Decoder, t reflect.Type, path string, want fault) (string, bool) {
	tok, err := dec.Token()
	if err != nil {
		return "", true
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	isTime := t == timeType
	if t != nil && (t.Kind() == reflect.Interface || (!isTime && reflect.PointerTo(t).Implements(unmarshalerType))) {
		t = nil // decodes itself: not checked
	}
	switch tok {
	case json.Delim('{'):
		if t != nil && !(t.Kind() == reflect.Struct && !isTime) && t.Kind() != reflect.Map {
			if want == misfit || (want == badTime && isTime) {
				return path, true
			}
			t = nil
		}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return "", true
			}
			key, _ := k.(string)
			p := key
			if path != "" {
				p = path + "." + key
			}
			if want == nul && strings.ContainsRune(key, 0) {
				return p, true
			}
			var ft reflect.Type
			switch {
			case t == nil:
			case t.Kind() == reflect.Map:
				ft = t.Elem()
			default:
				var ok bool
				if ft, ok = fieldOf(t, key); !ok && want == unknown {
					return p, true
				}
			}
			if found, stop := walk(dec, ft, p, want); stop {
				return found, true
			}
		}
		_, err := dec.Token()
		return "", err != nil
	case json.Delim('['):
		var elem reflect.Type
		switch {
		case t == nil:
		case t.Kind() == reflect.Slice || t.Kind() == reflect.Array:
			elem = t.Elem()
		case want == misfit || (want == badTime && isTime):
			return path, true
		}
		for i := 0; dec.More(); i++ {
			if found, stop := walk(dec, elem, fmt.Sprintf("%s[%d]", path, i), want); stop {
				return found, true
			}
		}
		_, err := dec.Token()
		return "", err != nil
	}
	if want == nul {
		if str, ok := tok.(string); ok && strings.ContainsRune(str, 0) {
			return path, true
		}
		return "", false
	}
	if t == nil || tok == nil || want == unknown || (want == badTime && !isTime) {
		return "", false
	}
	if !fits(t, tok) {
		return path, true
	}
	return "", false
}

// fits reports whether a scalar token decodes into t.
func fits(t reflect.Type, tok json.Token) bool {
	switch v := tok.(type) {
	case bool:
		return t.Kind() == reflect.Bool
	case string:
		if t == timeType {
			raw, _ := json.Marshal(v)
			return new(time.Time).UnmarshalJSON(raw) == nil
		}
		return t.Kind() == reflect.String
	case json.Number:
		switch t.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			_, err := strconv.ParseInt(string(v), 10, t.Bits())
			return err == nil
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			_, err := strconv.ParseUint(string(v), 10, t.Bits())
			return err == nil
		case reflect.Float32, reflect.Float64:
			return true
		}
	}
	return false
}

// fieldOf finds the field of struct t named key exactly, as its json tag
// (or, untagged, its Go name) says.
func fieldOf(t reflect.Type, key string) (reflect.Type, bool) {
	ft, ok := jsonFields(t)[key]
	return ft, ok
}

// jsonFields maps the JSON names of struct type t's fields, those of
// embedded structs included, to their types; where a name comes twice,
// the first in declaration order.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if f.Anonymous && name == "" {
				et := f.Type
				if et.Kind() == reflect.Pointer {
					et = et.Elem()
				}
				if et.Kind() == reflect.Struct {
					walk(et)
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if _, ok := out[name]; !ok {
				out[name] = f.Type
			}
		}
	}
	walk(t)
	return out
}

// names are the JSON field names of a type and of the types within it:
// exact, and in lower case.
type names struct{ exact, lower map[string]bool }

var namesCache sync.Map // reflect.Type → names

func namesOf(t reflect.Type) names {
	if n, ok := namesCache.Load(t); ok {
		return n.(names)
	}
	n := names{exact: map[string]bool{}, lower: map[string]bool{}}
	seen := map[reflect.Type]bool{}
	var visit func(t reflect.Type)
	visit = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || t == timeType || seen[t] {
			return
		}
		seen[t] = true
		for name, ft := range jsonFields(t) {
			n.exact[name], n.lower[strings.ToLower(name)] = true, true
			visit(ft)
		}
	}
	visit(t)
	namesCache.Store(t, n)
	return n
}

// mayMiscase reports whether a key of body, valid JSON, is not one of the
// exact names but matches one in another case (or holds an escape or a
// byte beyond ASCII, which encoding/json may fold too).
func mayMiscase(body []byte, n names) bool {
	for i := 0; i < len(body); i++ {
		if body[i] != '"' {
			continue
		}
		start, plain := i+1, true
		for i++; i < len(body) && body[i] != '"'; i++ {
			if body[i] == '\\' {
				plain = false
				i++
			} else if body[i] >= 0x80 {
				plain = false
			}
		}
		key := body[start:min(i, len(body))]
		j := i + 1
		for j < len(body) && (body[j] == ' ' || body[j] == '\t' || body[j] == '\n' || body[j] == '\r') {
			j++
		}
		if j >= len(body) || body[j] != ':' {
			continue // a string value
		}
		if !plain {
			return true
		}
		if !n.exact[string(key)] && n.lower[strings.ToLower(string(key))] {
			return true
		}
	}
	return false
}

// DecodeJSON decodes a JSON body into v as the API does: strictly, with
// errors that name the field. Webhook handlers use it once the body's
// signature is checked.
func DecodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return allot.FieldError("body", "a JSON object is required")
	}
	return decodeBytes(body, v)
}
