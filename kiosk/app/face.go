package app

import (
	"fmt"
	"log/slog"

	"eidkiosk/kiosk/config"
	"eidkiosk/kiosk/session"
	"eidkiosk/provisioning/selftest"
)

// buildFace builds the OpenCV camera and face pipeline from the config.
func buildFace(cfg config.Config, log *slog.Logger) (session.FaceCapturer, error) {
	return nil, fmt.Errorf("app: face pipeline not wired")
}

func (s *System) cameraCheck() selftest.Check { return nil }

func standaloneCamera(cfg config.Config) selftest.Check { return nil }

func (s *System) cameraLine() string { return s.Config.Camera.Source }
