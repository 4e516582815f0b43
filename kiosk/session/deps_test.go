package session

import (
	"testing"

	"eidkiosk/internal/deptest"
)

// TestDependencies keeps the engine pure Go: no UI toolkit, no OpenCV, no
// GPIO host drivers, no cgo, so it builds and tests in seconds.
func TestDependencies(t *testing.T) {
	const why = "the visit engine is pure Go and tests in seconds; hardware and UI sit behind its interfaces"
	deptest.DepChecker{
		BadDeps: map[string]string{
			"fyne.io/...":         why,
			"gocv.io/...":         why,
			"periph.io/x/host...": why,
		},
		NoCgo: why,
	}.Check(t)
}
