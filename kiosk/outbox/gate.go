// The gate: whether a new visit may start, from the cached stats; it logs
// when its answer changes kind.

package outbox

import (
	"fmt"
	"log/slog"
	"time"

	"eidkiosk/kiosk/session"
)

// Headroom is the space kept free for the visit in progress: the gate closes
// when the queued bytes plus Headroom exceed the configured maximum, so an
// admitted visit always fits.
const Headroom = 512 << 10

// SetLogger makes the outbox log when its gate closes or opens (the alert
// an operator sees in the journal and the fleet view). Nothing personal is
// logged: counts, sizes, times, codes.
func (o *Outbox) SetLogger(l *slog.Logger) {
	o.mu.Lock()
	o.log = l
	o.mu.Unlock()
	o.logGate()
}

// gateKind is the condition behind the gate's answer: what its log compares
// (the wording changes with every count; the kind only when the condition
// does).
type gateKind int

const (
	gateOpen     gateKind = iota
	gateDisabled          // the authority refused this terminal: session.ErrDisabled
	gateFull              // size, items or the disk: session.ErrOutboxFull
	gateStale             // nothing acknowledged for the backlog age: session.ErrOutboxStale
)

// logGate logs a change of the gate's kind: a warning when it closes or
// closes for another reason, a note when it opens again.
func (o *Outbox) logGate() {
	o.mu.Lock()
	now, err := o.gateLocked()
	l, before := o.log, o.gate
	o.gate = now
	o.mu.Unlock()
	if l == nil || now == before {
		return
	}
	if now == gateOpen {
		l.Info("outbox: accepting visits again")
		return
	}
	l.Warn("outbox: refusing new visits", "reason", err.Error())
}

// armStaleLocked schedules a notification for the moment the gate will turn
// stale by time alone.
func (o *Outbox) armStaleLocked() {
	if o.staleAt != nil {
		o.staleAt.Stop()
		o.staleAt = nil
	}
	if o.readOnly || o.stats.Pending == 0 {
		return
	}
	at := o.staleTimeLocked()
	d := at.Sub(o.clock.Now())
	if d < 0 {
		return
	}
	o.staleAt = o.clock.AfterFunc(d+time.Millisecond, func() {
		o.logGate()
		o.notify()
	})
}

// staleTimeLocked is when the gate closes for staleness if nothing changes:
// the backlog age after the later of the oldest pending item and the last
// acknowledgement.
func (o *Outbox) staleTimeLocked() time.Time {
	base := o.stats.Oldest
	if o.stats.LastAck.After(base) {
		base = o.stats.LastAck
	}
	return base.Add(o.cfg.MaxBacklogAge.Duration)
}

// Admit implements session.Gate: nil, or session.ErrDisabled,
// session.ErrOutboxFull or session.ErrOutboxStale, wrapped with the reason.
func (o *Outbox) Admit() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, err := o.gateLocked()
	return err
}

// gateLocked is the gate's answer: its kind, and the error Admit returns.
func (o *Outbox) gateLocked() (gateKind, error) {
	s := o.stats
	switch {
	case s.Disabled != "":
		return gateDisabled, fmt.Errorf("outbox: authority refused this terminal (%s): %w", s.Disabled, session.ErrDisabled)
	case o.lowDisk:
		return gateFull, fmt.Errorf("outbox: the disk is nearly full: %w", session.ErrOutboxFull)
	case s.Bytes+Headroom > o.cfg.MaxBytes:
		return gateFull, fmt.Errorf("outbox: %d of %d bytes used: %w", s.Bytes, o.cfg.MaxBytes, session.ErrOutboxFull)
	case s.Pending+s.Refused+1 > o.cfg.MaxItems:
		return gateFull, fmt.Errorf("outbox: %d of %d items: %w", s.Pending+s.Refused, o.cfg.MaxItems, session.ErrOutboxFull)
	case s.Pending > 0 && !o.clock.Now().Before(o.staleTimeLocked()):
		return gateStale, fmt.Errorf("outbox: oldest item waiting since %s: %w", s.Oldest.UTC().Format(time.RFC3339), session.ErrOutboxStale)
	}
	return gateOpen, nil
}

var _ session.Gate = (*Outbox)(nil)
