package app

import (
	"context"
	"fmt"
	"time"

	"eidkiosk/drivers/camera"
	"eidkiosk/drivers/gpio"
	"eidkiosk/kiosk/config"
	"eidkiosk/kiosk/face"
	"eidkiosk/kiosk/session"
	"eidkiosk/provisioning/selftest"
)

// buildFace starts the camera and the OpenCV face pipeline from the config.
// Camera faults and recoveries reach the engine and the health checks.
func (s *System) buildFace(cfg config.Config) (session.FaceCapturer, error) {
	send := func(ev session.Event) {
		if s.Engine != nil {
			s.Engine.Send(ev)
		}
	}
	c, cam, err := face.Open(cfg.Camera, cfg.Face, face.CameraHooks{
		OnFault: func(err error) {
			s.GPIO.DeviceFault(gpio.DeviceCamera, true)
			s.setHealth("camera", err)
			send(session.CameraFault{Err: err})
		},
		OnBack: func() {
			s.GPIO.DeviceFault(gpio.DeviceCamera, false)
			s.setHealth("camera", nil)
			send(session.CameraBack{})
		},
		Clock: s.clk,
	})
	if err != nil {
		return nil, fmt.Errorf("app: camera: %w", err)
	}
	s.camera = cam
	s.closers = append(s.closers, cam.Close, c.Close)
	return c, nil
}

func (s *System) cameraLine() string {
	if s.camera == nil {
		return "no camera pipeline"
	}
	st := s.camera.Stats()
	state := "ok"
	if !s.camera.OK() {
		state = "NOT DELIVERING"
	}
	p := s.camera.PreviewSize()
	return fmt.Sprintf("%s %s, %dx%d, %d frames, %d faults", s.Config.Camera.Source, state, p.X, p.Y, st.Frames, st.Faults)
}

func (s *System) cameraCheck() selftest.Check {
	if s.camera == nil {
		return nil
	}
	return selftest.New("camera", func(ctx context.Context) selftest.Result {
		return framesArrive(ctx, s.camera, s.Config.Camera.Source)
	})
}

// framesArrive waits for a few fresh frames.
func framesArrive(ctx context.Context, cam *camera.Camera, src string) selftest.Result {
	before := cam.Stats().Frames
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if n := cam.Stats().Frames - before; n >= 5 {
			p := cam.PreviewSize()
			return selftest.Passed("%s delivers frames (%dx%d)", src, p.X, p.Y)
		}
		select {
		case <-ctx.Done():
			return selftest.Failed(ctx.Err().Error(), "retry the self-test")
		case <-time.After(50 * time.Millisecond):
		}
	}
	return selftest.Failed(fmt.Sprintf("%s delivered %d frames in 3 s", src, cam.Stats().Frames-before),
		"check the camera's USB cable and camera.source; `kioskctl face check --camera SRC` shows live values")
}

// standaloneCamera opens the camera named in the config for `kioskctl selftest`.
func standaloneCamera(cfg config.Config) selftest.Check {
	return selftest.New("camera", func(ctx context.Context) selftest.Result {
		cam, err := face.OpenCamera(cfg.Camera, face.CameraHooks{})
		if err != nil {
			return selftest.Failed(err.Error(), "fix camera.source in the configuration")
		}
		defer cam.Close()
		return framesArrive(ctx, cam, cfg.Camera.Source)
	})
}
