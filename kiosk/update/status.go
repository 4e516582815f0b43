package update

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"eidkiosk/fleetproto"
)

// Phase is what the agent is doing.
type Phase string

const (
	PhaseIdle        Phase = "idle"
	PhaseChecking    Phase = "checking"
	PhaseDownloading Phase = "downloading"
	PhaseInstalling  Phase = "installing"
	PhaseWaitIdle    Phase = "waiting-for-idle"
	PhaseSwitching   Phase = "switching"
	PhaseTrial       Phase = "trial"
	PhaseRollingBack Phase = "rolling-back"
)

// Status is the agent's state for technician mode, heartbeat and metrics.
// It holds no personal data.
type Status struct {
	// Version is the running slot's release (its manifest); Binary is what
	// the binary itself says when that differs (an unstamped build).
	Version string `json:"version"`
	Binary  string `json:"binary,omitempty"`
	// Committed is the committed slot's release; Slots maps each slot to
	// the release it holds ("" when empty or damaged).
	Committed   string            `json:"committed,omitempty"`
	Slots       map[string]string `json:"slots,omitempty"`
	Slot        string            `json:"slot"`
	Channel     string            `json:"channel"`
	Cohort      int               `json:"cohort"`
	Phase       Phase             `json:"phase"`
	Floor       string            `json:"floor"`
	Available   string            `json:"available,omitempty"` // a newer release offered to this terminal
	Progress    Progress          `json:"progress"`
	Trial       *Trial            `json:"trial,omitempty"`
	LastTrial   *TrialResult      `json:"last_trial,omitempty"`
	LastCheck   time.Time         `json:"last_check"`
	LastFresh   time.Time         `json:"last_fresh"`
	Expires     time.Time         `json:"expires"` // earliest expiry of the verified metadata
	Stale       bool              `json:"stale"`   // no fresh metadata for longer than the offline grace
	LastError   string            `json:"last_error,omitempty"`
	LastRefusal string            `json:"last_refusal,omitempty"` // reason code of the last refused item
	Refusals    int               `json:"refusals"`
	Bytes       int64             `json:"bytes"` // bytes received from the repository since start
	Config      int64             `json:"config_version"`
	// Healthy is false while a failing check keeps a trial from committing.
	Healthy bool `json:"healthy"`
	// Loop is set while the agent refuses to install the same target a
	// second time in a row (see State.Loop).
	Loop *Loop `json:"loop,omitempty"`
	// PID is the agent's process, so a reader of status.json can tell a
	// live agent from the last words of a dead one.
	PID int `json:"pid"`
}

// Status returns a copy of the current status.
func (a *Agent) Status() Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.st
	s.Stale = !s.LastFresh.IsZero() && a.now().Sub(s.LastFresh) > a.o.OfflineGrace
	return s
}

// Admit returns ErrStale when no fresh signed metadata was verified for
// longer than the offline grace (visits may then be refused by the kiosk's
// gate, if it chooses to); nil otherwise. It never fails because of an
// update in progress.
func (a *Agent) Admit() error {
	if a.Status().Stale {
		return ErrStale
	}
	return nil
}

// CheckNow asks the running agent to check for an update at once.
func (a *Agent) CheckNow() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

func (a *Agent) set(f func(*Status)) {
	a.mu.Lock()
	prev := a.st.Phase
	f(&a.st)
	s := a.st
	write := s.Phase != prev || time.Since(a.wrote) > time.Second
	if write {
		a.wrote = time.Now()
	}
	a.mu.Unlock()
	if write {
		// For `kioskctl update status` and tests: atomic, not fsynced.
		if b, err := json.Marshal(s); err == nil {
			p := a.l.StatusPath()
			if os.WriteFile(p+".tmp", b, 0o644) == nil {
				os.Rename(p+".tmp", p)
			}
		}
	}
	if a.o.OnStatus != nil {
		a.o.OnStatus(s)
	}
}

// Running reports whether the agent that wrote s is still alive (a status
// left by a kiosk that died says nothing about what happens now).
func (s Status) Running() bool {
	return s.PID > 0 && syscall.Kill(s.PID, 0) == nil
}

// ReadStatus reads the status the running agent last wrote.
func ReadStatus(stateDir string) (Status, error) {
	var s Status
	b, err := os.ReadFile(NewLayout(stateDir).StatusPath())
	if err != nil {
		return s, fmt.Errorf("update: no status from a running agent: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("update: status: %w", err)
	}
	return s, nil
}

func (a *Agent) absorb(st State) {
	a.st.Floor = st.Floor
	a.st.Trial = st.Trial
	a.st.LastTrial = st.LastTrial
	a.st.LastFresh = st.LastFresh
	a.st.Config = st.ConfigVersion
	a.st.Loop = st.Loop
	a.st.Slots = map[string]string{}
	for _, slot := range []string{SlotA, SlotB} {
		if m, err := a.l.ReadManifest(slot); err == nil {
			a.st.Slots[slot] = m.Version
		}
	}
	a.st.Committed = a.st.Slots[st.Active]
	if a.st.LastFresh.IsZero() {
		a.st.LastFresh = st.TimeFloor
	}
}

func (a *Agent) fail(err error) {
	a.set(func(s *Status) {
		s.LastError = err.Error()
		var r *Refusal
		if errors.As(err, &r) {
			s.LastRefusal = r.Reason
			s.Refusals++
		}
	})
}

// Describe formats a status in a few lines for `kioskctl update status`.
func (s Status) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "version %s (slot %s), committed %s, channel %s, cohort %d, floor %s\n", s.Version, s.Slot, s.Committed, s.Channel, s.Cohort, s.Floor)
	if s.Binary != "" && s.Binary != s.Version {
		fmt.Fprintf(&b, "the binary says %s: built without the release's version stamp\n", s.Binary)
	}
	fmt.Fprintf(&b, "phase %s", s.Phase)
	if s.Available != "" {
		fmt.Fprintf(&b, ", available %s", s.Available)
	}
	if s.Progress.Total > 0 {
		fmt.Fprintf(&b, ", %d/%d bytes", s.Progress.Done, s.Progress.Total)
	}
	b.WriteString("\n")
	if s.Trial != nil {
		fmt.Fprintf(&b, "trial: %s in slot %s, %d launches, %d starts\n", s.Trial.Version, s.Trial.Slot, s.Trial.Attempts, s.Trial.Starts)
	}
	if s.LastTrial != nil {
		fmt.Fprintf(&b, "last trial: %s %s %s\n", s.LastTrial.Version, s.LastTrial.Outcome, s.LastTrial.Detail)
	}
	if s.Loop != nil {
		fmt.Fprintf(&b, "STOPPED an update loop: %s (%s) was offered again after it was installed; offered %d more times since %s\n",
			s.Loop.Version, s.Loop.Target, s.Loop.Offers, s.Loop.Since.UTC().Format(time.RFC3339))
	}
	if s.LastError != "" {
		fmt.Fprintf(&b, "last error: %s\n", s.LastError)
	}
	return b.String()
}

// Heartbeat returns the part of the heartbeat that describes updates.
func (s Status) Heartbeat() fleetproto.Update {
	u := fleetproto.Update{Phase: string(s.Phase), Floor: s.Floor, Available: s.Available,
		LastRefusal: s.LastRefusal, LastError: s.LastError, LastFresh: s.LastFresh, Stale: s.Stale, Config: s.Config,
		Committed: s.Committed, Slots: s.Slots}
	if s.Loop != nil {
		u.Loop = s.Loop.Version
	}
	if s.Trial != nil {
		u.Trial = s.Trial.Version
	}
	if s.LastTrial != nil {
		u.LastTrial = s.LastTrial.Version + " " + s.LastTrial.Outcome
		u.LastTrialDetail = s.LastTrial.Detail
		u.LastTrialAt = s.LastTrial.At
	}
	return u
}

// OnMilestone returns an OnStatus function that calls f (without blocking
// the agent) whenever a trial starts or ends, the committed release changes
// or a loop is stopped: moments the fleet view should learn at once
// (heartbeat.Sender.Kick).
func OnMilestone(f func()) func(Status) {
	var mu sync.Mutex
	last := ""
	return func(s Status) {
		key := s.Committed
		if s.Trial != nil {
			key += "|trial " + s.Trial.Version
		}
		if s.LastTrial != nil {
			key += "|last " + s.LastTrial.Version + " " + s.LastTrial.Outcome + " " + s.LastTrial.At.String()
		}
		if s.Loop != nil {
			key += "|loop " + s.Loop.Version
		}
		mu.Lock()
		changed := key != last
		last = key
		mu.Unlock()
		if changed {
			go f()
		}
	}
}
