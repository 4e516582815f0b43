package provisioning_test

import (
	"testing"

	"eidkiosk/internal/deptest"
)

// TestDependencies keeps the kiosk side of provisioning pure Go and free of
// the authority's code: the kiosk binary links it, and it must build and
// test in seconds without OpenCV, Fyne or a database.
func TestDependencies(t *testing.T) {
	const (
		pure  = "the kiosk links provisioning: pure Go, no OpenCV, no Fyne, no UI"
		kiosk = "provisioning is the kiosk's side: no authority code, no database"
		hw    = "provisioning drives no hardware: the command that runs a self-test hands it the drivers' checks"
	)
	deptest.DepChecker{
		Pkgs: []string{"eidkiosk/provisioning", "eidkiosk/provisioning/selftest", "eidkiosk/provisioning/devkey"},
		BadDeps: map[string]string{
			"gocv.io/...":             pure,
			"fyne.io/...":             pure,
			"eidkiosk/ui/...":         pure,
			"eidkiosk/authority/...":  kiosk,
			"modernc.org/sqlite...":   kiosk,
			"github.com/jackc/pgx...": kiosk,
			"eidkiosk/drivers/...":    hw,
		},
	}.Check(t)
}
