package config

import (
	"strings"
	"time"
)

// CameraConfig is the camera (drivers/camera). Owned by the camera driver.
type CameraConfig struct {
	// Source is "/dev/videoN", a device index "0", "file:PATH" (a video) or "dir:PATH" (images).
	Source string `toml:"source"`
	Width  int    `toml:"width"`  // frame width asked of the camera, in pixels
	Height int    `toml:"height"` // frame height asked of the camera, in pixels
	FPS    int    `toml:"fps"`    // frames per second asked of the camera
	// MJPG asks a device for MJPG (USB cameras reach 720p at 30 fps only with it).
	MJPG bool `toml:"mjpg"`
	// Loop starts a file or folder source again at its end.
	Loop bool `toml:"loop"`
	// Pace for file and folder sources: "realtime" (at the recording's frame
	// rate, like a camera) or "lockstep" (every frame, as fast as the face
	// pipeline takes them; frame times follow the recording).
	Pace string `toml:"pace"`
}

func defaultCamera() CameraConfig {
	return CameraConfig{Source: "/dev/video0", Width: 1280, Height: 720, FPS: 30, MJPG: true, Pace: "realtime"}
}

func (c *CameraConfig) validate() error {
	if c.Source == "" {
		return bad("camera.source", "must be a device (\"/dev/video0\"), \"file:PATH\" or \"dir:PATH\"")
	}
	if c.Width < 320 || c.Height < 240 || c.Width > 4096 || c.Height > 4096 {
		return bad("camera.width", "%dx%d is outside 320x240..4096x4096", c.Width, c.Height)
	}
	if c.FPS < 5 || c.FPS > 120 {
		return bad("camera.fps", "%d must be between 5 and 120", c.FPS)
	}
	return oneOf("camera.pace", c.Pace, "realtime", "lockstep")
}

// FaceConfig is the face pipeline: quality gate and liveness (kiosk/face).
type FaceConfig struct {
	// ModelsDir holds the face models (docs/models.md); empty: the packaged
	// /usr/share/eidkiosk/models (or $EIDKIOSK_MODELS). Each file is checked
	// against its pinned SHA-256 at start.
	ModelsDir string `toml:"models_dir,omitempty"`
	// CascadeDir is no longer read (the pipeline runs on DNN models since
	// 0.2); accepted so that older configuration files still load.
	CascadeDir string `toml:"cascade_dir,omitempty"`
	Challenges int    `toml:"challenges"` // liveness challenges per visit
	// Preset is the set of thresholds: "kiosk" (a 1280x720 camera at arm's
	// length) or "demo" (the shared 400x300 webcam video; see docs/face.md).
	Preset string `toml:"preset"`
	// ChallengeSet overrides the preset's challenges drawn from, e.g.
	// ["challenge.blink", "challenge.turn_left"]; empty keeps the preset's.
	ChallengeSet []string `toml:"challenge_set"`
	// MinEyeDistance overrides the preset's minimum eye distance in pixels
	// (ICAO: 90); 0 keeps the preset's.
	MinEyeDistance float64 `toml:"min_eye_distance"`
	// Threads is OpenCV's thread count (1 keeps the pipeline off the UI's core).
	Threads int `toml:"threads"`
	// CaptureTimeout bounds one capture attempt.
	CaptureTimeout Duration `toml:"capture_timeout"`
}

func defaultFace() FaceConfig {
	return FaceConfig{Challenges: 2, Preset: "kiosk", Threads: 1,
		CaptureTimeout: D(45 * time.Second)}
}

func (c *FaceConfig) validate() error {
	if c.Challenges < 1 || c.Challenges > 6 {
		return bad("face.challenges", "%d must be between 1 and 6", c.Challenges)
	}
	if err := oneOf("face.preset", c.Preset, "kiosk", "demo"); err != nil {
		return err
	}
	for _, k := range c.ChallengeSet {
		if !strings.HasPrefix(k, "challenge.") {
			return bad("face.challenge_set", "%q is not a challenge key (e.g. \"challenge.blink\")", k)
		}
	}
	if len(c.ChallengeSet) > 0 && len(c.ChallengeSet) < c.Challenges {
		return bad("face.challenge_set", "%d challenges asked from a set of %d", c.Challenges, len(c.ChallengeSet))
	}
	if c.MinEyeDistance < 0 || c.MinEyeDistance > 400 {
		return bad("face.min_eye_distance", "%v must be between 0 (the preset's) and 400 pixels", c.MinEyeDistance)
	}
	if c.Threads < 1 || c.Threads > 16 {
		return bad("face.threads", "%d must be between 1 and 16", c.Threads)
	}
	return positive("face.capture_timeout", c.CaptureTimeout)
}
