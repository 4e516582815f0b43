package registry

import (
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"eidkiosk/authority/guard"
	"eidkiosk/provisioning/protocol"
)

// Limits on what an unauthenticated caller may send, checked before
// anything is stored. A hardware serial (DMI product serial, a board's
// serial) is at most a few dozen characters; a token is 32 characters plus
// the dashes and spaces a technician types; a software version is short.
const (
	MaxSerial    = 128
	MaxToken     = 64
	MaxSoftware  = 64
	MaxTPMPublic = 1024 // a TPM2B_PUBLIC of an ECC P-256 key is about 90 bytes
)

// Default request rates per source address (and for all sources together)
// on the provisioning and renewal endpoints. A technician provisions one
// terminal and may retype a token a few times: ten at once, then one every
// 20 s. A station renews once per certificate lifetime. The global bucket
// caps what many addresses together can add to the audit log (5 a second).
var (
	DefaultProvisionRate = guard.Rate{Every: 20 * time.Second, Burst: 10}
	DefaultRenewRate     = guard.Rate{Every: time.Minute, Burst: 5}
	DefaultGlobalRate    = guard.Rate{Every: 200 * time.Millisecond, Burst: 50}
)

// printable reports whether s is 1..n bytes of printable ASCII.
func printable(s string, n int) bool {
	if s == "" || len(s) > n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// bounded makes an untrusted value safe to store and print: at most n
// bytes of it, control characters and invalid UTF-8 escaped as Go does in
// %q (without the quotes), and "…" when it was cut.
func bounded(s string, n int) string {
	cut := false
	if len(s) > n {
		s, cut = s[:n], true
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == utf8.RuneError || r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029':
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	if cut {
		b.WriteString("…")
	}
	return b.String()
}

// limited wraps h in a per-source rate limit answering a JSON refusal
// (too_many_requests, 429) with Retry-After.
func limited(l *guard.Limiter, h http.HandlerFunc) http.Handler {
	return l.Handler(h, func(w http.ResponseWriter, retry time.Duration) {
		writeJSON(w, http.StatusTooManyRequests, &protocol.Refusal{Reason: protocol.ReasonTooMany,
			Message: "too many requests from this address: try again in " + retry.String()})
	})
}
