package update

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// EnvSlot is set by the launcher for the process it starts: the slot name.
const EnvSlot = "EIDKIOSK_UPDATE_SLOT"

// Choice is what the launcher decided to start.
type Choice struct {
	Slot    string
	Version string
	Path    string // the slot's kiosk binary
	Trial   bool   // the slot is on probation
	// Abandoned is set when this launch ended a trial (crash loop, never
	// started, corrupt) and fell back to the committed slot.
	Abandoned *TrialResult
	// Attempt counts the launches of a trial slot, this one included.
	Attempt int
	// Fallback says why the launcher did not start the slot it should
	// have (the committed slot is damaged, state.json is unusable).
	Fallback string
}

// Log writes the launcher's decision to log: which slot and release it
// starts and why, and every trial it gives up (the journal keeps it).
func (c Choice) Log(log *slog.Logger) {
	if c.Abandoned != nil {
		log.Warn("kiosk-launch: giving up a release on trial, starting the committed slot",
			"version", c.Abandoned.Version, "outcome", c.Abandoned.Outcome, "why", c.Abandoned.Detail)
	}
	if c.Fallback != "" {
		log.Error("kiosk-launch: falling back", "slot", c.Slot, "version", c.Version, "why", c.Fallback)
	}
	if c.Trial {
		log.Info("kiosk-launch: starting a release on trial", "slot", c.Slot, "version", c.Version,
			"attempt", c.Attempt, "max_unstarted", MaxUnstarted, "max_starts", MaxStarts)
		return
	}
	log.Info("kiosk-launch: starting the committed release", "slot", c.Slot, "version", c.Version)
}

// Launch decides which slot to start and counts the attempt. It is the
// first thing that runs at every start (systemd ExecStart through `kioskctl
// update launch`, or Relaunch): it must never leave the terminal without a
// startable slot. now is the wall clock (for the record only).
func Launch(stateDir string, now time.Time) (Choice, error) {
	l := NewLayout(stateDir)
	unlock, err := l.lock()
	if err != nil {
		return Choice{}, err
	}
	defer unlock()
	st, err := l.load()
	if err != nil {
		// No usable state.json: start whichever slot verifies, newest first.
		return l.rescue(err)
	}
	if tr := st.Trial; tr != nil {
		outcome, detail := "", ""
		m, verr := l.VerifySlot(tr.Slot, false)
		switch {
		case verr != nil:
			outcome, detail = OutcomeCorrupt, verr.Error()
		case m.Version != tr.Version:
			outcome, detail = OutcomeCorrupt, fmt.Sprintf("slot holds %s, trial expects %s", m.Version, tr.Version)
		case tr.Starts >= MaxStarts:
			outcome, detail = OutcomeCrashLoop, fmt.Sprintf("started %d times without passing its health check", tr.Starts)
		case tr.Attempts-tr.Starts >= MaxUnstarted:
			outcome, detail = OutcomeNeverStarted, fmt.Sprintf("launched %d times, never reached its agent", tr.Attempts-tr.Starts)
		}
		if outcome == "" {
			tr.Attempts++
			if err := l.save(st); err != nil {
				return Choice{}, err
			}
			return Choice{Slot: tr.Slot, Version: tr.Version, Path: l.EntryPath(tr.Slot), Trial: true, Attempt: tr.Attempts}, nil
		}
		res := abandon(&st, outcome, detail, now)
		if err := l.save(st); err != nil {
			return Choice{}, err
		}
		c, err := l.committed(st)
		c.Abandoned = res
		return c, err
	}
	return l.committed(st)
}

// committed returns the active slot, or the other one if the active one is
// damaged and the other verifies.
func (l Layout) committed(st State) (Choice, error) {
	m, err := l.VerifySlot(st.Active, false)
	if err == nil {
		return Choice{Slot: st.Active, Version: m.Version, Path: l.EntryPath(st.Active)}, nil
	}
	other := Other(st.Active)
	if m2, err2 := l.VerifySlot(other, false); err2 == nil {
		return Choice{Slot: other, Version: m2.Version, Path: l.EntryPath(other),
			Fallback: fmt.Sprintf("the committed slot %s is damaged: %v", st.Active, err)}, nil
	}
	return Choice{}, fmt.Errorf("%w: %v", ErrNoSlot, err)
}

func (l Layout) rescue(cause error) (Choice, error) {
	var best Choice
	for _, s := range []string{SlotA, SlotB} {
		m, err := l.VerifySlot(s, false)
		if err != nil {
			continue
		}
		if best.Slot == "" || compareVersions(m.Version, best.Version) > 0 {
			best = Choice{Slot: s, Version: m.Version, Path: l.EntryPath(s)}
		}
	}
	if best.Slot == "" {
		return Choice{}, fmt.Errorf("%w: %v", ErrNoSlot, cause)
	}
	// Rebuild a state so the agent can work again.
	st := State{Active: best.Slot, Floor: best.Version}
	if err := l.save(st); err != nil {
		return Choice{}, err
	}
	best.Fallback = fmt.Sprintf("state.json unusable (%v): rebuilt it around the newest slot that verifies", cause)
	return best, nil
}

// abandon ends the trial in st without committing it.
func abandon(st *State, outcome, detail string, now time.Time) *TrialResult {
	res := &TrialResult{Version: st.Trial.Version, Outcome: outcome, Detail: detail, At: now}
	if !st.failed(st.Trial.Version) {
		st.Failed = append(st.Failed, st.Trial.Version)
	}
	st.Trial = nil
	st.LastTrial = res
	return res
}

// Seed installs binary as the committed release of a new terminal (slot a),
// when nothing is installed yet. It refuses to overwrite an installed state.
func Seed(stateDir, binary, version string, now time.Time) error {
	if _, err := parseVersion(version); err != nil {
		return err
	}
	l := NewLayout(stateDir)
	unlock, err := l.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := l.load(); err == nil {
		return fmt.Errorf("update: %s already holds an installed release", l.Root)
	} else if !errors.Is(err, errNoState) {
		return err
	}
	return l.seed(binary, version, "seed", now)
}

// seed installs binary in slot a as the committed release of a terminal
// that has none; the caller holds the lock.
func (l Layout) seed(binary, version, target string, now time.Time) error {
	if err := l.installBinary(SlotA, binary, Manifest{Version: version, Target: target, InstalledAt: now}); err != nil {
		return err
	}
	return l.save(State{Active: SlotA, Floor: version, TimeFloor: now})
}

// UnderSystemd reports whether the process was started by systemd.
func UnderSystemd() bool {
	return os.Getenv("INVOCATION_ID") != "" || os.Getenv("NOTIFY_SOCKET") != ""
}

// Exec runs Launch, logs its decision to log (nil: structured text on
// stderr, which the journal keeps) and replaces the current process with
// the chosen slot's binary (syscall.Exec), passing args and the environment
// with EnvSlot set. It returns only on error.
func Exec(stateDir string, args []string, log *slog.Logger) error {
	if log == nil {
		log = StderrLog()
	}
	c, err := Launch(stateDir, time.Now())
	if err != nil {
		log.Error("kiosk-launch: nothing to start", "err", err)
		return err
	}
	c.Log(log)
	env := append(withoutEnv(os.Environ(), EnvSlot), EnvSlot+"="+c.Slot)
	argv := append([]string{c.Path}, args...)
	if err := syscall.Exec(c.Path, argv, env); err != nil {
		return fmt.Errorf("update: exec %s: %w", c.Path, err)
	}
	return nil
}

// RestartExitCode is the exit status the kiosk uses to ask systemd for a
// restart onto the newly selected slot (the unit has Restart=always).
const RestartExitCode = 75

// Restart starts the selected slot: under systemd the process exits and
// systemd starts the launcher again; otherwise it re-executes through Exec
// with the current process's arguments. before runs first (close the
// outbox, stop the UI); it may be nil. Restart returns only on error.
func Restart(stateDir string, before func()) error {
	if before != nil {
		before()
	}
	if UnderSystemd() {
		os.Exit(RestartExitCode)
	}
	return Exec(stateDir, os.Args[1:], nil)
}

// StderrLog is the launcher's logger: structured text on stderr.
func StderrLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, nil))
}

func withoutEnv(env []string, key string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// RunningSlot says which slot the current process runs from: EnvSlot when
// the launcher set it, else the slot directory holding os.Executable().
func RunningSlot(stateDir string) string {
	if s := os.Getenv(EnvSlot); s == SlotA || s == SlotB {
		return s
	}
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	exe, _ = filepath.EvalSymlinks(exe)
	l := NewLayout(stateDir)
	for _, s := range []string{SlotA, SlotB} {
		d, _ := filepath.EvalSymlinks(l.SlotDir(s))
		if d != "" && filepath.Dir(exe) == d {
			return s
		}
	}
	return ""
}

// Main is the whole body of a stand-alone launcher binary (pure Go, no
// cgo, so a broken graphics or vision library cannot stop a rollback):
//
//	func main() { os.Exit(update.Main(os.Args[1:], os.Stderr)) }
//
// Arguments: -state DIR, then "--" and the kiosk's own arguments. It
// returns only on error (exit status 1) or a usage mistake (2).
func Main(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("kiosk-launch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	state := fs.String("state", "/var/lib/eidkiosk", "the kiosk's state directory (state.dir)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: kiosk-launch [flags] -- [kiosk flags]\n\n"+
			"Starts the kiosk from the A/B slot the update agent selected, counting start attempts so that a slot that never starts or keeps crashing is rolled back.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := Exec(*state, fs.Args(), slog.New(slog.NewTextHandler(stderr, nil))); err != nil {
		fmt.Fprintln(stderr, "kiosk-launch:", err)
		return 1
	}
	return 0
}
