package config

// CameraConfig is the camera (drivers/camera). Owned by the camera driver.
type CameraConfig struct {
	// Source is "/dev/videoN", a device index "0", "file:PATH" (a video) or "dir:PATH" (images).
	Source string `toml:"source"`
	Width  int    `toml:"width"`
	Height int    `toml:"height"`
	FPS    int    `toml:"fps"`
}

func defaultCamera() CameraConfig {
	return CameraConfig{Source: "/dev/video0", Width: 1280, Height: 720, FPS: 30}
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
	return nil
}

// FaceConfig is the face pipeline: quality gate and liveness (kiosk/face).
type FaceConfig struct {
	CascadeDir string `toml:"cascade_dir"` // OpenCV Haar/LBP cascades
	Challenges int    `toml:"challenges"`  // liveness challenges per visit
}

func defaultFace() FaceConfig {
	return FaceConfig{CascadeDir: "/usr/share/opencv4", Challenges: 2}
}

func (c *FaceConfig) validate() error {
	if c.Challenges < 1 || c.Challenges > 6 {
		return bad("face.challenges", "%d must be between 1 and 6", c.Challenges)
	}
	return nil
}
