package update_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"eidkiosk/authority"
	"eidkiosk/authority/fleet"
	repo "eidkiosk/authority/release"
	"eidkiosk/kiosk/update"
)

// certDevices stands in for the device registry: the certificate's CN is
// the device ID.
type certDevices struct{}

func (certDevices) Authorize(_ context.Context, c *x509.Certificate) (string, string, error) {
	if c == nil || c.Subject.CommonName == "" {
		return "", "", errors.New("unknown device")
	}
	return c.Subject.CommonName, "NS-PSB-001", nil
}

// supervisor plays systemd (Restart=always) around the launcher.
type supervisor struct {
	t        *testing.T
	launcher string
	args     []string
	env      []string
	mu       sync.Mutex
	out      bytes.Buffer
	runs     int
	done     chan struct{}
}

func (s *supervisor) run(ctx context.Context) {
	defer close(s.done)
	for ctx.Err() == nil {
		cmd := exec.Command(s.launcher, append([]string{"-launch", "-state", s.args[1], "--"}, s.args...)...)
		cmd.Env = s.env
		var buf bytes.Buffer
		cmd.Stdout, cmd.Stderr = &buf, &buf
		if err := cmd.Start(); err != nil {
			s.t.Error(err)
			return
		}
		waited := make(chan error, 1)
		go func() { waited <- cmd.Wait() }()
		select {
		case <-ctx.Done():
			cmd.Process.Signal(syscall.SIGTERM)
			<-waited
		case <-waited:
		}
		s.mu.Lock()
		s.out.Write(buf.Bytes())
		s.runs++
		s.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *supervisor) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool, diag func() string) {
	t.Helper()
	start := time.Now()
	end := start.Add(timeout)
	for time.Now().Before(end) {
		if cond() {
			t.Logf("%s after %s", what, time.Since(start).Round(time.Millisecond))
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s\n%s", what, diag())
}

func starts(dir string) []string {
	b, _ := os.ReadFile(filepath.Join(dir, "starts.log"))
	var vs []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) > 0 {
			vs = append(vs, f[0])
		}
	}
	return vs
}

// TestEndToEnd: publish v2 → a kiosk running v1 updates between visits,
// commits and reports v2; a v3 that fails its health check is rolled back
// to v2 by itself. Under "systemd" the kiosk exits and the supervisor
// starts the launcher again; under "exec" it re-executes itself.
func TestEndToEnd(t *testing.T) {
	for _, mode := range []string{"systemd", "exec"} {
		t.Run(mode, func(t *testing.T) { endToEnd(t, mode) })
	}
}

func endToEnd(t *testing.T, mode string) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tmp := t.TempDir()
	state := filepath.Join(tmp, "state")
	v1 := kioskBinary(t, "1.0.0", true)
	v2 := kioskBinary(t, "2.0.0", true)
	v3 := kioskBinary(t, "3.0.0", false)

	r := newRepo(t, time.Now, repo.InitOptions{})
	os.WriteFile(filepath.Join(tmp, "root.json"), r.root(t), 0o644)

	// The authority: fleet module serving heartbeats and /tuf/ over mTLS.
	db, err := authority.OpenDB(ctx, filepath.Join(tmp, "authority"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fm := fleet.New(db, certDevices{}, r.Dir, nil)
	srv, err := authority.NewServer(ctx, db, nil, fm)
	if err != nil {
		t.Fatal(err)
	}
	p := newPKI(t, tmp, "DEV-1")
	hs := httptest.NewUnstartedServer(srv.Handler())
	hs.TLS = p.Server
	hs.StartTLS()
	defer hs.Close()

	if err := update.Seed(state, v1, "1.0.0", time.Now()); err != nil {
		t.Fatal(err)
	}
	env := os.Environ()
	if mode == "systemd" {
		env = append(env, "INVOCATION_ID=test")
	} else {
		var e []string
		for _, kv := range env {
			if !strings.HasPrefix(kv, "INVOCATION_ID=") && !strings.HasPrefix(kv, "NOTIFY_SOCKET=") {
				e = append(e, kv)
			}
		}
		env = e
	}
	sup := &supervisor{t: t, launcher: v1, env: env, done: make(chan struct{}),
		args: []string{"-state", state, "-repo", hs.URL + "/tuf/", "-root", filepath.Join(tmp, "root.json"),
			"-ca", p.CAFile, "-cert", p.CertFile, "-key", p.KeyFile, "-authority", hs.URL, "-window", "1s"}}
	go sup.run(ctx)
	defer func() { cancel(); <-sup.done }()

	diag := func() string {
		st, _ := update.ReadState(state)
		s, _ := update.ReadStatus(state)
		return "state: " + string(repo.MarshalIndent(st)) + "\nstatus: " + string(repo.MarshalIndent(s)) +
			"\nstarts: " + strings.Join(starts(state), ",") + "\nkiosk output:\n" + sup.output()
	}
	listed := func(version string, flags ...string) bool {
		ts, err := fm.List(ctx, fleet.ListOptions{})
		if err != nil || len(ts) != 1 || ts[0].DeviceID != "DEV-1" || ts[0].Version != version {
			return false
		}
		for _, f := range flags {
			if !strings.Contains(strings.Join(ts[0].Flags, ","), f) {
				return false
			}
		}
		return true
	}
	waitFor(t, "v1 to report", 20*time.Second, func() bool { return listed("1.0.0") }, diag)

	// A citizen is at the kiosk when v2 is published: it downloads and
	// installs, but does not switch.
	os.WriteFile(filepath.Join(state, "visit"), nil, 0o644)
	r.release(t, archive(t, tmp, v2, 64<<10), "2.0.0", 100)
	waitFor(t, "v2 ready, waiting for the visit to end", 20*time.Second, func() bool {
		s, err := update.ReadStatus(state)
		return err == nil && s.Phase == update.PhaseWaitIdle && s.Available == "2.0.0"
	}, diag)
	time.Sleep(300 * time.Millisecond)
	if got := starts(state); strings.Join(got, ",") != "1.0.0" {
		t.Fatalf("the kiosk restarted during a visit: %v", got)
	}
	os.Remove(filepath.Join(state, "visit"))

	waitFor(t, "v2 committed and reported", 30*time.Second, func() bool {
		st, err := update.ReadState(state)
		return err == nil && st.Trial == nil && st.LastTrial != nil && st.LastTrial.Version == "2.0.0" &&
			st.LastTrial.Outcome == update.OutcomeCommitted && st.Floor == "2.0.0" && listed("2.0.0")
	}, diag)
	if st, _ := update.ReadState(state); st.Active != update.SlotB {
		t.Fatalf("v2 committed in slot %s, want b", st.Active)
	}

	// v3 fails its self-test: it is started on trial, then the kiosk
	// restores v2 by itself.
	r.release(t, archive(t, tmp, v3, 0), "3.0.0", 100)
	waitFor(t, "v3 rolled back to v2", 40*time.Second, func() bool {
		st, err := update.ReadState(state)
		vs := starts(state)
		return err == nil && st.Trial == nil && st.LastTrial != nil && st.LastTrial.Version == "3.0.0" &&
			st.LastTrial.Outcome == update.OutcomeUnhealthy && len(vs) > 0 && vs[len(vs)-1] == "2.0.0" &&
			listed("2.0.0", fleet.FlagRollback)
	}, diag)
	st, _ := update.ReadState(state)
	if st.Active != update.SlotB || st.Floor != "2.0.0" || len(st.Failed) != 1 || st.Failed[0] != "3.0.0" {
		t.Fatalf("after rollback: %+v", st)
	}
	vs := starts(state)
	if strings.Join(vs[:3], ",") != "1.0.0,2.0.0,3.0.0" {
		t.Fatalf("start sequence %v", vs)
	}
	// It does not try v3 again.
	time.Sleep(500 * time.Millisecond)
	if n := strings.Count(strings.Join(starts(state), ","), "3.0.0"); n != 1 {
		t.Fatalf("v3 started %d times after being rolled back", n)
	}
}
