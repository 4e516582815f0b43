// Package fleetproto is the heartbeat's wire format, the one thing the
// kiosk's heartbeat sender (kiosk/heartbeat) and the authority's fleet module
// (authority/fleet) must agree on: the path, the report a terminal sends
// (version, slots, health, outbox depth, update state, the visit lease, the
// audit log's new entries) and the authority's answer, and the audit log's
// chain format with its verification (audit.go), so both ends check it alike. JSON over the kiosk's mTLS client; the terminal is
// identified by its client certificate, so the report carries no identity.
//
// It holds no personal data by construction and does no I/O: sending is
// kiosk/heartbeat's, receiving authority/fleet's.
package fleetproto

import (
	"time"

	"eidkiosk/internal/health"
)

// Path is where the authority receives heartbeats.
const Path = "/fleet/v1/heartbeat"

// Report is one heartbeat.
type Report struct {
	SentAt      time.Time      `json:"sent_at"`
	Version     string         `json:"version"`
	Slot        string         `json:"slot"`
	Channel     string         `json:"channel"`
	Healthy     bool           `json:"healthy"`
	Checks      []health.Check `json:"checks,omitempty"`
	OutboxDepth int            `json:"outbox_depth"`
	LastErrors  []string       `json:"last_errors,omitempty"`
	Update      Update         `json:"update"`
	Lease       Lease          `json:"lease"`
	UptimeSec   int64          `json:"uptime_sec"`
	// Audit carries the audit log's head and the entries not yet
	// acknowledged (audit.go); nil from a terminal without one.
	Audit *AuditBatch `json:"audit,omitempty"`
}

// Update is the update agent's state.
type Update struct {
	Phase     string `json:"phase"`
	Floor     string `json:"floor"`
	Available string `json:"available,omitempty"`
	Trial     string `json:"trial,omitempty"`      // version on trial
	LastTrial string `json:"last_trial,omitempty"` // "3.0.0 unhealthy"
	// LastTrialDetail says why the last trial ended so, LastTrialAt when.
	LastTrialDetail string    `json:"last_trial_detail,omitempty"`
	LastTrialAt     time.Time `json:"last_trial_at,omitzero"`
	// Committed is the committed slot's release; Slots each slot's release.
	Committed string            `json:"committed,omitempty"`
	Slots     map[string]string `json:"slots,omitempty"`
	// Loop names a release the agent refused to install a second time in a
	// row (an update loop it stopped).
	Loop        string    `json:"loop,omitempty"`
	LastRefusal string    `json:"last_refusal,omitempty"` // reason code
	LastError   string    `json:"last_error,omitempty"`
	LastFresh   time.Time `json:"last_fresh"`
	Stale       bool      `json:"stale"`
	Config      int64     `json:"config_version"`
}

// Lease is the visit lease.
type Lease struct {
	Holder string    `json:"holder,omitempty"`
	Expiry time.Time `json:"expiry,omitempty"`
}

// Answer is what the authority may answer to a heartbeat (200 with this
// JSON; 204 means nothing to do).
type Answer struct {
	// CheckUpdate asks the terminal to check for an update now
	// (`eidkiosk-authority fleet poke`).
	CheckUpdate bool `json:"check_update,omitempty"`
	// Audit acknowledges the report's audit batch (nil when it had none).
	Audit *AuditAck `json:"audit,omitempty"`
}
