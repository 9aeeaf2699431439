// Package service holds allot's use cases: it validates what comes in,
// runs it in one store transaction, asks package engine what the rules
// say, writes the result and its history. The HTTP API, the CSV files, the
// CLI and the demo all go through it.
package service

import (
	"context"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/allot/allot"
	"github.com/allot/allot/store"
)

// Service runs allot's use cases over a store.
type Service struct {
	DB *store.DB
	// Now is the clock; tests set it to control time windows, holds and
	// stock report ages.
	Now func() time.Time

	// Settle is how long increases wait before they are pushed; the group
	// commit queues the pushes of its orders itself (0: 5s).
	Settle time.Duration

	placer placer // the group commit of placed orders
}

// New returns a Service on db with the real clock.
func New(db *store.DB) *Service { return &Service{DB: db, Now: time.Now} }

// Actor is who asks: a merchant and a name for the history (a token's name).
type Actor struct {
	Merchant int64
	Name     string
}

func (s *Service) write(ctx context.Context, who Actor, fn func(*store.Tx) error) error {
	if d := dryRunOf(ctx); d != nil {
		fn = d.wrap(fn) // a preview: computed, then rolled back
	}
	return s.DB.Write(ctx, who.Merchant, who.Name, s.Now(), fn)
}

func (s *Service) read(ctx context.Context, who Actor, fn func(*store.Tx) error) error {
	return s.DB.Read(ctx, who.Merchant, s.Now(), fn)
}

// Limits on what allot accepts.
const (
	MaxCodeLen  = 64   // warehouse and channel codes
	MaxSKULen   = 128  // SKUs, listing and order external ids
	MaxNameLen  = 200  // names
	MaxNoteLen  = 2000 // notes
	MaxLines    = 1000 // lines of one order, hold, inbound or allocation request
	MaxTTL      = 30 * 24 * time.Hour
	MaxPriority = 1_000_000
)

// checkCode validates a code that appears in URLs: letters, digits, and
// - _ . : only.
func checkCode(field, v string) error {
	if v == "" {
		return allot.FieldError(field, "is required")
	}
	if len(v) > MaxCodeLen {
		return allot.FieldError(field, "is longer than %d characters", MaxCodeLen)
	}
	for _, r := range v {
		if !(r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_' || r == '.' || r == ':')) {
			return allot.FieldError(field, "may hold only letters, digits and - _ . : (found %q)", r)
		}
	}
	return nil
}

// checkKey validates a SKU or an external id: printable, no surrounding
// space, not too long.
func checkKey(field, v string, max int) error {
	if v == "" {
		return allot.FieldError(field, "is required")
	}
	if len(v) > max {
		return allot.FieldError(field, "is longer than %d characters", max)
	}
	if !utf8.ValidString(v) {
		return allot.FieldError(field, "is not valid UTF-8")
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return allot.FieldError(field, "holds a control character")
		}
	}
	if unicode.IsSpace(rune(v[0])) || unicode.IsSpace(rune(v[len(v)-1])) {
		return allot.FieldError(field, "has leading or trailing space")
	}
	return nil
}

// checkText validates free text: valid UTF-8, no control characters but
// newlines and tabs, not too long.
func checkText(field, v string, max int) error {
	if len(v) > max {
		return allot.FieldError(field, "is longer than %d characters", max)
	}
	if !utf8.ValidString(v) {
		return allot.FieldError(field, "is not valid UTF-8")
	}
	for _, r := range v {
		if unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' {
			return allot.FieldError(field, "holds a control character")
		}
	}
	return nil
}

// checkQuantity validates a quantity between min and allot.MaxQuantity.
func checkQuantity(field string, q, min int) error {
	if q < min {
		if min == 0 {
			return allot.FieldError(field, "must be 0 or more, not %d", q)
		}
		return allot.FieldError(field, "must be %d or more, not %d", min, q)
	}
	if q > allot.MaxQuantity {
		return allot.FieldError(field, "must be at most %d, not %d", allot.MaxQuantity, q)
	}
	return nil
}

func lineField(i int, name string) string { return fmt.Sprintf("lines[%d].%s", i, name) }

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// ifMissingAt is ifMissing for what a request names in its path (prefix
// empty): the thing is not found, so the error stays NotFound, naming the
// field. In a file (prefix naming the line) it is an Invalid error about
// the line's field, as ifMissing makes.
func ifMissingAt(err error, prefix, field, format string, args ...any) error {
	if prefix != "" || allot.ErrorCode(err) != allot.NotFound {
		return ifMissing(err, prefix+field, format, args...)
	}
	return &allot.Error{Code: allot.NotFound, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ifMissing turns a NotFound error about something the request names into
// an Invalid error about the field that named it; other errors pass.
func ifMissing(err error, field, format string, args ...any) error {
	if allot.ErrorCode(err) == allot.NotFound {
		return allot.FieldError(field, format, args...)
	}
	return err
}
