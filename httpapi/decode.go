package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/allot/allot"
)

// MaxBody bounds a JSON request body.
const MaxBody = 1 << 20

// decode reads a JSON body into v, strictly: unknown fields, wrong types,
// trailing data and oversized bodies are refused with an error that names
// the field, as "lines[2].quantity".
func decode(r *http.Request, v any) error {
	body, err := readBody(r, MaxBody)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return allot.FieldError("body", "a JSON object is required")
	}
	return decodeBytes(body, v)
}

// decodeOptional is decode for bodies that may be empty.
func decodeOptional(r *http.Request, v any) (bool, error) {
	body, err := readBody(r, MaxBody)
	if err != nil || len(bytes.TrimSpace(body)) == 0 {
		return false, err
	}
	return true, decodeBytes(body, v)
}

func readBody(r *http.Request, limit int64) ([]byte, error) {
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
		return jsonError(body, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return allot.FieldError("body", "holds more than one JSON value")
	}
	return nil
}

// jsonError turns a decoding error into an Invalid error naming the field.
func jsonError(body []byte, err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var parse *time.ParseError
	switch {
	case errors.As(err, &syntax):
		return allot.FieldError("body", "is not valid JSON: %s (at byte %d)", strings.TrimPrefix(syntax.Error(), "json: "), syntax.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return allot.FieldError("body", "is not valid JSON: it ends too early")
	case errors.As(err, &typ):
		field := locate(body, func(_ string, end int64, _ json.Token) bool { return end == typ.Offset })
		if field == "" {
			field = typ.Field
		}
		if field == "" {
			return allot.FieldError("body", "must be a JSON object, not %s", typ.Value)
		}
		return allot.FieldError(field, "must be %s, not %s", kindOf(typ.Type), typ.Value)
	case errors.As(err, &parse):
		field := locate(body, func(_ string, _ int64, t json.Token) bool { s, ok := t.(string); return ok && s == parse.Value })
		return allot.FieldError(orBody(field), "must be a time like 2026-11-26T09:00:00Z (RFC 3339), not %q", parse.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		field := locate(body, func(key string, _ int64, t json.Token) bool { return t == nil && key == name })
		return allot.FieldError(orBody(field), "is not a field allot knows")
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
		if t == reflect.TypeOf(time.Time{}) {
			return "a time like 2026-11-26T09:00:00Z"
		}
		return "an object"
	}
	return "of type " + t.String()
}

// locate walks the JSON tokens of body and returns the path, as
// "lines[0].sku", of the first one match accepts: for keys, match gets the
// key and a nil token; for scalar values, the path's last key, the offset
// just after the value, and the token.
func locate(body []byte, match func(key string, end int64, t json.Token) bool) string {
	var stack []*frame
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	for {
		t, err := dec.Token()
		if err != nil {
			return ""
		}
		if n := len(stack); n > 0 && !stack[n-1].array && stack[n-1].wantKey {
			top := stack[n-1]
			if t == json.Delim('}') {
				stack = pop(stack)
				continue
			}
			top.key, top.wantKey = fmt.Sprint(t), false
			if match(top.key, 0, nil) {
				return pathOf(stack)
			}
			continue
		}
		switch t {
		case json.Delim('{'):
			stack = append(stack, &frame{wantKey: true})
		case json.Delim('['):
			stack = append(stack, &frame{array: true})
		case json.Delim('}'), json.Delim(']'):
			stack = pop(stack)
		default:
			key := ""
			if n := len(stack); n > 0 {
				key = stack[n-1].key
			}
			if match(key, dec.InputOffset(), t) {
				return pathOf(stack)
			}
			next(stack)
		}
	}
}

// frame is one open object or array in locate's walk.
type frame struct {
	array   bool
	index   int    // arrays: the index of the next value
	key     string // objects: the key of the current value
	wantKey bool   // objects: the next token is a key
}

// next moves past a value in the innermost container.
func next(stack []*frame) {
	if n := len(stack); n > 0 {
		if top := stack[n-1]; top.array {
			top.index++
		} else {
			top.wantKey = true
		}
	}
}

func pop(stack []*frame) []*frame {
	stack = stack[:len(stack)-1]
	next(stack)
	return stack
}

func pathOf(stack []*frame) string {
	var b strings.Builder
	for _, f := range stack {
		if f.array {
			fmt.Fprintf(&b, "[%d]", f.index)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(f.key)
	}
	return b.String()
}
