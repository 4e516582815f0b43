package enroll_test

import (
	"testing"

	"eidkiosk/internal/deptest"
)

// TestWireFormatIsNotTheVisit: enroll is the wire format both ends import;
// the authority links it, so it must not bring the visit engine along (the
// submitter that turns a visit into a record lives on the kiosk side).
func TestWireFormatIsNotTheVisit(t *testing.T) {
	deptest.DepChecker{
		Pkgs: []string{"eidkiosk/enroll"},
		BadDeps: map[string]string{
			"eidkiosk/kiosk/session": "the wire format is imported by both ends; the visit engine is the kiosk's alone",
		},
	}.Check(t)
}
