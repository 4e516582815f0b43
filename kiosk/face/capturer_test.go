package face

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"path/filepath"
	"testing"
	"time"

	"eidkiosk/drivers/camera"
	"eidkiosk/kiosk/config"
	"eidkiosk/kiosk/face/liveness"
	"eidkiosk/kiosk/session"
)

// demoCamera is the demo's camera: the shared webcam video, looping, in lockstep.
func demoCamera(t testing.TB) *camera.Camera {
	t.Helper()
	cc := config.CameraConfig{Source: "file:" + filepath.Join(sharedFaces(t), WebcamVideo), Width: 640, Height: 480, FPS: 25, Loop: true, Pace: "lockstep"}
	cam, err := OpenCamera(cc, CameraHooks{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cam.Close() })
	return cam
}

// TestDemoVisitPassesOnTheRealVideo runs the demo's capture: the real video as
// the camera, the demo preset, nonces that give both challenge orders.
func TestDemoVisitPassesOnTheRealVideo(t *testing.T) {
	cam := demoCamera(t)
	c, err := NewCapturer(Options{Camera: cam, Settings: DemoSettings()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	orders := map[string]bool{}
	for i := 0; i < 20 && len(orders) < 2; i++ {
		nonce := fmt.Sprintf("visit-%04d", i)
		plan, _ := liveness.NewPlan([]byte(nonce), DemoSettings().Liveness)
		order := plan.Steps[0].Challenge
		if orders[order] {
			continue
		}
		orders[order] = true
		var last session.FaceProgress
		var sawChallenge bool
		start := time.Now()
		res, err := c.Capture(context.Background(), []byte(nonce), func(p session.FaceProgress) {
			last = p
			sawChallenge = sawChallenge || p.Challenge != ""
		})
		if err != nil {
			t.Fatalf("nonce %s (%v first): %v; scores %v", nonce, order, err, res.Liveness.Scores)
		}
		fmt.Printf("nonce %s: %v passed %v timings %v in %v; portrait %d bytes; scores %v\n", nonce, res.Liveness.Challenges, res.Liveness.Passed, res.Liveness.Timings, time.Since(start), len(res.Portrait), res.Liveness.Scores)
		if !res.Liveness.Live || !sawChallenge || last.Steps != 2 {
			t.Fatalf("not live or no challenge shown: %+v", res.Liveness)
		}
		if len(res.Portrait) == 0 || len(res.Portrait) > 60<<10 {
			t.Fatalf("portrait %d bytes", len(res.Portrait))
		}
		img, err := jpeg.Decode(bytes.NewReader(res.Portrait))
		if err != nil {
			t.Fatal(err)
		}
		b := img.Bounds()
		if d := b.Dx()*4 - b.Dy()*3; d < -4 || d > 4 {
			t.Fatalf("portrait %v is not 3:4", b.Size())
		}
		if len(res.Liveness.Evidence) == 0 {
			t.Fatal("no evidence frames")
		}
	}
	if len(orders) < 2 {
		t.Fatalf("the nonces gave one order only: %v", orders)
	}
	_ = errors.Is
	_ = image.Pt
}
