package update_test

import (
	"testing"

	"eidkiosk/internal/deptest"
)

// The update path must stay pure Go: a broken OpenCV or Fyne must never
// keep a terminal from updating or rolling back.
func TestNoCgoDependencies(t *testing.T) {
	const why = "a broken OpenCV or Fyne must never keep a terminal from updating or rolling back"
	deptest.DepChecker{
		Pkgs: []string{"eidkiosk/kiosk/update", "eidkiosk/authority/release", "eidkiosk/updatemeta", "eidkiosk/kiosk/lease",
			"eidkiosk/kiosk/heartbeat", "eidkiosk/kiosk/metrics", "eidkiosk/authority/fleet"},
		BadDeps: map[string]string{"gocv.io/...": why, "fyne.io/...": why},
		NoCgo:   why,
	}.Check(t)
}
