package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"eidkiosk/fleetproto"
	"eidkiosk/kiosk/audit"
	"eidkiosk/kiosk/session"
	"eidkiosk/kiosk/update"
	"eidkiosk/provisioning"
)

// The audit hooks: the parts' events mapped onto kiosk/audit's entries.
// Entries are written by one goroutine (auditor) so that no caller, the
// engine's view observer least of all, waits for an fsync.

type auditRec struct {
	event string
	kv    []string
}

type auditor struct {
	log  *audit.Log
	ch   chan auditRec
	done chan struct{}
	once sync.Once
	// pending counts entries queued and not yet written.
	pending atomic.Int64
}

// openAudit opens the audit log of the state directory, signing
// checkpoints with the device key once provisioned. A log that cannot be
// opened is an error shown to the technician; the kiosk runs without it.
func (s *System) openAudit() {
	var signer audit.Signer
	if s.Identity != nil {
		signer = s.Identity.Signer
	}
	l, err := audit.Open(audit.Options{Dir: audit.DirIn(s.Config.State.Dir), Signer: signer, Clock: s.clk})
	if err != nil {
		s.noteError("audit", err)
		return
	}
	a := &auditor{log: l, ch: make(chan auditRec, 256), done: make(chan struct{})}
	s.audit = a
	go func() {
		defer close(a.done)
		for r := range a.ch {
			err := l.Record(r.event, r.kv...)
			a.pending.Add(-1)
			if err != nil {
				s.noteError("audit", err)
			}
		}
	}()
	s.closers = append(s.closers, func() error {
		a.once.Do(func() { close(a.ch) })
		<-a.done
		_ = l.Checkpoint()
		return l.Close()
	})
	s.importProvisioningAudit()
}

// record queues an entry; it never blocks (a full queue drops the entry
// and says so among the errors).
func (s *System) record(event string, kv ...string) {
	if s.audit == nil {
		return
	}
	s.audit.pending.Add(1)
	defer func() {
		if recover() != nil { // recorded after Close: dropped
			s.audit.pending.Add(-1)
		}
	}()
	select {
	case s.audit.ch <- auditRec{event, kv}:
	default:
		s.audit.pending.Add(-1)
		s.noteError("audit", errAuditFull)
	}
}

type auditErr string

func (e auditErr) Error() string { return string(e) }

const errAuditFull = auditErr("audit: queue full, an entry was dropped")

// AuditLog is the kiosk's audit log (nil when it could not be opened).
func (s *System) AuditLog() *audit.Log {
	if s.audit == nil {
		return nil
	}
	return s.audit.log
}

// configHash names the configuration in force (no secrets in it are
// revealed: a SHA-256 prefix).
func configHash(v any) string {
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// auditStart records the start and, when the configuration differs from
// the one the last start recorded, the change.
func (s *System) auditStart() {
	l := s.AuditLog()
	if l == nil {
		return
	}
	cur := configHash(s.Config)
	if prev, ok, err := l.Last(audit.EventStart); err == nil && ok && prev.Fields["config"] != cur {
		s.record(audit.EventConfigChanged, "from", prev.Fields["config"], "to", cur)
	}
	s.record(audit.EventStart, "version", Version, "config", cur)
}

func (s *System) auditStop() {
	s.record(audit.EventStop, "uptime_sec", strconv.FormatInt(int64(s.clk.Now().Sub(s.started)/time.Second), 10))
}

// auditCheckpoints signs the log's new entries every few minutes, so few
// entries wait unsigned for the next CheckpointEvery.
func (s *System) auditCheckpoints(ctx context.Context) error {
	t := time.NewTicker(5 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if err := s.AuditLog().Checkpoint(); err != nil {
				s.noteError("audit", err)
			}
		}
	}
}

// importProvisioningAudit copies the provisioning log's entries written
// since the last import (kioskctl provision, deprovision, self-test report;
// package provisioning keeps its own plain log) into the chain.
func (s *System) importProvisioningAudit() {
	l := s.AuditLog()
	entries, err := provisioning.ReadAudit(s.Config.State.Dir)
	if err != nil || l == nil {
		return // none yet
	}
	var since time.Time
	if last, ok, err := l.Last(audit.EventProvisioning); err == nil && ok {
		since, _ = time.Parse(time.RFC3339Nano, last.Fields["at"])
	}
	for _, e := range entries {
		if e.Time.After(since) {
			s.record(audit.EventProvisioning, "what", e.Event, "detail", e.Detail, "at", e.Time.UTC().Format(time.RFC3339Nano))
		}
	}
}

// auditView turns the engine's views into visit outcomes, technician
// logins and logouts and tamper clears.
func (s *System) auditView() func(session.View) {
	var prev session.View
	return func(v session.View) {
		p := prev
		prev = v
		if v.State != p.State {
			switch {
			case v.State == session.ReceiptShown:
				s.record(audit.EventVisitEnded, "outcome", "completed")
			case v.State == session.Failed:
				s.record(audit.EventVisitEnded, "outcome", v.Fault.String())
			case inVisit(p.State) && (v.State == session.Attract || v.State == session.Unavailable):
				s.record(audit.EventVisitEnded, "outcome", "abandoned")
			case v.State == session.Technician:
				s.record(audit.EventTechLogin)
			case p.State == session.Technician:
				s.record(audit.EventTechLogout)
			}
		}
		if p.Tampered && !v.Tampered {
			s.record(audit.EventTamper, "state", "cleared")
		}
	}
}

func inVisit(st session.State) bool {
	return st >= session.CardWait && st <= session.Sealing
}

// auditPIN records each wrong technician PIN.
type auditPIN struct {
	session.PINChecker
	s *System
}

func (a auditPIN) CheckPIN(pin string) bool {
	ok := a.PINChecker.CheckPIN(pin)
	if !ok {
		a.s.record(audit.EventTechPINFailed)
	}
	return ok
}

func (s *System) auditedPIN(c session.PINChecker) session.PINChecker {
	if c == nil {
		return nil
	}
	return auditPIN{c, s}
}

// auditUpdate records the update agent's steps: the phases that change
// the box (not the routine checks) and each trial's outcome.
func (s *System) auditUpdate() func(update.Status) {
	var mu sync.Mutex
	var phase update.Phase
	var trial string
	return func(st update.Status) {
		mu.Lock()
		defer mu.Unlock()
		if st.Phase != phase {
			phase = st.Phase
			switch st.Phase {
			case update.PhaseDownloading, update.PhaseInstalling, update.PhaseSwitching, update.PhaseTrial, update.PhaseRollingBack:
				s.record(audit.EventUpdate, "phase", string(st.Phase), "release", st.Available, "running", st.Version)
			}
		}
		if lt := st.LastTrial; lt != nil {
			key := lt.Version + " " + lt.Outcome + " " + lt.At.String()
			if key != trial {
				first := trial == ""
				trial = key
				at := lt.At.UTC().Format(time.RFC3339Nano)
				if first { // recorded by the run that saw the trial end?
					if last, ok, err := s.AuditLog().Last(audit.EventUpdate); err == nil && ok && last.Fields["at"] == at {
						return
					}
				}
				s.record(audit.EventUpdate, "phase", "trial-ended", "release", lt.Version, "outcome", lt.Outcome, "at", at)
			}
		}
	}
}

// auditBatch is the heartbeat's audit part; nil without a log.
func (s *System) auditBatch() *fleetproto.AuditBatch {
	l := s.AuditLog()
	if l == nil {
		return nil
	}
	b, err := l.Batch()
	if err != nil {
		s.noteError("audit", err)
		return nil
	}
	return b
}

// onAuditAck moves the shipping on; it asks for the next heartbeat at once
// while more entries wait and the authority took the last ones.
func (s *System) onAuditAck(a fleetproto.AuditAck) {
	l := s.AuditLog()
	if l == nil {
		return
	}
	l.SetAcked(a.Have)
	s.mu.Lock()
	moved, newAlert := a.Have != s.auditAcked, a.Alert != s.auditAlert
	s.auditAcked, s.auditAlert = a.Have, a.Alert
	s.mu.Unlock()
	if a.Alert != "" {
		if newAlert { // once, not at every heartbeat
			s.noteError("audit", auditErr("the authority's copy of the audit log has an alert: "+a.Alert))
		}
		return
	}
	if head, ok := l.Head(); ok && head.Seq > a.Have && moved {
		s.heartbeat().Kick()
	}
}

// SendHeartbeat sends one heartbeat now, with the audit entries not yet
// acknowledged (tests, and a technician's "report now").
func (s *System) SendHeartbeat(ctx context.Context) error {
	if s.client == nil {
		return ErrNotProvisioned
	}
	return s.heartbeat().Send(ctx, s.collect())
}

// FlushAudit waits until the entries recorded so far are on disk (or ctx
// ends).
func (s *System) FlushAudit(ctx context.Context) error {
	if s.audit == nil {
		return nil
	}
	for s.audit.pending.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}
