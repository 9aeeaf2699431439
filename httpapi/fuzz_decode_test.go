package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/allot/allot"
	"github.com/allot/allot/service"
)

// decodeTargets are the request bodies of the API, each with the keys its
// handler requires, as the handlers decode them.
var decodeTargets = []struct {
	name     string
	new      func() any
	required []string
	optional bool // decodeOptional: an empty body is no body
}{
	{"product", func() any { return new(productBody) }, nil, false},
	{"bundle", func() any { return new(bundleBody) }, []string{"components[].quantity"}, false},
	{"warehouse", func() any {
		return new(struct {
			Name string `json:"name"`
		})
	}, nil, true},
	{"stock", func() any { return new(stockBody) }, nil, false},
	{"inbound", func() any { return new(inboundBody) }, []string{"lines[].quantity"}, false},
	{"receive", func() any { return new(struct{}) }, nil, true},
	{"channel", func() any { return new(channelBody) }, nil, false},
	{"listing", func() any { return new(listingBody) }, nil, false},
	{"rules", func() any { return new(service.RulesPatch) }, nil, false},
	{"allocation", func() any { return new(service.AllocationParams) }, []string{"lines[].quantity", "all_skus.quantity"}, false},
	{"allocation patch", func() any { return new(service.AllocationPatch) }, []string{"lines[].quantity", "all_skus.quantity"}, false},
	{"buffer", func() any { return new(service.BufferParams) }, []string{"lines[].quantity", "all_skus.quantity"}, false},
	{"stop", func() any { return new(service.StopParams) }, nil, false},
	{"order", func() any { return new(service.OrderParams) }, []string{"lines[].quantity"}, false},
	{"cancel or ship", func() any { return new(linesBody) }, []string{"lines[].quantity"}, true},
	{"hold", func() any { return new(service.HoldParams) }, []string{"lines[].quantity"}, false},
	{"confirm", func() any { return new(service.ConfirmParams) }, nil, true},
}

// checkRefusal fails t unless err is a refusal a person can act on: an
// *allot.Error, invalid or too_large, naming the field, with a message.
func checkRefusal(t *testing.T, what string, err error) {
	t.Helper()
	var e *allot.Error
	if !errors.As(err, &e) {
		t.Fatalf("%s: %T %v is not an *allot.Error: it would answer 500", what, err, err)
	}
	if e.Code != allot.Invalid && e.Code != TooLarge {
		t.Fatalf("%s: code %s, want invalid or too_large: %v", what, e.Code, e)
	}
	if e.Field == "" || e.Message == "" {
		t.Fatalf("%s: the error does not name the field, or says nothing: %+v", what, e)
	}
	if !utf8.ValidString(e.Field) || !utf8.ValidString(e.Message) {
		t.Fatalf("%s: the error is not valid UTF-8: %q %q", what, e.Field, e.Message)
	}
}

// Every JSON body, whatever its bytes, is decoded or refused with an
// invalid (or too_large) error that names the field; what is decoded
// encodes back to a body that decodes again.
func FuzzDecode(f *testing.F) {
	f.Add(uint8(13), []byte(`{"channel":"b2c","external_id":"1001","lines":[{"sku":"tee","quantity":2}],"payment":"paid"}`))
	f.Add(uint8(9), []byte(`{"purpose":"reserve","channels":[{"channel":"b2b","rule":"use_available"}],"lines":[{"sku":"tee","quantity":30}]}`))
	f.Add(uint8(3), []byte(`{"in_warehouse":100,"damaged":2,"as_of":"2026-11-26T08:00:00Z"}`))
	f.Fuzz(func(t *testing.T, target uint8, body []byte) {
		tg := decodeTargets[int(target)%len(decodeTargets)]
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		v := tg.new()
		var err error
		if tg.optional {
			_, err = decodeOptional(r, v, tg.required...)
		} else {
			err = decode(r, v, tg.required...)
		}
		if err != nil {
			checkRefusal(t, tg.name, err)
			return
		}
		if _, ok := v.(*service.RulesPatch); ok {
			return // its fields tell "absent" from "null": they do not encode back
		}
		again, merr := json.Marshal(v)
		if merr != nil {
			t.Fatalf("%s: decoded %+v does not encode: %v", tg.name, v, merr)
		}
		if err := DecodeJSON(again, tg.new()); err != nil {
			t.Fatalf("%s: %s decoded, but its encoding %s is refused: %v", tg.name, body, again, err)
		}
	})
}

// The query helpers read any query string: a value within its bounds, or
// an invalid error naming the parameter.
func FuzzQuery(f *testing.F) {
	f.Add("s=abc&n=7&b=true&t=2026-11-26T09:00:00Z")
	f.Add("n=-1&b=maybe&t=yesterday")
	f.Fuzz(func(t *testing.T, raw string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.URL.RawQuery = raw
		q := query{r: r}
		s := q.str("s", 10)
		n := q.int("n", 5, 1, 100)
		b := q.bool("b")
		ts := q.time("t")
		if q.err != nil {
			checkRefusal(t, "query "+raw, q.err)
			var e *allot.Error
			errors.As(q.err, &e)
			if !strings.Contains("s n b t", e.Field) || len(e.Field) != 1 {
				t.Fatalf("query %q: the error names %q, not one of the parameters", raw, e.Field)
			}
			return
		}
		vals, _ := url.ParseQuery(raw)
		if len(s) > 10 || n < 1 || n > 100 || (b && vals.Get("b") == "") {
			t.Fatalf("query %q read as s=%q n=%d b=%v: out of bounds", raw, s, n, b)
		}
		if vals.Get("n") == "" && n != 5 {
			t.Fatalf("query %q: n absent but read as %d, not the default", raw, n)
		}
		if vals.Get("t") == "" && !ts.IsZero() {
			t.Fatalf("query %q: t read as %v", raw, ts)
		}
	})
}

// The quick scan that decides whether a body needs the walk for keys in
// the wrong case never lets one through: every key of every request type,
// in other cases, at the top and nested, is caught, and exact keys are not
// walked at all.
func TestMiscaseScanCatchesWhatTheWalkFinds(t *testing.T) {
	for _, target := range decodeTargets {
		typ := reflect.TypeOf(target.new())
		n := namesOf(typ)
		for name := range n.exact {
			for _, key := range []string{strings.ToUpper(name), strings.ToUpper(name[:1]) + name[1:], name} {
				for _, body := range []string{`{"` + key + `":0}`, `{"lines":[{"` + key + `":1}]}`,
					`{"all_skus" : {"` + key + `"` + "\n:" + `1}, "x": "` + key + `"}`} {
					found := locate([]byte(body), typ, unknown)
					scan := mayMiscase([]byte(body), n)
					if strings.HasSuffix(found, key) && key != name && !scan {
						t.Errorf("%s: %s: the walk finds %q, the scan lets it through", target.name, body, found)
					}
					if key == name && scan {
						t.Errorf("%s: %s: exact keys are walked", target.name, body)
					}
				}
			}
		}
		if !mayMiscase([]byte(`{"\u0071uantity":1}`), n) || !mayMiscase([]byte(`{"ſku":1}`), n) {
			t.Errorf("%s: escaped or non-ASCII keys are not walked", target.name)
		}
	}
}

func TestRequiredKeysAreNamedWhereverTheirParentIs(t *testing.T) {
	required := []string{"lines[].quantity", "all_skus.quantity", "lines[].sku"}
	for _, c := range []struct{ body, want string }{
		{`{"lines":[{"sku":"a","quantity":1},{"sku":"b","quantity":0}]}`, ""},
		{`{"lines":[{"sku":"a","quantity":1},{"sku":"b"}]}`, "lines[1].quantity"},
		{`{"lines":[{"quantity":1}]}`, "lines[0].sku"},
		{`{"lines":[{"sku":"a","quantity":null}]}`, ""}, // there, if null
		{`{"lines":[null,{"sku":"a"}]}`, "lines[1].quantity"},
		{`{"lines":[1,{"sku":"a","quantity":2}]}`, ""}, // not an object: no parent
		{`{"lines":{"sku":"a"}}`, ""},                  // not an array
		{`{"all_skus":{"note":"x"}}`, "all_skus.quantity"},
		{`{"all_skus":{"quantity":3},"lines":[{"sku":"a"}]}`, "lines[0].quantity"},
		{`{"all_skus":null}`, ""},
		{`{"all_skus":5}`, ""},
		{`{}`, ""},
	} {
		got := ""
		if err := requireKeys([]byte(c.body), required); err != nil {
			var e *allot.Error
			if !errors.As(err, &e) {
				t.Fatalf("%s: %v", c.body, err)
			}
			got = e.Field
		}
		if got != c.want {
			t.Errorf("%s: missing %q, want %q", c.body, got, c.want)
		}
	}
}

// The typed value a body was decoded into answers for its required keys
// only when it can be sure: never "there" for a key the body lacks.
func TestKeysSurelyThereOnlyWhenTheyAre(t *testing.T) {
	type body struct {
		Lines   []allot.Line `json:"lines"`
		AllSKUs *struct {
			Quantity int    `json:"quantity"`
			Note     string `json:"note"`
		} `json:"all_skus"`
	}
	required := []string{"lines[].quantity", "all_skus.quantity"}
	for _, c := range []struct {
		body string
		sure bool
	}{
		{`{"lines":[{"sku":"a","quantity":1},{"sku":"b","quantity":2}]}`, true},
		{`{"lines":[{"sku":"a","quantity":1}],"all_skus":{"quantity":3}}`, true},
		{`{"lines":[{"sku":"a","quantity":1}],"all_skus":null}`, true},
		{`{}`, true},
		{`{"lines":[{"sku":"a","quantity":1},{"sku":"b"}]}`, false},
		{`{"lines":[{"sku":"a","quantity":0}]}`, false},
		{`{"lines":[{"sku":"a","quantity":null}]}`, false},
		{`{"lines":[{"sku":"a","quantity":1}],"all_skus":{"note":"x"}}`, false},
		{`{"lines":[{"sku":"a","quantity":1}],"all_skus":{"quantity":0}}`, false},
	} {
		var b body
		if err := decodeBytes([]byte(c.body), &b); err != nil {
			t.Fatalf("%s: %v", c.body, err)
		}
		sure := keysSurelyThere(&b, required)
		if sure != c.sure {
			t.Errorf("%s: surely there %v, want %v", c.body, sure, c.sure)
		}
		if sure && requireKeys([]byte(c.body), required) != nil {
			t.Errorf("%s: surely there, but a key is missing", c.body)
		}
	}
}

// An order's body decoded and its required keys checked: from the decoded
// value when it is sure (what decode does), against parsing the body
// again for them.
func BenchmarkOrderBodyDecoded(b *testing.B) {
	body := []byte(`{"channel":"web","external_id":"c12-345","lines":[{"sku":"drop","quantity":1},{"sku":"tee","quantity":2}]}`)
	required := []string{"lines[].quantity"}
	b.Run("keys from the value", func(b *testing.B) {
		for b.Loop() {
			var p service.OrderParams
			if decodeBytes(body, &p) != nil || !keysSurelyThere(&p, required) {
				b.Fatal("not decoded")
			}
		}
	})
	b.Run("keys from the body parsed again", func(b *testing.B) {
		for b.Loop() {
			var p service.OrderParams
			if decodeBytes(body, &p) != nil || requireKeys(body, required) != nil {
				b.Fatal("not decoded")
			}
		}
	})
}
