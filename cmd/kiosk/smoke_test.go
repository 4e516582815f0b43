package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"eidkiosk/ui"
	"eidkiosk/ui/uitest"
)

// TestSmokeAttractScreen builds the real kiosk binary, starts it with the
// simulated hardware (--sim: local authority, pty reader, webcam recording)
// in a real window under Xvfb, and checks that the screen shows the attract
// screen. It reports the time from start to the attract screen and the
// idle CPU and RSS of the whole kiosk process.
func TestSmokeAttractScreen(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the whole kiosk")
	}
	d := uitest.StartT(t, 1280, 800)
	bin := filepath.Join(t.TempDir(), "kiosk")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.Command(bin, "--sim", "--sim-dir", filepath.Join(t.TempDir(), "sim"), "--windowed")
	cmd.Env = append(os.Environ(), "LANG=zh_CN.UTF-8", "EIDKIOSK_TEST=1")
	s, err := uitest.StartProgram(ctx, d, cmd, ui.IsAttract)
	if err != nil {
		if s != nil && s.Shot != nil {
			uitest.SavePNG(filepath.Join(t.TempDir(), "last.png"), s.Shot)
		}
		t.Fatal(err)
	}
	defer s.Stop()
	t.Logf("start to attract screen: %s", s.Ready.Round(10*time.Millisecond))
	if cpu, err := s.Proc.CPUShare(ctx, 5*time.Second); err == nil {
		t.Logf("idle CPU over 5 s: %.1f%% of one core", cpu*100)
	}
	if rss, err := s.Proc.RSS(); err == nil {
		t.Logf("RSS: %.1f MiB", float64(rss)/(1<<20))
	}
	if os.Getenv("EIDKIOSK_SMOKE_SHOT") != "" {
		uitest.SavePNG(os.Getenv("EIDKIOSK_SMOKE_SHOT"), s.Shot)
	}
}
