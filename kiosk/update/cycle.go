package update

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

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
	if a.o.ConfirmOnly {
		return Result{}, errors.New("update: this agent only settles trials (updates are off)")
	}
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
	c, ok := chooseRelease(tr.targets, a.o.Channel, a.cohort, a.l.committedVersion(st))
	if !ok {
		a.set(func(s *Status) { s.Available = "" })
		return res, ErrNoUpdate
	}
	if err := a.l.decide(st, c); err != nil {
		if errors.Is(err, ErrUpdateLoop) {
			return res, a.stopLoop(st, c, err)
		}
		if errors.Is(err, ErrNoUpdate) {
			a.set(func(s *Status) { s.Available = "" })
		}
		return res, err
	}
	if st.Loop != nil {
		// A different target: the loop is over.
		if st, err = a.l.change(func(st *State) error { st.Loop = nil; return nil }); err != nil {
			return res, err
		}
		a.set(func(s *Status) { a.absorb(st) })
	}
	slot := Other(st.Active)
	want := Manifest{Version: c.Meta.Version, Target: c.Path, SHA256: targetSHA(c), InstalledAt: now}
	if m, err := a.l.VerifySlot(slot, true); err == nil && m.Target == want.Target && m.SHA256 == want.SHA256 && m.Version == want.Version {
		// Installed by a cycle that was stopped before it switched.
		a.o.Log.Info("update: already installed, not downloading again", "version", c.Meta.Version, "slot", slot)
	} else {
		a.set(func(s *Status) { s.Available = c.Meta.Version; s.Phase = PhaseDownloading })
		a.o.Log.Info("update: downloading", "version", c.Meta.Version, "target", c.Path, "bytes", c.File.Length)
		file, err := src.download(c.File, tr.consistent, a.l.DownloadDir(), a.o.MaxTarget, func(p Progress) {
			a.set(func(s *Status) { s.Progress = p })
		})
		if err != nil {
			return res, classify(err)
		}
		if err := ctx.Err(); err != nil {
			return res, err // stopping: the download is kept for the next start
		}
		a.set(func(s *Status) { s.Phase = PhaseInstalling })
		if err := a.l.installArchive(ctx, slot, file, want); err != nil {
			return res, err
		}
		os.Remove(file)
	}
	a.set(func(s *Status) { s.Available = c.Meta.Version })
	if err := a.waitIdle(ctx); err != nil {
		return res, err
	}
	release := func() {
		if a.o.Lease != nil {
			a.o.Lease.Release(Holder)
		}
	}
	if err := ctx.Err(); err != nil {
		release()
		return res, err
	}
	a.set(func(s *Status) { s.Phase = PhaseSwitching })
	if err := a.switchTo(slot, want, c.Meta.Exempt); err != nil {
		release()
		return res, err
	}
	res.Installed = c.Meta.Version
	res.Bytes = src.bytes.Load()
	if err := ctx.Err(); err != nil {
		// Stopping after the switch: the launcher starts the trial at the
		// next start; restarting now would outlive the stop.
		release()
		a.o.Log.Info("update: switched; the new slot starts at the next start", "version", c.Meta.Version, "slot", slot)
		return res, err
	}
	a.o.Log.Info("update: switching", "version", c.Meta.Version, "slot", slot)
	if err := a.o.Restart(); err != nil {
		release()
		return res, fmt.Errorf("update: restart onto %s (it starts at the next restart): %w", c.Meta.Version, err)
	}
	return res, nil
}

// stopLoop records a stopped update loop (durably, so status, heartbeat
// and metrics show it after a restart too) and returns err. Nothing is
// downloaded and neither slot is touched: the rollback slot stays intact.
func (a *Agent) stopLoop(st State, c candidate, err error) error {
	st, cerr := a.l.change(func(st *State) error {
		if st.Loop == nil || st.Loop.Target != c.Path {
			st.Loop = &Loop{Version: c.Meta.Version, Target: c.Path, Since: a.now()}
		} else {
			st.Loop.Offers++
		}
		return nil
	})
	if cerr != nil {
		return cerr
	}
	if st.Loop.Offers == 0 {
		a.o.Log.Error("update: update loop stopped: the release switched to last is offered again; not installing it twice",
			"version", c.Meta.Version, "target", c.Path, "committed", a.l.committedVersion(st), "floor", st.Floor)
	}
	a.set(func(s *Status) { a.absorb(st); s.Available = "" })
	return err
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

func (a *Agent) switchTo(slot string, m Manifest, exempt []string) error {
	st, err := a.l.change(func(st *State) error {
		if st.Active == slot {
			return fmt.Errorf("update: slot %s is the committed one", slot)
		}
		if _, err := a.l.VerifySlot(slot, true); err != nil {
			return err
		}
		st.Trial = &Trial{Slot: slot, Version: m.Version, Since: a.now(), Exempt: exempt}
		st.LastSwitch = &Switch{Version: m.Version, Target: m.Target, SHA256: m.SHA256, At: a.now()}
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
