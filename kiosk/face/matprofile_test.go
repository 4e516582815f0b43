//go:build matprofile

package face

import (
	"bytes"
	"context"
	"image"
	"io"
	"testing"

	"gocv.io/x/gocv"

	"eidkiosk/kiosk/face/liveness"
	"eidkiosk/kiosk/session"
)

// TestMatProfileNoLeaks runs hundreds of frames through every path that
// makes Mats (camera, preview, analyzer and its models, capture with
// portrait, evidence and matcher samples, check, the evaluation set builder and runner) and asserts
// that every Mat was closed. Run: go test -tags matprofile -run MatProfile ./kiosk/face/
func TestMatProfileNoLeaks(t *testing.T) {
	if n := gocv.MatProfile.Count(); n != 0 {
		t.Fatalf("%d Mats open before the test", n)
	}
	func() {
		cam := demoCamera(t)
		defer cam.Close()
		samples := 0
		c, err := NewCapturer(Options{Camera: cam, Settings: DemoSettings(), OnSamples: func(_ context.Context, s []Sample) error {
			samples += len(s)
			return nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() { // the UI's preview, concurrently
			defer close(done)
			dst := image.NewRGBA(image.Rect(0, 0, 320, 240))
			for {
				select {
				case <-stop:
					return
				default:
					c.Preview(dst)
				}
			}
		}()
		frames := 0
		for _, nonce := range []string{"visit-0000", "visit-0006"} {
			res, err := c.Capture(context.Background(), []byte(nonce), func(p session.FaceProgress) { frames++ })
			if err != nil {
				t.Fatalf("capture: %v", err)
			}
			if len(res.Portrait) == 0 {
				t.Fatal("no portrait")
			}
		}
		// A capture cancelled half way.
		ctx, cancel := context.WithCancel(context.Background())
		n := 0
		_, err = c.Capture(ctx, []byte("visit-cancel"), func(session.FaceProgress) {
			if n++; n == 30 {
				cancel()
			}
		})
		if err == nil {
			t.Fatal("cancelled capture succeeded")
		}
		close(stop)
		<-done
		if err := Check(context.Background(), cam, io.Discard, CheckOptions{Settings: DemoSettings(), Frames: 100}); err != nil {
			t.Fatal(err)
		}
		if frames < 100 || samples < 10 {
			t.Fatalf("only %d frames, %d samples", frames, samples)
		}
	}()
	dir := t.TempDir()
	if err := GenerateEvalSet(sharedFaces(t), dir, GenOptions{Quick: true}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Evaluate(context.Background(), dir, EvalOptions{Liveness: liveness.DefaultConfig()}); err != nil {
		t.Fatal(err)
	}
	if n := gocv.MatProfile.Count(); n != 0 {
		var b bytes.Buffer
		gocv.MatProfile.WriteTo(&b, 1)
		t.Fatalf("%d Mats not closed:\n%s", n, b.String())
	}
}
