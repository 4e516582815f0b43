package systest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The technician's install, in the container, as the docs give it.
const (
	station        = "NS-SYSTEST-001"
	pin            = "731946"
	authorityFlags = `AUTHORITY_FLAGS="--addr 127.0.0.1:8443 --hosts 127.0.0.1,localhost"`
	// dropIn puts cage on wlroots' headless backend: the container has no
	// DRM device, no input devices and no tty1.
	dropIn = `[Service]
Environment=WLR_BACKENDS=headless WLR_LIBINPUT_NO_DEVICES=1 WLR_RENDERER=pixman
TTYPath=
StandardInput=null
`
)

// env reads the run's settings: EIDKIOSK_SYSTEM_TEST is the directory
// holding the .debs; EIDKIOSK_SYSTEST_SOAK how long the kiosk must stay up
// (default 5m, the acceptance's figure).
func settings(t *testing.T) (dist string, soak time.Duration) {
	dist = os.Getenv("EIDKIOSK_SYSTEM_TEST")
	if dist == "" {
		t.Skip("the system test runs under `make system-test` (EIDKIOSK_SYSTEM_TEST=<dir of the .debs>)")
	}
	if os.Geteuid() != 0 {
		t.Fatal("the system test needs root (debootstrap, systemd-nspawn)")
	}
	soak = 5 * time.Minute
	if s := os.Getenv("EIDKIOSK_SYSTEST_SOAK"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("EIDKIOSK_SYSTEST_SOAK: %v", err)
		}
		soak = d
	}
	return dist, soak
}

// upgradeDebs returns the packages of the next version
// (EIDKIOSK_SYSTEST_UPGRADE, a directory beside the .debs, mounted at
// /dist/next), nil when the run has none.
func upgradeDebs(t *testing.T) []string {
	dir := os.Getenv("EIDKIOSK_SYSTEST_UPGRADE")
	if dir == "" {
		t.Log("EIDKIOSK_SYSTEST_UPGRADE unset: no upgrade step")
		return nil
	}
	dir, _ = filepath.Abs(dir)
	return debs(t, dir)
}

// debVersion is the version in a .deb's file name (name_version_arch.deb).
func debVersion(p string) string {
	f := strings.Split(strings.TrimSuffix(filepath.Base(p), ".deb"), "_")
	if len(f) != 3 {
		return ""
	}
	return f[1]
}

// debs finds the newest kiosk and authority packages of this architecture.
func debs(t *testing.T, dist string) []string {
	var out []string
	for _, name := range []string{"eidkiosk-face-models", "eidkiosk-authority", "eidkiosk-kiosk"} {
		arch := runtime.GOARCH
		if name == "eidkiosk-face-models" {
			arch = "all"
		}
		m, _ := filepath.Glob(filepath.Join(dist, name+"_*_"+arch+".deb"))
		if len(m) == 0 {
			t.Fatalf("no %s .deb for %s in %s: run `make deb` first", name, runtime.GOARCH, dist)
		}
		newest := m[0]
		for _, p := range m[1:] {
			a, _ := os.Stat(p)
			b, _ := os.Stat(newest)
			if a.ModTime().After(b.ModTime()) {
				newest = p
			}
		}
		out = append(out, newest)
	}
	return out
}

// transcript creates a log file named name in EIDKIOSK_SYSTEST_LOG
// (default: the directory of the .debs).
func transcript(t *testing.T, dist, name string) io.Writer {
	dir := os.Getenv("EIDKIOSK_SYSTEST_LOG")
	if dir == "" {
		dir = dist
	}
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close(); t.Logf("transcript: %s", path) })
	return f
}

type step struct {
	t     *testing.T
	c     *Container
	ctx   context.Context
	start time.Time
	log   io.Writer
}

func (s *step) begin(name string) {
	fmt.Fprintf(s.log, "\n=== %s (at %s)\n", name, time.Since(s.start).Round(time.Second))
	s.t.Logf("%s (at %s)", name, time.Since(s.start).Round(time.Second))
}

// must runs a command inside and fails the test when it fails.
func (s *step) must(script string) string {
	s.t.Helper()
	out, err := s.c.Run(s.ctx, script)
	if err != nil {
		s.t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// show returns one property of a unit (systemctl show -P).
func (s *step) show(unit, prop string) string {
	s.t.Helper()
	return s.must("systemctl show -P " + prop + " " + unit)
}

// eventually retries script until check accepts its output.
func (s *step) eventually(what, script string, within time.Duration, check func(string) bool) string {
	s.t.Helper()
	deadline := time.Now().Add(within)
	for {
		out, _ := s.c.Run(s.ctx, script)
		if check(strings.TrimSpace(out)) {
			return strings.TrimSpace(out)
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: not within %v; last output:\n%s", what, within, out)
		}
		time.Sleep(time.Second)
	}
}

func TestAppliance(t *testing.T) {
	dist, soak := settings(t)
	start := time.Now()
	log := transcript(t, dist, "system-test.log")
	console := transcript(t, dist, "system-test-console.log")
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Minute)
	defer cancel()

	pkgs := debs(t, dist)
	deps, err := DebDepends(pkgs)
	if err != nil {
		t.Fatal(err)
	}
	root, err := PreparedRoot(deps, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("root ready (at %s)", time.Since(start).Round(time.Second))
	work := filepath.Join(CacheDir, fmt.Sprintf("run-%d", os.Getpid()))
	if err := Copy(root, work); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	dropDir := filepath.Join(work, "etc/systemd/system/eidkiosk-kiosk.service.d")
	if err := os.MkdirAll(dropDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dropDir, "systest-headless.conf"), []byte(dropIn), 0o644); err != nil {
		t.Fatal(err)
	}
	absDist, _ := filepath.Abs(dist)
	c, err := Boot(ctx, work, console, log, absDist+":/dist")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.PowerOff(2 * time.Minute); err != nil {
			t.Logf("power off: %v", err)
		}
	})
	s := &step{t: t, c: c, ctx: ctx, start: start, log: log}
	s.begin("booted")
	s.must("systemctl --version | head -1; cat /etc/debian_version")

	var in []string
	for _, p := range pkgs {
		in = append(in, "/dist/"+filepath.Base(p))
	}

	s.begin("install both packages with apt (operations.md, Installing a terminal, step 2)")
	s.must("apt-get install -y -q " + strings.Join(in, " "))
	if got := s.show("eidkiosk-kiosk", "UnitFileState"); got != "enabled" {
		t.Errorf("kiosk unit after install: %s, want enabled", got)
	}
	if got := s.show("eidkiosk-kiosk", "ActiveState"); got != "inactive" {
		t.Errorf("kiosk after install: %s, want inactive (started only once provisioned)", got)
	}
	for _, f := range []string{"/usr/share/doc/eidkiosk-kiosk/operations.md", "/usr/share/doc/eidkiosk-kiosk/provisioning.md",
		"/usr/share/doc/eidkiosk-kiosk/configuration.md", "/usr/share/doc/eidkiosk-authority/provisioning.md", "/etc/eidkiosk/kiosk.toml"} {
		s.must("test -s " + f)
	}

	s.must("kioskctl outbox status") // before the kiosk's first run too
	s.begin("start the authority (operations.md, Where state and logs live)")
	s.must(fmt.Sprintf("echo '%s' >> /etc/default/eidkiosk-authority && systemctl enable --now eidkiosk-authority", authorityFlags))
	// Type=notify: enable --now returned after READY=1, so the port must accept at once.
	s.must("bash -c 'exec 3<>/dev/tcp/127.0.0.1/8443'")
	if st := s.show("eidkiosk-authority", "StatusText"); st != "serving on 127.0.0.1:8443" {
		t.Errorf("authority status %q, want its READY status", st)
	}

	s.begin("provision the kiosk (provisioning.md, The steps)")
	token := s.must("runuser -u eidkiosk-authority -- eidkiosk-authority token create --data /var/lib/eidkiosk-authority --station " + station + " --name 'System test' --expires 1h | tail -1")
	s.must("kioskctl config check --config /etc/eidkiosk/kiosk.toml")
	s.must("umask 077; echo " + token + " > /root/token; echo " + pin + " > /root/pin")
	if out, err := c.Run(ctx, "kioskctl provision --authority https://127.0.0.1:8443 --yes --token-file /root/token </dev/null"); err == nil || !strings.Contains(out, "no technician PIN") {
		t.Errorf("provisioning without a technician PIN: %v, want a refusal naming the PIN", err)
	}
	// The refusal came before the token was used: the same token works.
	out, _ := c.Run(ctx, "kioskctl provision --authority https://127.0.0.1:8443 --yes --token-file /root/token --technician-pin-file /root/pin")
	if !strings.Contains(out, "Provisioned terminal") {
		t.Fatalf("provisioning failed:\n%s", out)
	}
	s.must("kioskctl provision status")
	s.must("test \"$(stat -c %U:%a /var/lib/eidkiosk/identity/technician-pin)\" = eidkiosk:600")
	s.must("grep -q '^\\$argon2id\\$' /var/lib/eidkiosk/identity/technician-pin && ! grep -rq " + pin + " /etc/eidkiosk /var/lib/eidkiosk")

	s.begin("start the kiosk: READY only once the engine runs")
	s.must("systemctl start eidkiosk-kiosk")
	if got := s.show("eidkiosk-kiosk", "ActiveState"); got != "active" {
		t.Fatalf("kiosk after start: %s", got)
	}
	status := s.show("eidkiosk-kiosk", "StatusText")
	if !strings.HasPrefix(status, "kiosk running, version ") || !strings.Contains(status, "; outbox ") {
		t.Errorf("status at READY: %q, want the engine's status line (READY comes with the first healthy check)", status)
	}
	pid := s.show("eidkiosk-kiosk", "MainPID")
	if comm := s.must("cat /proc/" + pid + "/comm"); comm != "cage" {
		t.Errorf("main process %s is %q, want cage (the unit's real ExecStart)", pid, comm)
	}
	s.must("systemctl status --no-pager eidkiosk-kiosk")

	s.begin(fmt.Sprintf("soak: %v, the watchdog fed from under cage", soak))
	wd, _ := time.ParseDuration(strings.ReplaceAll(s.show("eidkiosk-kiosk", "WatchdogUSec"), " ", ""))
	if wd <= 0 {
		t.Fatalf("no watchdog on the unit: WatchdogUSec=%q", s.show("eidkiosk-kiosk", "WatchdogUSec"))
	}
	if soak < 3*wd+wd/2 {
		soak = 3*wd + wd/2
	}
	var lastKeepAlive string
	for end := time.Now().Add(soak); time.Now().Before(end); {
		time.Sleep(wd / 2)
		ka := s.show("eidkiosk-kiosk", "WatchdogTimestampMonotonic")
		if ka == lastKeepAlive {
			t.Errorf("no keep-alive for %v (WatchdogTimestampMonotonic stays %s)", wd/2, ka)
		}
		lastKeepAlive = ka
	}
	if n := s.show("eidkiosk-kiosk", "NRestarts"); n != "0" {
		t.Errorf("NRestarts after %v: %s, want 0", soak, n)
	}
	if got := s.show("eidkiosk-kiosk", "MainPID"); got != pid {
		t.Errorf("main PID changed from %s to %s", pid, got)
	}
	if out, _ := c.Run(ctx, "journalctl -q -u eidkiosk-kiosk --grep 'watchdog timeout' --no-pager"); strings.TrimSpace(out) != "" {
		t.Errorf("watchdog timeouts in the journal:\n%s", out)
	}
	status = s.show("eidkiosk-kiosk", "StatusText")
	if !strings.HasPrefix(status, "kiosk running") {
		t.Errorf("status after the soak: %q", status)
	}

	s.begin("journald carries the structured fields")
	checkJournal(t, s.must("journalctl -u eidkiosk-kiosk -o json --no-pager"))

	s.begin("systemctl restart and stop are clean")
	s.must("systemctl restart eidkiosk-kiosk")
	if got := s.show("eidkiosk-kiosk", "ActiveState"); got != "active" {
		t.Errorf("after restart: %s", got)
	}
	// Stop more than once: a race between the kiosk's exit, cage's and
	// systemd's SIGTERM once aborted cage on one stop in several.
	for i := 1; i <= 4; i++ {
		if i > 1 {
			s.must("systemctl start eidkiosk-kiosk")
		}
		s.must("systemctl stop eidkiosk-kiosk")
		if r, code := s.show("eidkiosk-kiosk", "Result"), s.show("eidkiosk-kiosk", "ExecMainStatus"); r != "success" || code != "0" {
			t.Errorf("stop %d: Result=%s ExecMainStatus=%s, want success and 0", i, r, code)
		}
	}
	if out, _ := c.Run(ctx, "journalctl -q -u eidkiosk-kiosk --grep 'panic|goroutine [0-9]+ \\[' --no-pager"); strings.TrimSpace(out) != "" {
		t.Errorf("a panic in the journal:\n%s", out)
	}

	if next := upgradeDebs(t); next != nil {
		// No card reader here, so the new release fails its health check:
		// the whole trial runs — install in the other slot, start it,
		// judge it, roll back, start the committed slot — in 20 s
		// instead of the default 5 minutes.
		s.begin("a newer package goes on trial in the other slot and, unhealthy (no reader here), rolls back")
		s.must(`sed -i 's/^#* *health_window = .*/health_window = "20s"/' /etc/eidkiosk/kiosk.toml && grep -q '^health_window = "20s"' /etc/eidkiosk/kiosk.toml && kioskctl config check --config /etc/eidkiosk/kiosk.toml`)
		s.must("systemctl start eidkiosk-kiosk")
		before := s.show("eidkiosk-kiosk", "StatusText")
		var in []string
		for _, p := range next {
			rel, err := filepath.Rel(absDist, p)
			if err != nil || strings.HasPrefix(rel, "..") {
				t.Fatalf("the upgrade packages must lie under %s (mounted at /dist): %s", absDist, p)
			}
			in = append(in, "/dist/"+rel)
		}
		out := s.must("apt-get install -y -q -o Dpkg::Options::=--force-confold " + strings.Join(in, " ") + " 2>&1")
		if !strings.Contains(out, "on trial from the next start") {
			t.Errorf("the upgrade did not put the new release on trial:\n%s", out)
		}
		s.eventually("the new release started on trial", "grep -c '\"slot\": \"b\"' /var/lib/eidkiosk/update/state.json; systemctl show -P StatusText eidkiosk-kiosk", 2*time.Minute,
			func(o string) bool {
				return strings.HasPrefix(o, "1\n") && strings.Contains(o, "version "+debVersion(next[2]))
			})
		s.eventually("rolled back to the committed release", "cat /var/lib/eidkiosk/update/state.json; systemctl show -P StatusText eidkiosk-kiosk", 3*time.Minute,
			func(o string) bool {
				return strings.Contains(o, `"outcome": "unhealthy"`) && !strings.Contains(o, `"trial":`) && strings.Contains(o, "version "+debVersion(pkgs[2]))
			})
		if after := s.show("eidkiosk-kiosk", "StatusText"); !strings.HasPrefix(after, "kiosk running") {
			t.Errorf("after the rollback: %q (before the upgrade: %q)", after, before)
		}
		// Installing the same package again does not retry the failed release.
		if out := s.must("dpkg-reconfigure eidkiosk-kiosk 2>&1"); !strings.Contains(out, "failed its trial") {
			t.Errorf("reconfiguring after the rollback:\n%s", out)
		}
		s.must("systemctl stop eidkiosk-kiosk")
	}

	// The container has no GPIO (its kernel has neither gpiochips nor
	// gpio-sim), so the enclosure switch cannot be opened here: the lock
	// record is written as the kiosk writes it (kiosk/tamper), and the
	// test checks that the packaged kiosk starts locked from it and stays
	// locked across restart, kill -9 and a power cut.
	s.begin("a persisted tamper lock survives restart, kill -9 and a power cut")
	s.must(`printf '{"v":1,"device":"","locked_at":"2026-12-02T09:30:00Z"}\n' > /var/lib/eidkiosk/tamper-lock && chown eidkiosk: /var/lib/eidkiosk/tamper-lock && chmod 600 /var/lib/eidkiosk/tamper-lock`)
	s.must("systemctl start eidkiosk-kiosk")
	lockedStatus := func(when string) {
		t.Helper()
		if st := s.show("eidkiosk-kiosk", "StatusText"); !strings.Contains(st, "; unavailable;") {
			t.Errorf("%s: status %q, want the kiosk locked (unavailable)", when, st)
		}
	}
	lockedStatus("start with a lock record")
	s.must("systemctl restart eidkiosk-kiosk")
	lockedStatus("after systemctl restart")
	s.must("systemctl kill -s KILL eidkiosk-kiosk")
	s.eventually("restarted after kill -9", "systemctl show -P NRestarts eidkiosk-kiosk; systemctl show -P ActiveState eidkiosk-kiosk", 2*time.Minute,
		func(o string) bool { return o == "1\nactive" })
	lockedStatus("after kill -9")
	c.Kill() // the power cut
	if c, err = Boot(ctx, work, console, log, absDist+":/dist"); err != nil {
		t.Fatal(err)
	}
	s.c = c
	s.eventually("the kiosk back after the power cut", "systemctl show -P ActiveState eidkiosk-kiosk", 3*time.Minute, func(o string) bool { return o == "active" })
	lockedStatus("after a power cut")
	s.must("rm /var/lib/eidkiosk/tamper-lock && systemctl restart eidkiosk-kiosk") // what clearing in technician mode does
	if st := s.show("eidkiosk-kiosk", "StatusText"); !strings.Contains(st, "; attract;") {
		t.Errorf("status after the lock was cleared: %q", st)
	}

	s.begin("apt remove keeps the state and the configuration (operations.md, Removal and disposal)")
	if got := s.must("kioskctl outbox pending 2>/dev/null"); got != "0" {
		t.Errorf("outbox pending: %q, want 0 (no visit happened)", got)
	}
	s.must("apt-get remove -y -q eidkiosk-kiosk eidkiosk-authority")
	s.must("test ! -e /usr/bin/kioskctl && test ! -e /usr/bin/eidkiosk-authority && test ! -e /usr/lib/systemd/system/eidkiosk-kiosk.service")
	s.must("test -f /etc/eidkiosk/kiosk.toml && test -f /var/lib/eidkiosk/identity/bundle.json && test -d /var/cache/eidkiosk && test -d /var/lib/eidkiosk-authority")
	if got, _ := c.Run(ctx, "systemctl is-active eidkiosk-kiosk eidkiosk-authority"); strings.TrimSpace(got) != "inactive\ninactive" {
		t.Errorf("units after remove: %q", got)
	}

	s.begin("apt purge deletes what the kiosk package created, keeps the authority's keys with a warning")
	out = s.must("apt-get purge -y -q eidkiosk-kiosk eidkiosk-authority 2>&1")
	if !strings.Contains(out, "CA PRIVATE KEYS") {
		t.Errorf("purge of the authority did not warn about its kept CA keys:\n%s", out)
	}
	s.must("test ! -e /etc/eidkiosk && test ! -e /var/lib/eidkiosk && test ! -e /var/cache/eidkiosk")
	s.must(`test -n "$(ls -A /var/lib/eidkiosk-authority)"`)
	s.must("getent passwd eidkiosk eidkiosk-authority")
	t.Logf("done in %s", time.Since(start).Round(time.Second))
	fmt.Fprintf(log, "\n=== done in %s\n", time.Since(start).Round(time.Second))
}

// checkJournal asserts that the kiosk's entries reach the journal with the
// unit's fields and the logger's structured fields (JSON on stderr), and
// that none carries a personal field.
func checkJournal(t *testing.T, out string) {
	t.Helper()
	var structured int
	for _, line := range strings.Split(out, "\n") {
		if line == "" {
			continue
		}
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("journalctl -o json: %v: %s", err, line)
		}
		msg, _ := e["MESSAGE"].(string)
		if e["_SYSTEMD_UNIT"] != "eidkiosk-kiosk.service" {
			continue
		}
		var rec map[string]any
		if json.Unmarshal([]byte(msg), &rec) != nil {
			continue
		}
		if rec["level"] != nil && rec["msg"] != nil && rec["time"] != nil {
			structured++
		}
		if _, err := strconv.Atoi(fmt.Sprint(e["PRIORITY"])); err != nil {
			t.Errorf("entry without a PRIORITY: %s", line)
		}
	}
	if structured == 0 {
		t.Errorf("no structured (JSON: time, level, msg) entry of eidkiosk-kiosk.service in the journal")
	}
}
