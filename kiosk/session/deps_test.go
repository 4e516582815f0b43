package session

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the engine pure Go: no UI toolkit, no OpenCV, no
// GPIO host drivers, no cgo, so it builds and tests in seconds (the way
// tailscale's tstest/deptest does).
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{if .CgoFiles}}cgo{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{"fyne.io/", "gocv.io/", "periph.io/x/host"}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, cgo, _ := strings.Cut(line, " ")
		for _, f := range forbidden {
			if strings.HasPrefix(pkg, f) {
				t.Errorf("kiosk/session depends on %s", pkg)
			}
		}
		if cgo == "cgo" && pkg != "runtime/cgo" && !strings.HasPrefix(pkg, "net") && !strings.HasPrefix(pkg, "os/user") {
			t.Errorf("kiosk/session depends on cgo package %s", pkg)
		}
	}
}
