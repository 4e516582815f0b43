// The ground floor's rule; the directory holds no package of its own.
package internal_test

import (
	"testing"

	"eidkiosk/internal/deptest"
)

// TestGroundFloorImportsNothingAbove: clock, pii, atomicfile, logging, cli
// and deptest are imported by drivers, kiosk and authority alike, so nothing
// under internal/ may climb upward to reach them.
func TestGroundFloorImportsNothingAbove(t *testing.T) {
	const why = "internal/ is the ground floor: everything imports it, it imports nothing of the floors above"
	deptest.DepChecker{
		Pkgs: []string{"eidkiosk/internal/..."},
		BadDeps: map[string]string{
			"eidkiosk/kiosk/...":     why,
			"eidkiosk/authority/...": why,
			"eidkiosk/drivers/...":   why,
			"eidkiosk/ui/...":        why,
		},
	}.Check(t)
}
