package face

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"eidkiosk/drivers/camera"
	"eidkiosk/kiosk/config"
)

// Issue 20 finding 5: `kioskctl face check` on a source that never opens
// printed "camera fault … (re-opening)" ~300,000 times a second, ignored
// --frames and never returned. With the real camera driver on a missing
// device it now prints the fault once, honours Frames, and gives up after
// FaultTimeout with an error wrapping camera.ErrFault.
func TestProbeCheckOnBadCamera(t *testing.T) {
	open := func() *camera.Camera {
		cam, err := OpenCamera(config.CameraConfig{Source: "file:" + filepath.Join(t.TempDir(), "missing.mp4"), Width: 640, Height: 480, FPS: 15}, CameraHooks{})
		if err != nil {
			t.Fatal(err)
		}
		return cam
	}
	s := KioskSettings()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	cam := open()
	var out strings.Builder
	err := Check(ctx, cam, &out, CheckOptions{Settings: s, Frames: 5, FaultTimeout: time.Minute})
	cam.Close()
	if err != nil || ctx.Err() != nil {
		t.Fatalf("--frames 5 on a bad camera: %v (ctx %v)", err, ctx.Err())
	}
	if n := strings.Count(out.String(), "\n"); n != 1 || !strings.HasPrefix(out.String(), "camera fault") {
		t.Fatalf("%d fault lines for one fault:\n%s", n, out.String())
	}

	cam = open()
	out.Reset()
	err = Check(ctx, cam, &out, CheckOptions{Settings: s, FaultTimeout: 500 * time.Millisecond})
	cam.Close()
	if !errors.Is(err, camera.ErrFault) || ctx.Err() != nil {
		t.Fatalf("without --frames: %v (ctx %v)", err, ctx.Err())
	}
	if n := strings.Count(out.String(), "\n"); n != 1 {
		t.Fatalf("%d lines printed, want the one fault line:\n%s", n, out.String())
	}
}
