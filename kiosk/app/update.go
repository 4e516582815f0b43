package app

import (
	"errors"
	"net/http"
	"sync"

	"eidkiosk/fleetproto"
	"eidkiosk/kiosk/heartbeat"
	"eidkiosk/kiosk/update"
)

// hbMu guards System.hb: one heartbeat sender per System, shared by the
// heartbeat loop, the tamper report and the update agent's kicks.
var hbMu sync.Mutex

// heartbeat returns the System's heartbeat sender, made on first use.
func (s *System) heartbeat() *heartbeat.Sender {
	hbMu.Lock()
	defer hbMu.Unlock()
	if s.hb == nil {
		s.hb = &heartbeat.Sender{Authority: s.uplinkURL(), Client: s.Metrics.Visits.HeartbeatClient(s.client), Collect: s.collect, Clock: s.clk, Log: s.log,
			OnAnswer: s.onHeartbeatAnswer, OnError: s.onHeartbeatError()}
	}
	return s.hb
}

// onUpdateStatus sends a heartbeat at once when a trial starts or ends or
// a loop is stopped, so the fleet view does not lag a heartbeat behind.
func (s *System) onUpdateStatus() func(update.Status) {
	kick, rec := update.OnMilestone(func() { s.heartbeat().Kick() }), s.auditUpdate()
	return func(st update.Status) { rec(st); kick(st) }
}

// onHeartbeatError puts the authority's refusal of this terminal (why it
// was replaced, revoked or deprovisioned) among the errors the technician
// screen and the next heartbeats show, once per distinct reason.
func (s *System) onHeartbeatError() func(error) {
	var mu sync.Mutex
	last := ""
	return func(err error) {
		var ref *heartbeat.RefusedError
		if !errors.As(err, &ref) || ref.Status != http.StatusForbidden {
			return
		}
		mu.Lock()
		seen := ref.Message == last
		last = ref.Message
		mu.Unlock()
		if !seen {
			s.noteError("authority", err)
		}
	}
}

// onHeartbeatAnswer acts on what the authority answered to a heartbeat:
// city IT's `fleet poke` asks for an update check at once.
func (s *System) onHeartbeatAnswer(a fleetproto.Answer) {
	if a.Audit != nil {
		s.onAuditAck(*a.Audit)
	}
	if a.CheckUpdate && s.Update != nil {
		s.log.Info("update: the authority asked for a check now")
		s.Update.CheckNow()
	}
}
