package allot

import (
	"errors"
	"fmt"
)

// Error codes. The HTTP layer maps each to one status in one place; any
// error that is not an *Error is reported as Internal and logged, not shown.
const (
	Invalid           = "invalid"            // 400: bad input, names the field
	Unauthorized      = "unauthorized"       // 401
	NotFound          = "not_found"          // 404, also for another merchant's ids
	Conflict          = "conflict"           // 409
	InsufficientStock = "insufficient_stock" // 409, with the shortfall per SKU
	TooMany           = "too_many_requests"  // 429
	Internal          = "internal"           // 500
)

// Error is the one error type of allot's domain: a code for programs, a
// message for people, and the field at fault when there is one.
type Error struct {
	Code      string
	Message   string
	Field     string
	Shortfall []Shortfall
}

// Shortfall says how far one SKU of a placed order or hold is from fitting.
type Shortfall struct {
	SKU       string `json:"sku"`
	Requested int    `json:"requested"`
	Sellable  int    `json:"sellable"`
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", e.Code, e.Field, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with a formatted message and no field.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError returns an Invalid error about one field.
func FieldError(field, format string, args ...any) *Error {
	return &Error{Code: Invalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err, Internal if it is not an *Error.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// ErrorMessage returns the message of err for people; internal errors are
// not described, since their text may carry details that must not leak.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
