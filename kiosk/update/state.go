package update

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"eidkiosk/internal/atomicfile"
	"eidkiosk/updatemeta"
)

// Limits of the trial start.
const (
	// MaxStarts is how many times a trial slot may start without committing
	// (crashes, power cuts after start) before it is abandoned.
	MaxStarts = 3
	// MaxUnstarted is how many launches may fail to reach the agent (power
	// cut on first boot, a binary that cannot start) before it is abandoned.
	MaxUnstarted = 5
)

// Trial outcomes recorded in State.LastTrial.
const (
	OutcomeCommitted    = "committed"
	OutcomeUnhealthy    = "unhealthy"     // started, checks failed or timed out
	OutcomeCrashLoop    = "crash-loop"    // started MaxStarts times, never committed
	OutcomeNeverStarted = "never-started" // launched MaxUnstarted times, never reached the agent
	OutcomeCorrupt      = "corrupt"       // the slot's files do not match its manifest
)

// Slot names.
const (
	SlotA = "a"
	SlotB = "b"
)

// Other returns the other slot.
func Other(slot string) string {
	if slot == SlotA {
		return SlotB
	}
	return SlotA
}

// Trial is a slot on probation.
type Trial struct {
	Slot     string    `json:"slot"`
	Version  string    `json:"version"`
	Attempts int       `json:"attempts"` // launches counted by the launcher
	Starts   int       `json:"starts"`   // starts counted by the slot itself
	Since    time.Time `json:"since"`    // when the switch was made
	// Exempt names health checks the release's signed metadata exempts it
	// from during this trial (a fix for a dead reader is not judged on it).
	Exempt []string `json:"exempt,omitempty"`
}

// TrialResult is how the last trial ended.
type TrialResult struct {
	Version string    `json:"version"`
	Outcome string    `json:"outcome"`
	Detail  string    `json:"detail,omitempty"`
	At      time.Time `json:"at"`
}

// State is the durable state of the update agent, in <state>/update/state.json.
type State struct {
	Active    string       `json:"active"`          // the committed slot
	Trial     *Trial       `json:"trial,omitempty"` // a slot on probation, started instead of Active
	Floor     string       `json:"floor"`           // version floor: never install below
	LastTrial *TrialResult `json:"last_trial,omitempty"`
	// Failed lists versions abandoned on trial; they are not offered again.
	Failed []string `json:"failed,omitempty"`
	// ConfigVersion is the version of the last applied remote configuration.
	ConfigVersion int64 `json:"config_version"`
	// LastFresh is when signed metadata was last verified fresh.
	LastFresh time.Time `json:"last_fresh"`
	// TimeFloor is the latest time this kiosk has trusted; a clock behind it is wrong.
	TimeFloor time.Time `json:"time_floor"`
	// LastSwitch is the last target switched to (put on trial). Switching
	// to the same target again is an update loop: a trial ends either
	// committed (the version floor then covers it) or failed.
	LastSwitch *Switch `json:"last_switch,omitempty"`
	// Loop is set when the agent stopped an update loop; it stays until a
	// different target is offered.
	Loop *Loop `json:"loop,omitempty"`
}

// Switch records one switch to a new slot.
type Switch struct {
	Version string    `json:"version"`
	Target  string    `json:"target"`
	SHA256  string    `json:"sha256"`
	At      time.Time `json:"at"`
}

// Loop is a stopped update loop: the same target offered for a second
// install in a row.
type Loop struct {
	Version string    `json:"version"`
	Target  string    `json:"target"`
	Since   time.Time `json:"since"`
	Offers  int       `json:"offers"` // times it was offered again since
}

func (s *State) failed(version string) bool {
	for _, v := range s.Failed {
		if v == version {
			return true
		}
	}
	return false
}

// Layout names the files under <state>/update.
type Layout struct{ Root string }

// NewLayout returns the layout under stateDir (the kiosk's state.dir).
func NewLayout(stateDir string) Layout { return Layout{Root: filepath.Join(stateDir, "update")} }

func (l Layout) StatePath() string          { return filepath.Join(l.Root, "state.json") }
func (l Layout) LockPath() string           { return filepath.Join(l.Root, "lock") }
func (l Layout) TUFDir() string             { return filepath.Join(l.Root, "tuf") }
func (l Layout) DownloadDir() string        { return filepath.Join(l.Root, "download") }
func (l Layout) SlotsDir() string           { return filepath.Join(l.Root, "slots") }
func (l Layout) SlotDir(slot string) string { return filepath.Join(l.Root, "slots", slot) }
func (l Layout) StatusPath() string         { return filepath.Join(l.Root, "status.json") }
func (l Layout) ConfigDir() string          { return filepath.Join(l.Root, "config") }
func (l Layout) RequestPath() string        { return filepath.Join(l.Root, "check-now") }

// Entry is the file name of the kiosk binary inside a slot.
const Entry = updatemeta.Entry

// EntryPath is the kiosk binary of slot.
func (l Layout) EntryPath(slot string) string { return filepath.Join(l.SlotDir(slot), Entry) }

func (l Layout) ensure() error {
	for _, d := range []string{l.Root, l.TUFDir(), l.DownloadDir(), l.SlotsDir(), l.ConfigDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("update: %w", err)
		}
	}
	return nil
}

// lock takes the exclusive lock that serialises state changes between the
// launcher and the agent (separate processes). unlock releases it.
func (l Layout) lock() (unlock func(), err error) {
	if err := l.ensure(); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(l.LockPath(), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("update: lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("update: lock: %w", err)
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

// errNoState: state.json does not exist (nothing installed yet).
var errNoState = errors.New("update: nothing installed in the update slots (a new terminal runs kioskctl update seed)")

func (l Layout) load() (State, error) {
	b, err := os.ReadFile(l.StatePath())
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, errNoState
	}
	if err != nil {
		return State{}, fmt.Errorf("update: read state: %w", err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return State{}, fmt.Errorf("update: state.json is damaged: %w", err)
	}
	if s.Active != SlotA && s.Active != SlotB {
		return State{}, fmt.Errorf("update: state.json names no active slot")
	}
	return s, nil
}

func (l Layout) save(s State) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	return writeFileAtomic(l.StatePath(), b, 0o600)
}

// change runs fn on the durable state under the lock and saves what fn left
// when it returns nil; it returns the state as saved.
func (l Layout) change(fn func(*State) error) (State, error) {
	unlock, err := l.lock()
	if err != nil {
		return State{}, err
	}
	defer unlock()
	st, err := l.load()
	if err != nil {
		return State{}, err
	}
	if err := fn(&st); err != nil {
		return State{}, err
	}
	return st, l.save(st)
}

// ReadState returns the durable state, for status displays.
func ReadState(stateDir string) (State, error) { return NewLayout(stateDir).load() }

// writeFileAtomic writes data to path durably (internal/atomicfile).
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	if err := atomicfile.Write(path, data, perm); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	if err := atomicfile.SyncDir(dir); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	return nil
}
