// Package lease is the "citizen at the kiosk" lock: a lease with an expiry
// that the visit takes when it leaves Attract and gives back when it
// returns there, and that the update agent takes (as holder "update") for
// the few milliseconds of a switch. Because every lease expires, a stuck
// visit (a crashed screen, a lost event) cannot block updates for ever.
//
// It is in-memory, for one process: it does not survive a restart, and
// does not need to, since a restart ends any visit.
package lease

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"eidkiosk/internal/clock"
	"eidkiosk/kiosk/session"
)

// ErrHeld is returned when another holder has an unexpired lease.
var ErrHeld = errors.New("lease: held by another holder")

// ErrNotHolder is returned by Renew when the caller does not hold the lease.
var ErrNotHolder = errors.New("lease: not the holder")

// Visit is the holder name the session uses.
const Visit = "visit"

// Lease is a named lock with an expiry. The zero value is not usable; use New.
type Lease struct {
	clk clock.Clock
	ttl time.Duration

	mu      sync.Mutex
	holder  string
	expiry  time.Time
	expired int // how many leases ran out instead of being released
}

// New returns a free lease whose acquisitions last ttl unless renewed.
func New(clk clock.Clock, ttl time.Duration) *Lease {
	if clk == nil {
		clk = clock.Real{}
	}
	return &Lease{clk: clk, ttl: ttl}
}

// heldLocked reports whether an unexpired lease exists; it clears an expired one.
func (l *Lease) heldLocked() bool {
	if l.holder == "" {
		return false
	}
	if !l.clk.Now().Before(l.expiry) {
		l.holder, l.expiry = "", time.Time{}
		l.expired++
		return false
	}
	return true
}

// TryAcquire takes the lease for holder (or renews it if holder has it).
// It returns ErrHeld (wrapped, naming the holder) if someone else has it.
func (l *Lease) TryAcquire(holder string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.heldLocked() && l.holder != holder {
		return fmt.Errorf("%w %q until %s", ErrHeld, l.holder, l.expiry.Format(time.RFC3339))
	}
	l.holder, l.expiry = holder, l.clk.Now().Add(l.ttl)
	return nil
}

// Acquire is TryAcquire for the visit holder.
func (l *Lease) Acquire() error { return l.TryAcquire(Visit) }

// Renew pushes the expiry of holder's lease to now+ttl.
func (l *Lease) Renew(holder string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.heldLocked() || l.holder != holder {
		return ErrNotHolder
	}
	l.expiry = l.clk.Now().Add(l.ttl)
	return nil
}

// Release gives the lease back if holder has it.
func (l *Lease) Release(holder string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.holder == holder {
		l.holder, l.expiry = "", time.Time{}
	}
}

// Held reports whether an unexpired lease exists.
func (l *Lease) Held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.heldLocked()
}

// Expiry returns when the current lease runs out (zero when free).
func (l *Lease) Expiry() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.heldLocked() {
		return time.Time{}
	}
	return l.expiry
}

// State is the lease as shown in technician mode and the fleet view.
type State struct {
	Holder  string    `json:"holder,omitempty"`
	Expiry  time.Time `json:"expiry,omitempty"`
	Expired int       `json:"expired"` // leases that ran out instead of being released
}

// Snapshot returns the current state.
func (l *Lease) Snapshot() State {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.heldLocked()
	return State{Holder: l.holder, Expiry: l.expiry, Expired: l.expired}
}

// StateChanged implements session.Signals: leaving Attract takes the lease
// for the visit, every further change renews it, returning to Attract (or
// to Unavailable) releases it. If the update agent holds the lease at that
// instant (a switch is under way) the visit's acquisition fails silently:
// the process is about to restart.
func (l *Lease) StateChanged(from, to session.State) {
	switch to {
	case session.Attract, session.Unavailable:
		l.Release(Visit)
	default:
		if err := l.Renew(Visit); err != nil {
			_ = l.TryAcquire(Visit)
		}
	}
}

var _ session.Signals = (*Lease)(nil)
