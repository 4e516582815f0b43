package release

import (
	"os/exec"
	"strings"
	"testing"
)

// The release tool runs on the publishing server and the signing machine
// as the authority's user: it links nothing of the kiosk (no OpenCV, Fyne,
// serial port, GPIO) and shares only the release format with it.
func TestNoKioskDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "eidkiosk/authority/release").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		for _, bad := range []string{"eidkiosk/kiosk/", "eidkiosk/drivers/", "eidkiosk/ui", "gocv.io/", "fyne.io/", "go.bug.st/serial", "periph.io/"} {
			if strings.HasPrefix(p, bad) {
				t.Errorf("authority/release depends on %s", p)
			}
		}
	}
}
