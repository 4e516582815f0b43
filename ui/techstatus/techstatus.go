// Package techstatus is the snapshot technician mode shows, declared by the
// UI (package ui re-exports it as ui.TechStatus) and filled by the kiosk
// (kiosk/app): plain Go values, so the kiosk fills it without linking Fyne.
//
// States are codes (Uplink, CheckStatus, the update phase, the LED mode),
// never sentences: the UI translates each into the screen's language.
// Free text (a check's measured value, a log message) is data the kiosk
// measured or logged, shown as it is. It holds states and counts only,
// nothing personal; it does no I/O and renders nothing.
package techstatus

import (
	"time"

	"eidkiosk/kiosk/session"
)

// Status is one snapshot for technician mode.
type Status struct {
	Version string  // running release, e.g. "1.4.2"
	Slot    string  // software slot ("A", "B"); "" without the update agent
	Checks  []Check // every self-test check, in the self-test's order
	Outbox  Outbox
	Update  Update
	Reader  Reader
	Camera  Camera
	GPIO    GPIO
	Quality []session.Measure // live quality values of the camera picture
	Log     []LogLine         // the newest lines of the kiosk's log, oldest first
}

// CheckStatus is a self-test check's outcome; Untested until the first
// self-test (or live health) says otherwise.
type CheckStatus string

const (
	Untested CheckStatus = ""
	Pass     CheckStatus = "pass"
	Fail     CheckStatus = "fail"
	Skip     CheckStatus = "skip" // not applicable here (no such hardware)
)

// Check is one line of the self-test checklist.
type Check struct {
	Name   string // the self-test's name: "disk space", "certificate", "authority (mTLS)", "clock", "reader", "gpio", "camera", ...
	Status CheckStatus
	Detail string    // what was measured, or why skipped; nothing personal
	Fix    string    // for a failure: what to do
	At     time.Time // when it was measured; zero when Untested
}

// Uplink is the upload link's state.
type Uplink string

const (
	UplinkNotProvisioned Uplink = "not_provisioned"
	UplinkConnecting     Uplink = "connecting"
	UplinkOnline         Uplink = "online"
	UplinkOffline        Uplink = "offline"
	UplinkRefused        Uplink = "refused" // the authority refused this terminal
)

// Outbox is the queue of sealed enrollments and the uplink.
type Outbox struct {
	Depth   int
	Oldest  time.Duration // age of the oldest waiting enrollment
	Uplink  Uplink
	Sent    int       // enrollments delivered since start
	Reason  string    // the last error or refusal code, as the uplink reported it
	LastAck time.Time // zero: never
}

// Update is the update agent's state.
type Update struct {
	Phase       string    // the agent's phase ("idle", "downloading", "trial", ...); "" when updates are off
	Available   string    // version offered, "" none
	LeaseHolder string    // who holds the visit/update lease, "" none
	LeaseUntil  time.Time // until when
}

// Reader is the card reader's state.
type Reader struct {
	Port string
	OK   bool // answering
}

// Camera is the camera's state.
type Camera struct {
	Present       bool // a camera pipeline exists
	OK            bool // frames arrive
	Width, Height int
	Frames        uint64
	Faults        uint64
}

// GPIO is the LEDs' and sensors' state.
type GPIO struct {
	Present    bool
	Mode       string // the LED mode: "idle", "busy", "attention", "fault"
	TamperOpen bool
}

// LogLine is one line of the kiosk's log, taken apart.
type LogLine struct {
	At     time.Time
	Level  string // "DEBUG", "INFO", "WARN", "ERROR"
	Msg    string
	Fields []Field // in the order logged; already scrubbed by the logger
}

// Field is one key=value of a log line.
type Field struct{ Key, Value string }
