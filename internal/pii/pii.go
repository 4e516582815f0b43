// Package pii holds the types that carry a citizen's personal data through
// eidkiosk: names, ID numbers, addresses, dates of birth.
//
// A value of these types refuses to print itself: fmt (every verb), log/slog,
// encoding/json and encoding.TextMarshaler all see "[redacted]". Code that
// must show the value to the citizen on screen or seal it into an enrollment
// calls Reveal explicitly, which makes every disclosure greppable.
//
// The package does not encrypt or wipe anything by itself; sealing lives in
// enroll and wiping in kiosk/session.
package pii

import (
	"fmt"
	"log/slog"
)

// Redacted is what every personal value prints as.
const Redacted = "[redacted]"

// Text is a personal string (name, ID number, address, pass number).
type Text string

// Reveal returns the clear value. Call it only to show the value to its
// owner or to seal it.
func (t Text) Reveal() string { return string(t) }

// IsZero reports whether the value is empty.
func (t Text) IsZero() bool { return t == "" }

// String implements fmt.Stringer.
func (t Text) String() string { return Redacted }

// GoString implements fmt.GoStringer.
func (t Text) GoString() string { return Redacted }

// Format implements fmt.Formatter so that no verb (%s, %q, %x, %v, %#v) leaks.
func (t Text) Format(f fmt.State, verb rune) { fmt.Fprint(f, Redacted) }

// LogValue implements slog.LogValuer.
func (t Text) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalText implements encoding.TextMarshaler (and so JSON) as redacted.
// Encoders that must carry the value (the sealed enrollment) use Reveal.
func (t Text) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// Mask shows the first rune and the last keep runes of s and replaces the
// rest with '*': Mask("张三", 0) = "张*", Mask("44010119900307123X", 4) =
// "4401**********123X" is produced by MaskID. It never reveals more than half
// of a string.
func Mask(s string, keep int) string {
	r := []rune(s)
	n := len(r)
	if n == 0 {
		return ""
	}
	if n == 1 {
		return "*"
	}
	if keep < 0 {
		keep = 0
	}
	if 1+keep > n/2 {
		keep = n/2 - 1
		if keep < 0 {
			keep = 0
		}
	}
	out := make([]rune, n)
	for i := range r {
		switch {
		case i == 0, i >= n-keep:
			out[i] = r[i]
		default:
			out[i] = '*'
		}
	}
	return string(out)
}

// MaskID masks an identity-document number the way Chinese receipts do: the
// first four and the last four characters stay, e.g. "4401**********123X".
// Numbers of eight characters or fewer keep only their last two.
func MaskID(s string) string {
	r := []rune(s)
	n := len(r)
	if n <= 8 {
		out := []rune{}
		for i := range r {
			if i >= n-2 && n > 2 {
				out = append(out, r[i])
			} else {
				out = append(out, '*')
			}
		}
		return string(out)
	}
	out := make([]rune, n)
	for i := range r {
		if i < 4 || i >= n-4 {
			out[i] = r[i]
		} else {
			out[i] = '*'
		}
	}
	return string(out)
}

// Zero overwrites b with zeros. Use it on byte slices that held personal data
// (photos, fingerprints, portraits) before dropping them.
func Zero(b []byte) {
	clear(b)
}
