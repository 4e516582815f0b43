package main

import (
	"testing"

	"eidkiosk/internal/deptest"
)

// TestLinksNoKioskHardware: the authority reads cards only as data (the card
// model); it never drives a reader, and it never runs a visit.
func TestLinksNoKioskHardware(t *testing.T) {
	deptest.DepChecker{
		Pkgs: []string{"eidkiosk/cmd/authority"},
		BadDeps: map[string]string{
			"eidkiosk/drivers/...":     "the authority runs no hardware: it imports the card model, not the serial driver",
			"go.bug.st/serial":         "the authority opens no serial port",
			"eidkiosk/kiosk/session":   "the visit engine runs on the kiosk; the authority imports only the wire format",
			"eidkiosk/kiosk/heartbeat": "the authority receives heartbeats: it imports their wire format (fleetproto), not the kiosk's sender",
			"eidkiosk/kiosk/app":       "the kiosk's assembly is the kiosk's alone",
			"eidkiosk/ui/...":          "the authority has no touch UI",
		},
		WantDeps: []string{"eidkiosk/enroll", "eidkiosk/fleetproto"},
	}.Check(t)
}
