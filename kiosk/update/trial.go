package update

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

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
	if len(tr.Exempt) > 0 {
		a.o.Log.Warn("update: this release is not judged on some health checks during its trial (signed in its metadata)",
			"version", tr.Version, "exempt", strings.Join(tr.Exempt, ","))
	}

	deadline := a.now().Add(a.o.HealthWindow)
	var last error
	for {
		last = a.runChecks(ctx, max(deadline.Sub(a.now()), time.Second), tr.Exempt)
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

// runChecks runs every check not in exempt, each bounded by timeout (what
// is left of the health window): a hanging check cannot hold a trial past it.
func (a *Agent) runChecks(ctx context.Context, timeout time.Duration, exempt []string) error {
	for _, c := range a.o.Checks {
		if slices.Contains(exempt, c.Name) {
			continue
		}
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
	if err := ctx.Err(); err != nil {
		// Stopping: the launcher starts the committed slot next time.
		if a.o.Lease != nil {
			a.o.Lease.Release(Holder)
		}
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
