package app

import (
	"fmt"
	"log/slog"

	"eidkiosk/kiosk/config"
	"eidkiosk/kiosk/session"
)

// buildFace builds the OpenCV camera and face pipeline from the config.
func buildFace(cfg config.Config, log *slog.Logger) (session.FaceCapturer, error) {
	return nil, fmt.Errorf("app: face pipeline not wired")
}
