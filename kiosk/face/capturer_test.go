package face

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"eidkiosk/drivers/camera"
	"eidkiosk/facemodel"
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
}

func TestCaptureReportsCameraFault(t *testing.T) {
	cam, err := camera.New(camera.Options{
		Open:       func() (camera.Source, error) { return camera.Open("/dev/video98", camera.SourceOptions{}) },
		BackoffMin: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cam.Close()
	s := KioskSettings()
	s.FaultGrace = 300 * time.Millisecond
	c, err := NewCapturer(Options{Camera: cam, Settings: s})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Capture(context.Background(), []byte("visit-fault-1"), nil)
	if !errors.Is(err, session.ErrCameraFault) {
		t.Fatalf("err %v, want ErrCameraFault", err)
	}
}

// A frozen frame shown to the camera: the capture ends with
// ErrLivenessFailed and the evidence says why.
func TestCaptureRejectsFrozenFrame(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "frozen")
	if err := writeFrozen(filepath.Join(sharedFaces(t), WebcamVideo), name, 20, 30); err != nil {
		t.Fatal(err)
	}
	cc := config.CameraConfig{Source: "file:" + name + ".avi", Loop: true, Pace: "lockstep"}
	cam, err := OpenCamera(cc, CameraHooks{})
	if err != nil {
		t.Fatal(err)
	}
	defer cam.Close()
	s := DemoSettings()
	s.Liveness.MinWindow, s.Liveness.MaxWindow = 1500*time.Millisecond, 1500*time.Millisecond
	c, err := NewCapturer(Options{Camera: cam, Settings: s})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.Capture(context.Background(), []byte("visit-frozen"), nil)
	if !errors.Is(err, session.ErrLivenessFailed) {
		t.Fatalf("err %v, want ErrLivenessFailed", err)
	}
	if res.Liveness.Live || res.Portrait != nil || res.Liveness.Scores[liveness.CheckIdentical] < 0.9 {
		t.Fatalf("result %+v", res.Liveness)
	}
	if string(res.Liveness.Nonce) != "visit-frozen" {
		t.Fatal("nonce not recorded")
	}
}

func TestCaptureCancelled(t *testing.T) {
	cam := demoCamera(t)
	c, err := NewCapturer(Options{Camera: cam, Settings: DemoSettings()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	_, err = c.Capture(ctx, []byte("visit-cancel"), func(session.FaceProgress) {
		if n++; n == 10 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	// The preview keeps working for the UI.
	dst := image.NewRGBA(image.Rect(0, 0, 200, 150))
	if _, ok := c.Preview(dst); !ok || c.PreviewSize() != image.Pt(400, 300) {
		t.Fatalf("preview ok=%v size %v", ok, c.PreviewSize())
	}
}

func TestSettingsFromConfig(t *testing.T) {
	fc := config.Default().Face
	s, err := SettingsFor(fc)
	if err != nil || s.Quality.MinEyeDist != 90 || s.Liveness.Count != 2 {
		t.Fatalf("kiosk preset: %+v %v", s.Quality, err)
	}
	fc.Preset = "demo"
	s, err = SettingsFor(fc)
	if err != nil || !s.Rewind || s.Quality.MinEyeDist >= 90 {
		t.Fatalf("demo preset: %v", err)
	}
	fc.Preset = "kiosk"
	fc.ChallengeSet = []string{liveness.Blink, "challenge.juggle"}
	if _, err := SettingsFor(fc); err == nil {
		t.Fatal("unknown challenge accepted")
	}
	if _, err := OpenCamera(config.CameraConfig{Source: "rtsp://x"}, CameraHooks{}); err == nil {
		t.Fatal("rtsp source accepted")
	}
}

// TestLiveCaptureHandsSamplesToTheMatcher: a live capture of the real video
// gives OnSamples five quality-passing frames from distinct spans of the
// capture, with landmarks on the face (the matprofile test checks they are
// freed); a missing-models setup fails with
// facemodel.ErrUnavailable; an OnSamples error ends the capture.
func TestLiveCaptureHandsSamplesToTheMatcher(t *testing.T) {
	cam := demoCamera(t)
	var got []Sample
	c, err := NewCapturer(Options{Camera: cam, Settings: DemoSettings(), OnSamples: func(ctx context.Context, s []Sample) error {
		got = append([]Sample(nil), s...)
		for _, x := range s {
			if x.Frame.Empty() || x.Frame.Cols() != 400 {
				t.Errorf("sample frame %dx%d", x.Frame.Cols(), x.Frame.Rows())
			}
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Capture(context.Background(), []byte("visit-0000"), nil); err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 {
		t.Fatalf("%d samples, want 5", len(got))
	}
	for i, s := range got {
		if i > 0 && s.T.Truncate(sampleSpan).Equal(got[i-1].T.Truncate(sampleSpan)) {
			t.Errorf("samples %d and %d in the same %v", i-1, i, sampleSpan)
		}
		five := s.Landmarks.Five()
		for _, p := range five {
			if !image.Pt(int(p.X), int(p.Y)).In(s.Box) {
				t.Errorf("sample %d: point %v outside the face %v", i, p, s.Box)
			}
		}
		if d := five[1].X - five[0].X; d < 30 {
			t.Errorf("sample %d: eyes %.0f px apart", i, d)
		}
	}

	boom := errors.New("matcher down")
	c2, err := NewCapturer(Options{Camera: cam, Settings: DemoSettings(), OnSamples: func(context.Context, []Sample) error { return boom }})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err := c2.Capture(context.Background(), []byte("visit-0000"), nil); !errors.Is(err, boom) {
		t.Fatalf("err %v, want the matcher's", err)
	}

	t.Setenv(facemodel.EnvDir, t.TempDir())
	if _, err := NewCapturer(Options{Camera: cam, Settings: DemoSettings()}); !errors.Is(err, facemodel.ErrUnavailable) {
		t.Fatalf("no models: err %v, want facemodel.ErrUnavailable", err)
	}
}

func TestUnavailableFailsEveryCaptureAsACameraFault(t *testing.T) {
	t.Setenv(facemodel.EnvDir, t.TempDir())
	_, err := NewAnalyzer(AnalyzerOptions{})
	if !errors.Is(err, facemodel.ErrUnavailable) {
		t.Fatalf("no models: %v", err)
	}
	_, cerr := Unavailable{Err: err}.Capture(context.Background(), []byte("visit-x"), nil)
	if !errors.Is(cerr, session.ErrCameraFault) || !strings.Contains(cerr.Error(), "fr_detect.onnx") || !strings.Contains(cerr.Error(), "make models") {
		t.Fatalf("capture error %v", cerr)
	}
}
