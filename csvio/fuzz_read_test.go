package csvio

import (
	"bytes"
	"errors"
	"regexp"
	"slices"
	"testing"

	"github.com/allot/allot"
)

// kindOf picks a file kind: the one named, or one chosen by the bytes of
// the name, so that every input reads some kind.
func kindOf(name string) string {
	if slices.Contains(Kinds, name) {
		return name
	}
	n := 0
	for _, b := range []byte(name) {
		n += int(b)
	}
	return Kinds[n%len(Kinds)]
}

// A refusal names the line (and column) or the file.
var fileField = regexp.MustCompile(`^(file|line [0-9]+(\..+)?)$`)

// checkFileError fails t unless err refuses a file as a person can act
// on: an *allot.Error that is not internal, with a message, and, when the
// file is invalid or too large, the line ("line 3.sku") or the file.
func checkFileError(t *testing.T, kind string, data []byte, err error) {
	t.Helper()
	var e *allot.Error
	if !errors.As(err, &e) {
		t.Fatalf("%s %q: %T %v is not an *allot.Error: it would answer 500", kind, data, err, err)
	}
	if e.Code == allot.Internal || e.Message == "" {
		t.Fatalf("%s %q: %+v", kind, data, e)
	}
	if (e.Code == allot.Invalid || e.Code == "too_large") && !fileField.MatchString(e.Field) {
		t.Fatalf("%s %q: the error names %q, not a line or the file: %v", kind, data, e.Field, e)
	}
}

// Any file of any kind is read into rows, each with the line it came
// from, or refused with an error that names the line or the file.
func FuzzRead(f *testing.F) {
	f.Fuzz(func(t *testing.T, kindName string, data []byte) {
		kind := kindOf(kindName)
		tb, err := read(bytes.NewReader(data), kind)
		if err != nil {
			checkFileError(t, kind, data, err)
			return
		}
		lines := bytes.Count(data, []byte("\n")) + 1
		for _, l := range tb.lines {
			if l < 2 || l > lines {
				t.Fatalf("%s %q: a row from line %d of %d", kind, data, l, lines)
			}
		}
		switch kind {
		case "products":
			products(tb)
		case "stock":
			stock(tb)
		case "listings":
			listings(tb)
		case "allocations":
			allocations(tb)
		case "orders":
			orders(tb)
		}
		if err := tb.err(); err != nil {
			checkFileError(t, kind, data, err)
		}
	})
}
