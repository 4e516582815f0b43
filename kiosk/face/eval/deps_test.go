package eval

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDecisionsArePureGo keeps cgo at the edge: the packages that decide
// (quality gate, liveness, metrics) must not depend on OpenCV.
func TestDecisionsArePureGo(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps",
		"eidkiosk/kiosk/face/measure", "eidkiosk/kiosk/face/liveness", "eidkiosk/kiosk/face/eval").CombinedOutput()
	if err != nil {
		t.Skipf("go list unavailable: %v %s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "gocv.io/") || dep == "eidkiosk/kiosk/face" || dep == "eidkiosk/drivers/camera" {
			t.Errorf("pure package depends on %s", dep)
		}
	}
}
