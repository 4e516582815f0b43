package main

import (
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBinary builds kioskctl once and runs its simulations as a person
// does: `kioskctl demo` (see demoCommand) and `kioskctl sim kiosk` in a
// window with the console on stdin (see simKioskWindow).
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds kioskctl and runs the whole kiosk on simulated hardware")
	}
	if _, err := exec.LookPath("Xvfb"); err != nil {
		t.Skip("Xvfb not installed (make deps)")
	}
	bin := buildKioskctl(t)
	t.Run("Demo", func(t *testing.T) { demoCommand(t, bin) })
	t.Run("SimKioskWindow", func(t *testing.T) { simKioskWindow(t, bin) })
}

// demoCommand runs `kioskctl demo` as `make demo` does, on a machine
// without a display: the UI under Xvfb, one visit, the screenshots saved.
func demoCommand(t *testing.T, bin string) {
	dir := t.TempDir()
	shots := filepath.Join(dir, "shots")
	cmd := exec.Command(bin, "demo", "--screenshots", shots)
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "DISPLAY=") && !strings.HasPrefix(e, "WAYLAND_DISPLAY=") {
			env = append(env, e)
		}
	}
	cmd.Env = append(env, "LANGUAGE=zh_CN")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kioskctl demo: %v\n%s", err, out)
	}
	for _, want := range []string{"under Xvfb", "the authority verified, opened and stored it", "done in"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	files, _ := filepath.Glob(filepath.Join(shots, "*.png"))
	if len(files) != 5 {
		t.Fatalf("%d screenshots, want 5: %v", len(files), files)
	}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(fh)
		fh.Close()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		// The header band of the kiosk theme, not a black frame.
		b := img.Bounds()
		r, g, bl, _ := img.At(b.Min.X+b.Dx()/2, b.Min.Y+10).RGBA()
		if r == 0 && g == 0 && bl == 0 {
			t.Errorf("%s is black at the header", f)
		}
	}
}
