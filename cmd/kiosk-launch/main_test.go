package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoCgo keeps the launcher free of cgo packages (Fyne, OpenCV): it must
// start whatever state a new slot's libraries are in.
func TestNoCgo(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{if .CgoFiles}}cgo{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, cgo, _ := strings.Cut(line, " ")
		if strings.HasPrefix(pkg, "fyne.io/") || strings.HasPrefix(pkg, "gocv.io/") {
			t.Errorf("the launcher depends on %s", pkg)
		}
		if cgo == "cgo" && pkg != "runtime/cgo" && !strings.HasPrefix(pkg, "net") && pkg != "os/user" {
			t.Errorf("the launcher depends on cgo package %s", pkg)
		}
	}
}
