// The rules every driver keeps; the directory holds no package of its own.
package drivers_test

import (
	"testing"

	"eidkiosk/internal/deptest"
)

// TestDriversSpeakTheirOwnLanguage: drivers take pins, ports and their own
// options and report in their own types; the mapping from the visit and the
// configuration to a driver lives in the kiosk's wiring.
func TestDriversSpeakTheirOwnLanguage(t *testing.T) {
	deptest.DepChecker{
		Pkgs: []string{"eidkiosk/drivers/..."},
		BadDeps: map[string]string{
			"eidkiosk/kiosk/session": "a driver does not know the visit engine: kiosk/app maps visit states and effects to driver calls",
			"eidkiosk/kiosk/config":  "a driver takes its own options: kiosk/app translates the configuration file into them",
		},
	}.Check(t)
}
