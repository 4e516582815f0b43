// Package techstatus is the snapshot technician mode shows, declared by the
// UI (package ui re-exports it as ui.TechStatus) and filled by the kiosk
// (kiosk/app): plain Go values, so the kiosk fills it without linking Fyne.
//
// It holds states and counts only, nothing personal; it does no I/O and
// renders nothing.
package techstatus

import (
	"time"

	"eidkiosk/internal/health"
	"eidkiosk/kiosk/session"
)

// Status is one snapshot for technician mode.
type Status struct {
	Version string         // running version, e.g. "1.4.2 (slot B)"
	Checks  []health.Check // the parts' health, or the last self-test
	Outbox  Outbox
	Update  Update
	Reader  string            // reader state line, e.g. "/dev/ttyUSB0 ok, SAM 05.01"
	Camera  string            // camera state line, e.g. "/dev/video0 1280x720 29.8 fps"
	GPIO    string            // GPIO state line, e.g. "presence=0 tamper=closed"
	Quality []session.Measure // live quality values of the camera picture
	LogTail []string          // newest last; already free of personal data
}

// Outbox is the queue of sealed enrollments and the uplink.
type Outbox struct {
	Depth   int
	Oldest  time.Duration // age of the oldest waiting enrollment
	Uplink  string        // "online", "offline: connection refused", ...
	LastAck time.Time     // zero: never
}

// Update is the update agent's state.
type Update struct {
	State     string // "idle", "downloading 40%", "trial boot", "committed", ...
	Available string // version offered, "" none
	Lease     string // who holds the update lease and until when, "" none
}
