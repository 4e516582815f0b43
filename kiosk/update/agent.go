package update

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"eidkiosk/internal/clock"
	"eidkiosk/kiosk/heartbeat"
)

// Check is one health check of a freshly started slot (drivers up, UI up,
// authority reachable, self-test passing). Run returns nil when healthy.
type Check struct {
	Name string
	Run  func(ctx context.Context) error
}

// Lease is the "citizen at the kiosk" lock (kiosk/lease implements it):
// the agent takes it as holder "update" for the switch, so no visit starts
// while the terminal restarts.
type Lease interface {
	TryAcquire(holder string) error
	Release(holder string)
}

// Holder is the lease holder name the agent uses.
const Holder = "update"

// Options configure an Agent. StateDir, TrustedRoot, RepoURL and Version
// are required.
type Options struct {
	StateDir    string       // the kiosk's state.dir; the agent works in <StateDir>/update
	TrustedRoot []byte       // root.json delivered by provisioning
	RepoURL     string       // https://authority/tuf/ or an absolute directory (USB stick)
	Client      *http.Client // the kiosk's mTLS client; nil: http.DefaultClient
	Version     string       // the running release
	DeviceID    string       // stable device identity: the rollout cohort
	Station     string       // station ID, for station-specific configuration
	Channel     string       // "stable" or "pilot"

	PollInterval time.Duration // default 1h
	HealthWindow time.Duration // default 5m
	OfflineGrace time.Duration // default 30 days
	// CheckEvery is the pause between health check rounds, and between
	// looks at the visit lease while waiting to switch; default 2s.
	CheckEvery time.Duration
	// MaxTarget bounds a release's size; default 1 GiB.
	MaxTarget int64
	// MaxSkew is the largest accepted difference between the system clock
	// and the authority's Date header; default 10 minutes.
	MaxSkew time.Duration

	Clock  clock.Clock // default clock.Real
	Lease  Lease       // nil: switch whenever (tests, kioskctl)
	Checks []Check
	// Restart starts the slot selected in state.json; default Restart(StateDir, nil).
	Restart func() error
	// OnConfig applies a signed configuration; nil: write it to the config
	// dir only. The agent records ConfigVersion only when it returns nil.
	OnConfig func(ctx context.Context, data []byte, version int64) error
	// OnStatus is called (without blocking) when the status changes.
	OnStatus func(Status)
	Log      *slog.Logger
}

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
	Version     string       `json:"version"`
	Slot        string       `json:"slot"`
	Channel     string       `json:"channel"`
	Cohort      int          `json:"cohort"`
	Phase       Phase        `json:"phase"`
	Floor       string       `json:"floor"`
	Available   string       `json:"available,omitempty"` // a newer release offered to this terminal
	Progress    Progress     `json:"progress"`
	Trial       *Trial       `json:"trial,omitempty"`
	LastTrial   *TrialResult `json:"last_trial,omitempty"`
	LastCheck   time.Time    `json:"last_check"`
	LastFresh   time.Time    `json:"last_fresh"`
	Expires     time.Time    `json:"expires"` // earliest expiry of the verified metadata
	Stale       bool         `json:"stale"`   // no fresh metadata for longer than the offline grace
	LastError   string       `json:"last_error,omitempty"`
	LastRefusal string       `json:"last_refusal,omitempty"` // reason code of the last refused item
	Refusals    int          `json:"refusals"`
	Bytes       int64        `json:"bytes"` // bytes received from the repository since start
	Config      int64        `json:"config_version"`
	// Healthy is false while a failing check keeps a trial from committing.
	Healthy bool `json:"healthy"`
}

// Agent runs the update cycle in the kiosk.
type Agent struct {
	o      Options
	l      Layout
	slot   string
	cohort int
	now    func() time.Time

	kick chan struct{}
	busy sync.Mutex // one cycle at a time

	mu    sync.Mutex
	st    Status
	wrote time.Time
}

// New checks the options and returns an agent; Run starts it.
func New(o Options) (*Agent, error) {
	if o.StateDir == "" || !filepath.IsAbs(o.StateDir) {
		return nil, fmt.Errorf("update: state dir %q must be an absolute path", o.StateDir)
	}
	if len(o.TrustedRoot) == 0 {
		return nil, errors.New("update: no trusted root.json (provisioning delivers it)")
	}
	if o.RepoURL == "" {
		return nil, errors.New("update: no repository URL")
	}
	if _, err := parseVersion(o.Version); err != nil {
		return nil, err
	}
	if o.Channel == "" {
		o.Channel = "stable"
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.PollInterval, time.Hour)
	def(&o.HealthWindow, 5*time.Minute)
	def(&o.OfflineGrace, 30*24*time.Hour)
	def(&o.CheckEvery, 2*time.Second)
	def(&o.MaxSkew, 10*time.Minute)
	if o.MaxTarget <= 0 {
		o.MaxTarget = 1 << 30
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Restart == nil {
		dir := o.StateDir
		o.Restart = func() error { return Restart(dir, nil) }
	}
	a := &Agent{o: o, l: NewLayout(o.StateDir), slot: RunningSlot(o.StateDir),
		cohort: Cohort(o.DeviceID), now: o.Clock.Now, kick: make(chan struct{}, 1)}
	a.st = Status{Version: o.Version, Slot: a.slot, Channel: o.Channel, Cohort: a.cohort, Phase: PhaseIdle, Healthy: true}
	if st, err := a.l.load(); err == nil {
		a.absorb(st)
	}
	return a, nil
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

// Run confirms a trial slot (health checks, then commit or roll back) and
// then checks for updates every PollInterval and on CheckNow, until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	if err := a.Confirm(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		a.o.Log.Error("update: trial", "err", err)
		a.fail(err)
	}
	for {
		_, err := a.Cycle(ctx)
		switch {
		case err == nil, errors.Is(err, ErrNoUpdate):
		case ctx.Err() != nil:
			return ctx.Err()
		default:
			a.o.Log.Warn("update: check failed", "err", err)
		}
		if err := a.wait(ctx, a.o.PollInterval, a.kick); err != nil {
			return err
		}
	}
}

// wait sleeps d on the agent's clock, or until kick fires or ctx ends.
func (a *Agent) wait(ctx context.Context, d time.Duration, kick <-chan struct{}) error {
	done := make(chan struct{})
	t := a.o.Clock.AfterFunc(d, func() { close(done) })
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-done:
	case <-kick:
	}
	return nil
}

// Confirm settles a trial of the running slot: it records the start, runs
// the checks until all pass or the health window ends, and commits or
// abandons the slot (then restarts onto the committed one).
func (a *Agent) Confirm(ctx context.Context) error {
	unlock, err := a.l.lock()
	if err != nil {
		return err
	}
	st, err := a.l.load()
	if err != nil {
		unlock()
		return err
	}
	tr := st.Trial
	if tr == nil || tr.Slot != a.slot {
		unlock()
		a.set(func(s *Status) { a.absorb(st) })
		return nil
	}
	tr.Starts++
	err = a.l.save(st)
	unlock()
	if err != nil {
		return err
	}
	a.set(func(s *Status) { a.absorb(st); s.Phase = PhaseTrial })
	a.o.Log.Info("update: trial start", "version", tr.Version, "slot", tr.Slot, "start", tr.Starts, "attempt", tr.Attempts)

	deadline := a.now().Add(a.o.HealthWindow)
	var last error
	for {
		last = a.runChecks(ctx, max(deadline.Sub(a.now()), time.Second))
		if last == nil {
			return a.commit(tr.Version)
		}
		a.set(func(s *Status) { s.Healthy = false; s.LastError = last.Error() })
		if !a.now().Before(deadline) {
			break
		}
		wait := min(a.o.CheckEvery, deadline.Sub(a.now()))
		if err := a.wait(ctx, wait, nil); err != nil {
			return err
		}
	}
	a.o.Log.Error("update: trial unhealthy, restoring the committed slot", "version", tr.Version, "err", last)
	return a.rollback(ctx, OutcomeUnhealthy, last.Error())
}

// runChecks runs every check, each bounded by timeout (what is left of
// the health window): a hanging check cannot hold a trial past it.
func (a *Agent) runChecks(ctx context.Context, timeout time.Duration) error {
	for _, c := range a.o.Checks {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		err := c.Run(cctx)
		cancel()
		if err != nil {
			return fmt.Errorf("health check %s: %w", c.Name, err)
		}
	}
	return nil
}

func (a *Agent) commit(version string) error {
	st, err := a.l.change(func(st *State) error {
		if st.Trial == nil || st.Trial.Slot != a.slot {
			return fmt.Errorf("update: commit: trial of slot %s is no longer pending", a.slot)
		}
		st.Active = st.Trial.Slot
		st.Floor = maxVersion(st.Floor, st.Trial.Version)
		st.LastTrial = &TrialResult{Version: st.Trial.Version, Outcome: OutcomeCommitted, At: a.now()}
		st.Trial = nil
		return nil
	})
	if err != nil {
		return err
	}
	a.set(func(s *Status) { a.absorb(st); s.Phase = PhaseIdle; s.Healthy = true; s.LastError = "" })
	a.o.Log.Info("update: committed", "version", version, "slot", a.slot)
	return nil
}

func (a *Agent) rollback(ctx context.Context, outcome, detail string) error {
	unlock, err := a.l.lock()
	if err != nil {
		return err
	}
	st, err := a.l.load()
	if err == nil && st.Trial != nil {
		abandon(&st, outcome, detail, a.now())
		err = a.l.save(st)
	}
	unlock()
	if err != nil {
		return err
	}
	a.set(func(s *Status) { a.absorb(st); s.Phase = PhaseRollingBack })
	if err := a.waitIdle(ctx); err != nil {
		return err
	}
	if err := a.o.Restart(); err != nil {
		if a.o.Lease != nil {
			a.o.Lease.Release(Holder)
		}
		return fmt.Errorf("update: restart onto the committed slot: %w", err)
	}
	return nil
}

// waitIdle takes the lease as Holder, waiting while a visit holds it. The
// lease is kept: the process is about to restart.
func (a *Agent) waitIdle(ctx context.Context) error {
	if a.o.Lease == nil {
		return nil
	}
	for {
		if err := a.o.Lease.TryAcquire(Holder); err == nil {
			return nil
		}
		a.set(func(s *Status) { s.Phase = PhaseWaitIdle })
		if err := a.wait(ctx, min(a.o.CheckEvery, 5*time.Second), nil); err != nil {
			return err
		}
	}
}

// Result is what one update cycle did.
type Result struct {
	Installed string // version installed and switched to ("" if none)
	Config    int64  // configuration version applied (0 if none)
	Bytes     int64  // bytes received
}

// Cycle refreshes the signed metadata, applies a newer configuration,
// downloads, verifies and installs a newer release into the inactive slot,
// waits until no visit holds the lease, switches and restarts. It returns
// ErrNoUpdate when there is nothing to do. A Refusal reports what was
// refused and why.
func (a *Agent) Cycle(ctx context.Context) (Result, error) {
	return a.cycleFrom(ctx, a.o.RepoURL)
}

// CycleFrom is Cycle from another copy of the repository (a USB stick's
// directory). Rollback protection, the version floor and expiry apply the
// same way, against the same metadata cache.
func (a *Agent) CycleFrom(ctx context.Context, repo string) (Result, error) {
	return a.cycleFrom(ctx, repo)
}

func (a *Agent) cycleFrom(ctx context.Context, repo string) (res Result, err error) {
	a.busy.Lock()
	defer a.busy.Unlock()
	defer func() {
		if err != nil && !errors.Is(err, ErrNoUpdate) && !errors.Is(err, ErrBusy) {
			a.fail(err)
		}
		a.set(func(s *Status) {
			if s.Phase != PhaseSwitching {
				s.Phase = PhaseIdle
			}
			if err == nil || errors.Is(err, ErrNoUpdate) {
				s.LastError = ""
			}
		})
	}()
	st, err := a.l.load()
	if err != nil {
		return res, err
	}
	if st.Trial != nil {
		return res, fmt.Errorf("update: %s is on trial; no new update before it is settled", st.Trial.Version)
	}
	now := a.now()
	a.set(func(s *Status) { s.Phase = PhaseChecking; s.LastCheck = now })
	if !st.TimeFloor.IsZero() && now.Before(st.TimeFloor.Add(-a.o.MaxSkew)) {
		return res, &Refusal{Reason: ReasonClock, Err: fmt.Errorf("%w: clock reads %s, before %s already seen", ErrClockUntrusted, now.UTC().Format(time.RFC3339), st.TimeFloor.UTC().Format(time.RFC3339))}
	}
	src, err := newSource(ctx, repo, a.o.Client)
	if err != nil {
		return res, err
	}
	defer func() {
		res.Bytes = src.bytes.Load()
		a.set(func(s *Status) { s.Bytes += res.Bytes })
	}()
	tr, err := refresh(a.l, a.o.TrustedRoot, src, now)
	if d := src.serverDate(); !d.IsZero() && (now.Sub(d) > a.o.MaxSkew || d.Sub(now) > a.o.MaxSkew) {
		// A wrong clock makes everything look expired (or fresh): refuse
		// to decide anything until it is right, but never stop visits.
		return res, &Refusal{Reason: ReasonClock, Err: fmt.Errorf("%w: clock reads %s, the authority %s", ErrClockUntrusted, now.UTC().Format(time.RFC3339), d.UTC().Format(time.RFC3339))}
	}
	if err != nil {
		return res, err
	}
	if err := a.freshen(now, tr.expires); err != nil {
		return res, err
	}
	if c, ok := chooseConfig(tr.targets, a.o.Channel, a.o.Station, a.cohort, st.ConfigVersion); ok {
		if err := a.applyConfig(ctx, src, tr, c); err != nil {
			return res, err
		}
		res.Config = c.Meta.ConfigVersion
	}
	c, ok := chooseRelease(tr.targets, a.o.Channel, a.cohort, a.o.Version)
	if !ok {
		return res, ErrNoUpdate
	}
	switch {
	case st.Floor != "" && compareVersions(c.Meta.Version, st.Floor) < 0:
		return res, &Refusal{Reason: ReasonBelowFloor, Err: fmt.Errorf("%w: offered %s, floor %s", ErrBelowFloor, c.Meta.Version, st.Floor)}
	case compareVersions(c.Meta.Version, a.o.Version) <= 0:
		a.set(func(s *Status) { s.Available = "" })
		return res, ErrNoUpdate
	case st.failed(c.Meta.Version):
		return res, fmt.Errorf("%w: %s failed its trial on this terminal; waiting for a newer release", ErrNoUpdate, c.Meta.Version)
	}
	a.set(func(s *Status) { s.Available = c.Meta.Version; s.Phase = PhaseDownloading })
	a.o.Log.Info("update: downloading", "version", c.Meta.Version, "bytes", c.File.Length)
	file, err := src.download(c.File, tr.consistent, a.l.DownloadDir(), a.o.MaxTarget, func(p Progress) {
		a.set(func(s *Status) { s.Progress = p })
	})
	if err != nil {
		return res, classify(err)
	}
	slot := Other(st.Active)
	a.set(func(s *Status) { s.Phase = PhaseInstalling })
	if err := a.l.installArchive(slot, file, Manifest{Version: c.Meta.Version, Target: c.Path, InstalledAt: now}); err != nil {
		return res, err
	}
	os.Remove(file)
	if err := a.waitIdle(ctx); err != nil {
		return res, err
	}
	a.set(func(s *Status) { s.Phase = PhaseSwitching })
	if err := a.switchTo(slot, c.Meta.Version); err != nil {
		if a.o.Lease != nil {
			a.o.Lease.Release(Holder)
		}
		return res, err
	}
	res.Installed = c.Meta.Version
	res.Bytes = src.bytes.Load()
	a.o.Log.Info("update: switching", "version", c.Meta.Version, "slot", slot)
	if err := a.o.Restart(); err != nil {
		if a.o.Lease != nil {
			a.o.Lease.Release(Holder)
		}
		return res, fmt.Errorf("update: restart onto %s (it starts at the next restart): %w", c.Meta.Version, err)
	}
	return res, nil
}

// freshen records a successful verification: the trusted-time floor rises.
func (a *Agent) freshen(now, expires time.Time) error {
	st, err := a.l.change(func(st *State) error {
		st.LastFresh = now
		if now.After(st.TimeFloor) {
			st.TimeFloor = now
		}
		return nil
	})
	if err != nil {
		return err
	}
	a.set(func(s *Status) { a.absorb(st); s.Expires = expires })
	return nil
}

func (a *Agent) switchTo(slot, version string) error {
	st, err := a.l.change(func(st *State) error {
		if st.Active == slot {
			return fmt.Errorf("update: slot %s is the committed one", slot)
		}
		if _, err := a.l.VerifySlot(slot, true); err != nil {
			return err
		}
		st.Trial = &Trial{Slot: slot, Version: version, Since: a.now()}
		return nil
	})
	if err != nil {
		return err
	}
	a.set(func(s *Status) { a.absorb(st) })
	return nil
}

func (a *Agent) applyConfig(ctx context.Context, src *source, tr *trusted, c candidate) error {
	if c.File.Length > 1<<20 {
		return &Refusal{Reason: ReasonTooLarge, Err: fmt.Errorf("%w: configuration %s is %d bytes", ErrTooLarge, c.Path, c.File.Length)}
	}
	file, err := src.download(c.File, tr.consistent, a.l.DownloadDir(), 1<<20, nil)
	if err != nil {
		return classify(err)
	}
	defer os.Remove(file)
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(a.l.ConfigDir(), "kiosk.toml"), data, 0o600); err != nil {
		return err
	}
	if a.o.OnConfig != nil {
		if err := a.o.OnConfig(ctx, data, c.Meta.ConfigVersion); err != nil {
			return fmt.Errorf("update: configuration %d not applied: %w", c.Meta.ConfigVersion, err)
		}
	}
	st, err := a.l.change(func(st *State) error {
		st.ConfigVersion = c.Meta.ConfigVersion
		return nil
	})
	if err != nil {
		return err
	}
	a.set(func(s *Status) { a.absorb(st) })
	a.o.Log.Info("update: configuration applied", "config_version", c.Meta.ConfigVersion)
	return nil
}

// Describe formats a status in a few lines for `kioskctl update status`.
func (s Status) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "version %s (slot %s), channel %s, cohort %d, floor %s\n", s.Version, s.Slot, s.Channel, s.Cohort, s.Floor)
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
	if s.LastError != "" {
		fmt.Fprintf(&b, "last error: %s\n", s.LastError)
	}
	return b.String()
}

// Heartbeat returns the part of the heartbeat that describes updates.
func (s Status) Heartbeat() heartbeat.Update {
	u := heartbeat.Update{Phase: string(s.Phase), Floor: s.Floor, Available: s.Available,
		LastRefusal: s.LastRefusal, LastError: s.LastError, LastFresh: s.LastFresh, Stale: s.Stale, Config: s.Config}
	if s.Trial != nil {
		u.Trial = s.Trial.Version
	}
	if s.LastTrial != nil {
		u.LastTrial = s.LastTrial.Version + " " + s.LastTrial.Outcome
	}
	return u
}
