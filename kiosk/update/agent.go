package update

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"eidkiosk/internal/clock"
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

// Options configure an Agent. StateDir, TrustedRoot and RepoURL are
// required.
type Options struct {
	StateDir    string       // the kiosk's state.dir; the agent works in <StateDir>/update
	TrustedRoot []byte       // root.json delivered by provisioning
	RepoURL     string       // https://authority/tuf/ or an absolute directory (USB stick)
	Client      *http.Client // the kiosk's mTLS client; nil: http.DefaultClient
	// Version is what the running binary says it is (its build stamp),
	// for reports only: the agent decides from the slots' manifests and the
	// version floor, never from this string.
	Version  string
	DeviceID string // stable device identity: the rollout cohort
	Station  string // station ID, for station-specific configuration
	Channel  string // "stable" or "pilot"

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
	// ConfirmOnly makes an agent that only settles a trial of the running
	// slot (a release installed by the Debian package on a terminal whose
	// update agent is off): no repository, no TrustedRoot; Run confirms and
	// then waits for ctx.
	ConfirmOnly bool
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
	if len(o.TrustedRoot) == 0 && !o.ConfirmOnly {
		return nil, errors.New("update: no trusted root.json (provisioning delivers it)")
	}
	if o.RepoURL == "" && !o.ConfirmOnly {
		return nil, errors.New("update: no repository URL")
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
	a.st = Status{Version: a.runningVersion(), Binary: o.Version, Slot: a.slot, Channel: o.Channel, Cohort: a.cohort, Phase: PhaseIdle, Healthy: true, PID: os.Getpid()}
	if st, err := a.l.load(); err == nil {
		a.absorb(st)
	}
	return a, nil
}

// runningVersion is the version of the slot this process runs from, as its
// manifest (written from signed metadata at install) says; the build stamp
// only when the process runs from no slot (tests, kioskctl).
func (a *Agent) runningVersion() string {
	if a.slot != "" {
		if m, err := a.l.ReadManifest(a.slot); err == nil {
			return m.Version
		}
	}
	return a.o.Version
}

// Run confirms a trial slot (health checks, then commit or roll back) and
// then checks for updates every PollInterval and on CheckNow, until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	go a.watchRequests(ctx)
	if err := a.Confirm(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		a.o.Log.Error("update: trial", "err", err)
		a.fail(err)
	}
	if a.o.ConfirmOnly {
		<-ctx.Done()
		return ctx.Err()
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

// watchRequests turns a check-now request file (RequestCheck, written by
// `kioskctl update now` in another process) into CheckNow, looking every
// CheckEvery until ctx ends.
func (a *Agent) watchRequests(ctx context.Context) {
	p := a.l.RequestPath()
	for {
		if err := a.wait(ctx, a.o.CheckEvery, nil); err != nil {
			return
		}
		if err := os.Remove(p); err == nil {
			a.o.Log.Info("update: check requested on the terminal")
			a.CheckNow()
		}
	}
}

// RequestCheck asks the agent running on stateDir (in the kiosk) to check
// for an update at once; it acts within its CheckEvery (2 s by default).
func RequestCheck(stateDir string) error {
	l := NewLayout(stateDir)
	if err := l.ensure(); err != nil {
		return err
	}
	if err := os.WriteFile(l.RequestPath(), nil, 0o600); err != nil {
		return fmt.Errorf("update: request a check: %w", err)
	}
	return nil
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
