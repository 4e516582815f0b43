package eval

import (
	"testing"

	"eidkiosk/internal/deptest"
)

// TestDecisionsArePureGo keeps cgo at the edge: the packages that decide
// (quality gate, liveness, metrics) must not depend on OpenCV.
func TestDecisionsArePureGo(t *testing.T) {
	const why = "the decisions (quality gate, liveness, metrics) stay pure Go; OpenCV lives in the adapter"
	deptest.DepChecker{
		Pkgs: []string{"eidkiosk/kiosk/face/measure", "eidkiosk/kiosk/face/liveness", "eidkiosk/kiosk/face/eval"},
		BadDeps: map[string]string{
			"gocv.io/...":             why,
			"eidkiosk/kiosk/face":     why,
			"eidkiosk/drivers/camera": why,
		},
	}.Check(t)
}
