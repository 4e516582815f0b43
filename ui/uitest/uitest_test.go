package uitest

import (
	"context"
	"image"
	"image/color"
	"os"
	"testing"
	"time"
)

func TestProcSamplesThisProcess(t *testing.T) {
	p := Proc{Pid: os.Getpid()}
	rss, err := p.RSS()
	if err != nil || rss < 1<<20 {
		t.Fatalf("RSS %d, %v", rss, err)
	}
	c0, err := p.CPU()
	if err != nil {
		t.Fatal(err)
	}
	// Burn some CPU: the counter must move.
	x := 0
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); {
		x++
	}
	c1, _ := p.CPU()
	if c1 <= c0 {
		t.Errorf("CPU time did not grow: %v → %v (%d)", c0, c1, x)
	}
	if _, err := (Proc{Pid: 1 << 30}).RSS(); err == nil {
		t.Error("RSS of a missing process")
	}
	share, err := p.CPUShare(context.Background(), 50*time.Millisecond)
	if err != nil || share < 0 {
		t.Errorf("CPU share %v %v", share, err)
	}
}

func TestShare(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 10, 10))
	blue := color.NRGBA{10, 74, 158, 255}
	for y := 0; y < 10; y++ {
		for x := 0; x < 5; x++ {
			img.Set(x, y, blue)
		}
	}
	if got := Share(img, img.Bounds(), blue, 0); got != 0.5 {
		t.Errorf("share %v, want 0.5", got)
	}
	if got := Share(img, image.Rect(0, 0, 5, 10), color.NRGBA{12, 70, 160, 255}, 5); got != 1 {
		t.Errorf("share within tolerance %v, want 1", got)
	}
	if got := Share(img, image.Rect(20, 20, 30, 30), blue, 0); got != 0 {
		t.Errorf("share outside %v", got)
	}
}

func TestBufferAndEnv(t *testing.T) {
	var b Buffer
	b.Write([]byte("frames=1"))
	if b.String() != "frames=1" || b.Len() != 8 {
		t.Error(b.String())
	}
	d := &Display{Num: 93}
	env := d.Env([]string{"DISPLAY=:0", "WAYLAND_DISPLAY=wayland-0", "HOME=/root"})
	if len(env) != 2 || env[1] != "DISPLAY=:93" || env[0] != "HOME=/root" {
		t.Errorf("env %q", env)
	}
}

// TestXvfbScreenshot starts a real Xvfb and takes a screenshot of its
// empty root window.
func TestXvfbScreenshot(t *testing.T) {
	d := StartT(t, 320, 240)
	img, err := d.Screenshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() != 320 || img.Bounds().Dy() != 240 {
		t.Errorf("screenshot %v, want 320x240", img.Bounds())
	}
}
