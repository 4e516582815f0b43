package update_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"eidkiosk/kiosk/update"
)

// fakeBinary writes a file standing in for a packaged kiosk binary.
func fakeBinary(t *testing.T, dir, content string) string {
	t.Helper()
	p := filepath.Join(dir, "kiosk-"+content)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n# "+content+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// A Debian package upgrade goes through the A/B slots like a release
// from the update repository: newer → on trial in the other slot;
// older, equal, failed here, or during another trial → nothing moves.
func TestInstallPackaged(t *testing.T) {
	state, bins := t.TempDir(), t.TempDir()
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	v1, v2, v3 := fakeBinary(t, bins, "1"), fakeBinary(t, bins, "2"), fakeBinary(t, bins, "3")

	r, err := update.InstallPackaged(state, v1, "1.0.0", now)
	if err != nil || r.Outcome != update.PackagedSeeded || r.Slot != update.SlotA {
		t.Fatalf("first install: %+v, %v", r, err)
	}
	// A reinstall of the same package changes nothing.
	if r, err := update.InstallPackaged(state, v1, "1.0.0", now); err != nil || r.Outcome != update.PackagedKept {
		t.Fatalf("reinstall: %+v, %v", r, err)
	}
	// A newer package: on trial in slot b, the launcher starts it.
	r, err = update.InstallPackaged(state, v2, "2.0.0", now)
	if err != nil || r.Outcome != update.PackagedTrial || r.Slot != update.SlotB || r.Have != "1.0.0" {
		t.Fatalf("upgrade: %+v, %v", r, err)
	}
	st, err := update.ReadState(state)
	if err != nil || st.Active != update.SlotA || st.Trial == nil || st.Trial.Slot != update.SlotB || st.Trial.Version != "2.0.0" ||
		st.LastSwitch == nil || st.LastSwitch.Target != update.TargetPackage || st.Floor != "1.0.0" {
		t.Fatalf("state after upgrade: %+v, %v", st, err)
	}
	c, err := update.Launch(state, now)
	if err != nil || c.Slot != update.SlotB || !c.Trial || c.Version != "2.0.0" {
		t.Fatalf("launch after upgrade: %+v, %v", c, err)
	}
	m, err := update.NewLayout(state).VerifySlot(update.SlotB, true)
	if err != nil || m.Version != "2.0.0" || m.Target != update.TargetPackage || m.SHA256 == "" {
		t.Fatalf("slot b: %+v, %v", m, err)
	}
	// Another package while 2.0.0 is on trial waits.
	if r, err := update.InstallPackaged(state, v3, "3.0.0", now); err != nil || r.Outcome != update.PackagedWaiting {
		t.Fatalf("during a trial: %+v, %v", r, err)
	}
	if m, _ := update.NewLayout(state).ReadManifest(update.SlotB); m.Version != "2.0.0" {
		t.Fatalf("the trial slot was overwritten: %+v", m)
	}
}

// The trial of a packaged release is settled by a confirm-only agent (a
// terminal whose update agent is off): healthy → committed, floor raised;
// unhealthy → rolled back and never installed again from the package.
func TestPackagedTrialSettles(t *testing.T) {
	for _, healthy := range []bool{true, false} {
		t.Run(map[bool]string{true: "healthy", false: "unhealthy"}[healthy], func(t *testing.T) {
			state, bins := t.TempDir(), t.TempDir()
			now := time.Now()
			if _, err := update.InstallPackaged(state, fakeBinary(t, bins, "1"), "1.0.0", now); err != nil {
				t.Fatal(err)
			}
			v2 := fakeBinary(t, bins, "2")
			if _, err := update.InstallPackaged(state, v2, "2.0.0", now); err != nil {
				t.Fatal(err)
			}
			t.Setenv(update.EnvSlot, update.SlotB)
			restarted := 0
			check := func(context.Context) error {
				if healthy {
					return nil
				}
				return errors.New("camera: no frames")
			}
			a, err := update.New(update.Options{StateDir: state, ConfirmOnly: true, HealthWindow: 50 * time.Millisecond,
				CheckEvery: 10 * time.Millisecond, Checks: []update.Check{{Name: "camera", Run: check}},
				Restart: func() error { restarted++; return nil }})
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Confirm(context.Background()); err != nil {
				t.Fatal(err)
			}
			st, err := update.ReadState(state)
			if err != nil || st.Trial != nil || st.LastTrial == nil {
				t.Fatalf("state: %+v, %v", st, err)
			}
			if healthy {
				if st.Active != update.SlotB || st.Floor != "2.0.0" || st.LastTrial.Outcome != update.OutcomeCommitted || restarted != 0 {
					t.Fatalf("healthy: %+v, restarts %d", st, restarted)
				}
				if r, _ := update.InstallPackaged(state, v2, "2.0.0", now); r.Outcome != update.PackagedKept {
					t.Fatalf("reinstall after commit: %+v", r)
				}
				return
			}
			if st.Active != update.SlotA || st.LastTrial.Outcome != update.OutcomeUnhealthy || restarted != 1 {
				t.Fatalf("unhealthy: %+v, restarts %d", st, restarted)
			}
			if r, _ := update.InstallPackaged(state, v2, "2.0.0", now); r.Outcome != update.PackagedFailed {
				t.Fatalf("reinstall after a failed trial: %+v", r)
			}
			if _, err := a.Cycle(context.Background()); err == nil {
				t.Fatal("a confirm-only agent ran an update cycle")
			}
		})
	}
}
