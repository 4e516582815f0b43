package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Escape makes a value that came from the network safe to print in an
// operator's terminal: control characters (tab, newline, ESC, DEL, the C1
// range), line and paragraph separators, bidirectional overrides and bytes
// that are not UTF-8 are written as Go escapes (\t, \n, \x1b, \u202e, \xff),
// so a value can neither forge a table row nor drive the terminal. Other
// text, including Chinese, passes unchanged.
func Escape(s string) string {
	clean := true
	for _, r := range s {
		if unsafeRune(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unsafeRune(r):
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func unsafeRune(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError ||
		r == '\u2028' || r == '\u2029' || (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069')
}

// Row writes one tab-separated table row (for a text/tabwriter) ending in
// a newline, each cell passed through Escape.
func Row(w io.Writer, cells ...string) {
	for i, c := range cells {
		if i > 0 {
			io.WriteString(w, "\t")
		}
		io.WriteString(w, Escape(c))
	}
	io.WriteString(w, "\n")
}
