package idcard

import (
	"errors"
	"fmt"
)

// ErrInvalid: the card's data was read but fails validation (check digit,
// date, layout). A *InvalidError wraps it.
var ErrInvalid = errors.New("idcard: card data is invalid")

// InvalidError is card data that was read but fails validation. Field names
// the field; Reason never contains the personal value itself.
type InvalidError struct {
	Field  string
	Reason string
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("idcard: invalid card data: %s: %s", e.Field, e.Reason)
}

func (e *InvalidError) Unwrap() error { return ErrInvalid }

func invalid(field, format string, args ...any) error {
	return &InvalidError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
