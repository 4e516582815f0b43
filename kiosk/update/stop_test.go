package update_test

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	repo "eidkiosk/authority/release"
	"eidkiosk/kiosk/update"
)

// stopTimeout is the kiosk unit's TimeoutStopSec: after it systemd kills.
const stopTimeout = 20 * time.Second

// launcherBinary builds cmd/kiosk-launch, the real launcher.
func launcherBinary(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "kiosk-launch")
	if b, err := exec.Command("go", "build", "-o", out, "eidkiosk/cmd/kiosk-launch").CombinedOutput(); err != nil {
		t.Fatalf("build kiosk-launch: %v\n%s", err, b)
	}
	return out
}

// TestStopInEveryPhase: SIGTERM while the agent downloads, installs,
// switches and while the new release is on trial. The kiosk, started by
// the real launcher (which executes it in its own process, as under
// systemd), exits within the stop timeout without starting anything else,
// leaves a state the launcher starts from, and reaches the release at the
// next start.
func TestStopInEveryPhase(t *testing.T) {
	launcher := launcherBinary(t)
	v1 := kioskBinary(t, "1.0.0", true)
	v2 := kioskBinary(t, "2.0.0", true)
	tmp := t.TempDir()
	r := newRepo(t, time.Now, repo.InitOptions{})
	rootFile := filepath.Join(tmp, "root.json")
	os.WriteFile(rootFile, r.root(t), 0o644)
	r.release(t, archive(t, tmp, v2, 4<<20), "2.0.0", 100)
	srv := httptest.NewServer(http.StripPrefix("/tuf/", http.FileServer(http.Dir(r.Dir))))
	defer srv.Close()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "INVOCATION_ID=") && !strings.HasPrefix(kv, "NOTIFY_SOCKET=") && !strings.HasPrefix(kv, update.EnvSlot+"=") {
			env = append(env, kv)
		}
	}
	for _, phase := range []update.Phase{update.PhaseDownloading, update.PhaseInstalling, update.PhaseSwitching, update.PhaseTrial} {
		t.Run(string(phase), func(t *testing.T) {
			state := filepath.Join(t.TempDir(), "state")
			if err := update.Seed(state, v1, "1.0.0", time.Now()); err != nil {
				t.Fatal(err)
			}
			start := func(stopAt string) *exec.Cmd {
				cmd := exec.Command(launcher, "-state", state, "--", "-state", state, "-repo", srv.URL+"/tuf/",
					"-root", rootFile, "-poll", "100ms", "-window", "5s", "-check-delay", "1s")
				cmd.Env = append(env, "EIDKIOSK_TEST_STOP_AT="+stopAt)
				return cmd
			}
			cmd := start(string(phase))
			stderr, _ := cmd.StderrPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waited := make(chan error, 1)
			signalled := make(chan time.Time, 1)
			var out strings.Builder
			go func() {
				sc := bufio.NewScanner(stderr)
				for sc.Scan() {
					out.WriteString(sc.Text() + "\n")
					if strings.HasPrefix(sc.Text(), "SIGTERM in ") {
						signalled <- time.Now()
					}
				}
				waited <- cmd.Wait()
			}()
			var at time.Time
			select {
			case at = <-signalled:
			case err := <-waited:
				t.Fatalf("the kiosk ended (%v) before reaching %s\n%s", err, phase, out.String())
			case <-time.After(60 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("never reached %s\n%s", phase, out.String())
			}
			startsAtSignal := len(starts(state))
			select {
			case err := <-waited:
				if err != nil {
					t.Fatalf("exit after SIGTERM in %s: %v\n%s", phase, err, out.String())
				}
				t.Logf("SIGTERM in %s: exited after %s", phase, time.Since(at).Round(time.Millisecond))
			case <-time.After(stopTimeout):
				cmd.Process.Signal(syscall.SIGKILL)
				t.Fatalf("still running %s after SIGTERM in %s\n%s", stopTimeout, phase, out.String())
			}
			if n := len(starts(state)); n != startsAtSignal {
				t.Fatalf("started another slot after SIGTERM: %v", starts(state))
			}

			// Consistent: the state loads, every slot it names verifies,
			// no half-written slot is left, and the trial is either
			// absent or a complete 2.0.0.
			st, err := update.ReadState(state)
			if err != nil {
				t.Fatal(err)
			}
			l := update.NewLayout(state)
			if m, err := l.VerifySlot(st.Active, true); err != nil || m.Version != "1.0.0" || st.Floor != "1.0.0" {
				t.Fatalf("committed slot after SIGTERM in %s: %+v %v, state %+v", phase, m, err, st)
			}
			if st.Trial != nil {
				if m, err := l.VerifySlot(st.Trial.Slot, true); err != nil || m.Version != "2.0.0" {
					t.Fatalf("trial slot after SIGTERM in %s: %+v %v", phase, m, err)
				}
			}
			switch phase {
			case update.PhaseDownloading, update.PhaseInstalling:
				if st.Trial != nil {
					t.Fatalf("a trial was set by a stop in %s: %+v", phase, st.Trial)
				}
			case update.PhaseTrial:
				if st.Trial == nil || st.Trial.Starts != 1 {
					t.Fatalf("the trial after a stop during it: %+v", st.Trial)
				}
			}
			if tmps, _ := filepath.Glob(filepath.Join(l.SlotsDir(), ".*-tmp-*")); len(tmps) != 0 {
				t.Fatalf("half-written slots left: %v", tmps)
			}

			// The next start reaches 2.0.0 and commits it.
			cmd = start("")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
			waitFor(t, "2.0.0 committed after the restart", 60*time.Second, func() bool {
				st, err := update.ReadState(state)
				return err == nil && st.Trial == nil && st.Floor == "2.0.0"
			}, func() string { st, _ := update.ReadState(state); return string(repo.MarshalIndent(st)) })
		})
	}
}
