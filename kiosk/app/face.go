package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"gocv.io/x/gocv"

	"eidkiosk/drivers/camera"
	"eidkiosk/drivers/gpio"
	"eidkiosk/facemodel"
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
		Clock:     s.clk,
		OnSamples: s.onSamples(),
	})
	if errors.Is(err, facemodel.ErrUnavailable) {
		// A missing or altered model: the kiosk starts and says
		// "unavailable" (every capture is a camera fault naming the file);
		// it never crashes and never falls back to another detector.
		s.log.Error("face pipeline unavailable", "err", err)
		s.setHealth("camera", err)
		return face.Unavailable{Err: err}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("app: camera: %w", err)
	}
	s.camera = cam
	s.closers = append(s.closers, cam.Close, c.Close)
	return c, nil
}

func (s *System) cameraCheck() selftest.Check {
	if s.camera == nil {
		return nil
	}
	return selftest.New("camera", func(ctx context.Context) selftest.Result {
		return cameraLive(ctx, s.camera, s.Config.Camera.Source, s.Config.Face.ModelsDir)
	})
}

// cameraLive takes frames for up to 4 s: they must arrive, and a face must
// be found at a usable exposure (a technician stands in front of the kiosk
// while the self-test runs).
func cameraLive(ctx context.Context, cam *camera.Camera, src, modelsDir string) selftest.Result {
	a, err := face.NewAnalyzer(face.AnalyzerOptions{ModelsDir: modelsDir})
	if err != nil {
		return selftest.Failed(err.Error(), "reinstall the eidkiosk-kiosk package (or `make models` in a source tree), or fix face.models_dir")
	}
	defer a.Close()
	m := gocv.NewMat()
	defer m.Close()
	ctx, cancel := context.WithTimeout(ctx, 4*time.Second)
	defer cancel()
	var seq uint64
	frames := 0
	for {
		in, err := cam.Next(ctx, seq, &m)
		if err != nil {
			if frames == 0 && strings.HasPrefix(src, "/dev/") {
				if _, err := os.Stat(src); err != nil {
					return selftest.Failed(fmt.Sprintf("no camera at %s", src),
						"plug the camera in (`ls /dev/video*` lists the cameras), or set camera.source to the one there is")
				}
			}
			if frames < 5 {
				return selftest.Failed(fmt.Sprintf("%s delivered %d frames in 4 s", src, frames),
					"check the camera's USB cable and camera.source; `kioskctl face check --camera SRC` shows live values")
			}
			return selftest.Failed(fmt.Sprintf("%d frames, no face", frames),
				"stand in front of the camera and run the self-test again; check its angle with `kioskctl face check`")
		}
		seq = in.Seq
		frames++
		f := a.Analyze(m, in.Time)
		if !f.HasFace() {
			continue
		}
		switch {
		case f.Brightness < 60:
			return selftest.Failed(fmt.Sprintf("face found, too dark (mean %.0f of 255)", f.Brightness),
				"check the IR light and the hall lighting; aim the camera away from windows")
		case f.Brightness > 200:
			return selftest.Failed(fmt.Sprintf("face found, too bright (mean %.0f of 255)", f.Brightness),
				"shade the camera from direct light")
		}
		p := cam.PreviewSize()
		return selftest.Passed("%s delivers frames (%dx%d); face found (%d px wide), exposure %.0f of 255",
			src, p.X, p.Y, f.Box.Dx(), f.Brightness)
	}
}

// standaloneCamera opens the camera named in the config for `kioskctl selftest`.
func standaloneCamera(cfg config.Config) selftest.Check {
	return selftest.New("camera", func(ctx context.Context) selftest.Result {
		cam, err := face.OpenCamera(cfg.Camera, face.CameraHooks{})
		if err != nil {
			return selftest.Failed(err.Error(), "fix camera.source in the configuration")
		}
		defer cam.Close()
		return cameraLive(ctx, cam, cfg.Camera.Source, cfg.Face.ModelsDir)
	})
}

// onSamples is the pipeline's sample hook: set only when the visit compares
// the face with the card photo (no frames are kept otherwise).
func (s *System) onSamples() face.SamplesFunc {
	if s.match == nil {
		return nil
	}
	return s.match.onSamples
}
