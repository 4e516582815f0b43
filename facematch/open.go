package facematch

import (
	"fmt"
	"os"
	"path/filepath"
)

// Open loads the three models from the models directory and verifies them.
// TODO(match): switch to facemodel.Load once the face branch lands.
func Open(q Quality) (*Matcher, error) {
	dir := os.Getenv("EIDKIOSK_MODELS")
	if dir == "" {
		dir = "out/models"
		for d, _ := os.Getwd(); d != "/"; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				dir = filepath.Join(d, "out", "models")
				break
			}
		}
	}
	var ms [3][]byte
	for i, f := range []string{"fr_detect.onnx", "fr_landmark.onnx", "fr_feature.onnx"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return nil, fmt.Errorf("facematch: %w", err)
		}
		ms[i] = b
	}
	return New(Models{Detect: ms[0], Landmark: ms[1], Feature: ms[2]}, q)
}
