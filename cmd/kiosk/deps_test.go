package main

import (
	"testing"

	"eidkiosk/internal/deptest"
)

// TestLinksOnlyWhatItRuns: the kiosk binary is the appliance; the reference
// authority, its database driver, simulators and test helpers stay out of it
// (issue 12: a production terminal has no way into simulation short of
// installing another binary).
func TestLinksOnlyWhatItRuns(t *testing.T) {
	deptest.DepChecker{
		Pkgs: []string{"eidkiosk/cmd/kiosk"},
		BadDeps: map[string]string{
			"eidkiosk/authority/...":           "the reference authority is a separate binary; the kiosk speaks to it only over the wire format",
			"github.com/jackc/pgx...":          "the authority's database driver has no business on a terminal",
			"testing":                          "do not use the testing package in production code",
			"net/http/httptest":                "test servers are for tests; a simulated authority runs through kioskctl, never inside the kiosk",
			"...test":                          "test helper packages (uitest, httptest, iotest…) stay out of the shipped binary",
			"eidkiosk/sim/...":                 "the simulated stack, the demo and sim kiosk run through kioskctl, never inside the kiosk",
			"eidkiosk/drivers/.../sim/...":     "device simulators (reader, printer) are for tests and kioskctl",
			"eidkiosk/drivers/internal/simpty": "the simulators' pseudo-terminal is for tests and kioskctl",
		},
		Allow: map[string]string{
			"eidkiosk/provisioning/selftest": "the technician self-test is a feature of the appliance, not a test helper",
			"internal/synctest":              "the standard library's sync imports it (testing/synctest support); it is not a test helper",
		},
		WantDeps: []string{"eidkiosk/kiosk/session", "eidkiosk/enroll"},
	}.Check(t)
}
