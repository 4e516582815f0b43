package provisioning_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the kiosk side of provisioning pure Go and free of
// the authority's code: the kiosk binary links it, and it must build and
// test in seconds without OpenCV, Fyne or a database.
func TestDependencies(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not in PATH")
	}
	out, err := exec.Command(goBin, "list", "-deps", "eidkiosk/provisioning", "eidkiosk/provisioning/selftest", "eidkiosk/provisioning/devkey").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{"gocv.io/", "fyne.io/", "eidkiosk/authority", "modernc.org/sqlite", "github.com/jackc/pgx", "eidkiosk/ui", "eidkiosk/drivers/"}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if strings.HasPrefix(dep, f) {
				t.Errorf("provisioning depends on %s", dep)
			}
		}
	}
}
