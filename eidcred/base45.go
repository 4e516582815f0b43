package eidcred

import (
	"errors"
	"strings"
)

// base45Alphabet is RFC 9285's: the 45 characters of QR alphanumeric mode.
const base45Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

// errBase45 is every malformed Base45 input.
var errBase45 = errors.New("eidcred: not Base45")

// base45Encode is RFC 9285 §4: two bytes become three characters, a last
// single byte two.
func base45Encode(b []byte) string {
	var sb strings.Builder
	sb.Grow((len(b) + 1) / 2 * 3)
	for i := 0; i+1 < len(b); i += 2 {
		n := int(b[i])<<8 | int(b[i+1])
		sb.WriteByte(base45Alphabet[n%45])
		sb.WriteByte(base45Alphabet[n/45%45])
		sb.WriteByte(base45Alphabet[n/(45*45)])
	}
	if len(b)%2 == 1 {
		n := int(b[len(b)-1])
		sb.WriteByte(base45Alphabet[n%45])
		sb.WriteByte(base45Alphabet[n/45])
	}
	return sb.String()
}

// base45Decode is RFC 9285 §4.2, refusing characters outside the alphabet,
// a dangling character and groups above 0xFFFF (or 0xFF for the last pair).
func base45Decode(s string) ([]byte, error) {
	if len(s)%3 == 1 {
		return nil, errBase45
	}
	val := func(c byte) (int, bool) {
		i := strings.IndexByte(base45Alphabet, c)
		return i, i >= 0
	}
	out := make([]byte, 0, len(s)/3*2+1)
	for i := 0; i < len(s); i += 3 {
		if i+2 < len(s) {
			c, ok1 := val(s[i])
			d, ok2 := val(s[i+1])
			e, ok3 := val(s[i+2])
			n := c + d*45 + e*45*45
			if !ok1 || !ok2 || !ok3 || n > 0xFFFF {
				return nil, errBase45
			}
			out = append(out, byte(n>>8), byte(n))
			continue
		}
		c, ok1 := val(s[i])
		d, ok2 := val(s[i+1])
		n := c + d*45
		if !ok1 || !ok2 || n > 0xFF {
			return nil, errBase45
		}
		out = append(out, byte(n))
	}
	return out, nil
}
