package wallet_test

import (
	"testing"

	"eidkiosk/internal/deptest"
)

// TestWalletIsAPhone: the wallet is the phone's side; it speaks to the
// authority over HTTP and links none of it, nor the kiosk.
func TestWalletIsAPhone(t *testing.T) {
	deptest.DepChecker{
		Pkgs: []string{"eidkiosk/wallet", "eidkiosk/cmd/eidwallet"},
		BadDeps: map[string]string{
			"eidkiosk/authority/...": "the phone talks to the authority over HTTP only",
			"eidkiosk/kiosk/...":     "the phone is not a terminal",
			"eidkiosk/drivers/...":   "the phone drives no kiosk hardware",
		},
		WantDeps: []string{"eidkiosk/eidcred"},
		NoCgo:    "the reference wallet builds anywhere, like a phone app's core",
	}.Check(t)
}
