package enroll

import (
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/google/uuid"
)

// crockford is Crockford's base32 alphabet: no I, L, O, U, easy to read aloud.
var crockford = base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)

// Short is the short number printed and shown large on the receipt, e.g.
// "NS01-7K3Q-9D4P": two letters and two digits from the station (first two
// and last two of its letters and digits), then 40 bits of SHA-256 of the
// enrollment ID. The authority computes the same from the ID, so an operator
// can find an enrollment by it.
func Short(stationID, enrollmentID string) string {
	var st []rune
	for _, r := range strings.ToUpper(stationID) {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			st = append(st, r)
		}
	}
	prefix := string(st)
	if len(st) > 4 {
		prefix = string(st[:2]) + string(st[len(st)-2:])
	}
	h := sha256.Sum256([]byte(enrollmentID))
	s := crockford.EncodeToString(h[:5]) // 8 characters
	return prefix + "-" + s[:4] + "-" + s[4:]
}

// QRPrefix starts every receipt QR payload.
const QRPrefix = "EIDK1:"

// QR is the payload of the receipt's QR code: "EIDK1:" + enrollment ID +
// ":" + binding code, upper case so that it fits QR alphanumeric mode. It
// carries nothing personal: the ID names the sealed package and the binding
// code proves to the authority that the phone saw this receipt.
func QR(enrollmentID, bindingCode string) string {
	return QRPrefix + strings.ToUpper(enrollmentID) + ":" + bindingCode
}

// ParseQR splits a receipt QR payload.
func ParseQR(s string) (enrollmentID, bindingCode string, err error) {
	rest, ok := strings.CutPrefix(s, QRPrefix)
	if !ok {
		return "", "", errors.New("enroll: not a receipt code")
	}
	id, code, ok := strings.Cut(rest, ":")
	if !ok || code == "" {
		return "", "", errors.New("enroll: receipt code has no binding code")
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return "", "", fmt.Errorf("enroll: receipt code: %w", err)
	}
	return u.String(), code, nil
}

// NewBindingCode draws 100 random bits as 20 Crockford base32 characters.
func NewBindingCode(rnd io.Reader) (string, error) {
	var b [13]byte
	if _, err := io.ReadFull(rnd, b[:]); err != nil {
		return "", fmt.Errorf("enroll: binding code: %w", err)
	}
	return crockford.EncodeToString(b[:])[:20], nil
}
