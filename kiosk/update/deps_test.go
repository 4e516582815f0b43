package update_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The update path must stay pure Go: a broken OpenCV or Fyne must never
// keep a terminal from updating or rolling back.
func TestNoCgoDependencies(t *testing.T) {
	pkgs := []string{"eidkiosk/kiosk/update", "eidkiosk/authority/release", "eidkiosk/updatemeta", "eidkiosk/kiosk/lease",
		"eidkiosk/kiosk/heartbeat", "eidkiosk/kiosk/metrics", "eidkiosk/authority/fleet"}
	out, err := exec.Command("go", append([]string{"list", "-deps", "-f", "{{.ImportPath}} {{len .CgoFiles}}"}, pkgs...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		if strings.HasPrefix(f[0], "gocv.io/") || strings.HasPrefix(f[0], "fyne.io/") ||
			(f[1] != "0" && !strings.HasPrefix(f[0], "runtime/") && f[0] != "net" && f[0] != "os/user" && f[0] != "plugin") {
			t.Errorf("%s (cgo files: %s) is a dependency of the update path", f[0], f[1])
		}
	}
}
