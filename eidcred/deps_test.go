package eidcred_test

import (
	"testing"

	"eidkiosk/internal/deptest"
)

// TestFormatStaysLow: the authority, the wallet and the kiosk all import
// the credential format; it must bring none of them along.
func TestFormatStaysLow(t *testing.T) {
	deptest.DepChecker{
		Pkgs: []string{"eidkiosk/eidcred"},
		BadDeps: map[string]string{
			"eidkiosk/authority/...": "the format is shared; the issuer is the authority's alone",
			"eidkiosk/kiosk/...":     "the format is shared; the verifier's camera path is the kiosk's",
			"eidkiosk/drivers/...":   "no hardware in a format",
			"eidkiosk/wallet/...":    "the format is shared; the wallet is one client of it",
		},
		WantDeps: []string{"github.com/veraison/go-cose"},
		NoCgo:    "the format is pure Go so the wallet and the authority build without cgo",
	}.Check(t)
}
