package release_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"eidkiosk/authority/fleet"
	"eidkiosk/kiosk/update"
	"eidkiosk/provisioning"
	"eidkiosk/updatemeta"
)

// docBlock is a fenced code block of docs/release.md named by the
// "<!-- doctest: NAME -->" comment just before it.
type docBlock struct {
	Name, Lang, Body string
}

var docMarker = regexp.MustCompile(`^\s*<!-- doctest: ([a-z0-9-]+) -->\s*$`)

// docBlocks reads the named blocks of a Markdown file, in order.
func docBlocks(t *testing.T, path string) []docBlock {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	var out []docBlock
	for i := 0; i < len(lines); i++ {
		m := docMarker.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		i++
		fence := strings.TrimLeft(lines[i], " ")
		indent := len(lines[i]) - len(fence)
		if !strings.HasPrefix(fence, "```") {
			t.Fatalf("%s:%d: doctest %s is not followed by a code block", path, i+1, m[1])
		}
		blk := docBlock{Name: m[1], Lang: strings.TrimPrefix(fence, "```")}
		var body []string
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			body = append(body, strings.TrimPrefix(lines[i], strings.Repeat(" ", indent)))
		}
		blk.Body = strings.Join(body, "\n") + "\n"
		out = append(out, blk)
	}
	return out
}

// docRig runs the doc's blocks against an authority and terminals on
// loopback. Only absolute directories are mapped to temporary ones.
type docRig struct {
	t                   *testing.T
	work, bin, standins string
	data, media, etcRel string
	paths               *strings.Replacer
	blocks              map[string]docBlock
	authorityURL, caFP  string
	terminals           []*docTerminal
	procs               []*exec.Cmd
	timings             []string
}

type docTerminal struct {
	state, id, channel string
	cohort             int
}

func (g *docRig) build(out, pkg string, ldflags string) {
	g.t.Helper()
	if b, err := exec.Command("go", "build", "-o", out, "-ldflags", ldflags, pkg).CombinedOutput(); err != nil {
		g.t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
}

// run runs block name with bash in the working directory (the signing
// machine's and the publishing server's shell) and returns its stdout.
func (g *docRig) run(name string) string {
	g.t.Helper()
	blk, ok := g.blocks[name]
	if !ok {
		g.t.Fatalf("docs/release.md has no doctest %q", name)
	}
	if blk.Lang != "sh" {
		g.t.Fatalf("doctest %s is a %q block, not sh", name, blk.Lang)
	}
	// make: the stand-in kiosk of that version (the real one needs a
	// display and a card reader); chown: only when the user exists.
	prelude := `set -euo pipefail
make() { local v=""; for a in "$@"; do case $a in VERSION=*) v=${a#VERSION=};; esac; done
  [ "$1" = build ] && [ -n "$v" ] || { echo "make: only 'make build VERSION=…' here" >&2; return 2; }
  mkdir -p bin && cp "$STANDINS/kiosk-$v" bin/kiosk; }
chown() { if id -u eidkiosk-authority >/dev/null 2>&1; then command chown "$@"; fi; }
`
	start := time.Now()
	cmd := exec.Command("bash", "-c", prelude+g.paths.Replace(blk.Body))
	cmd.Dir = g.work
	cmd.Env = append(os.Environ(), "PATH="+g.bin+":"+os.Getenv("PATH"), "STANDINS="+g.standins)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		g.t.Fatalf("doctest %s failed: %v\n--- block\n%s--- stdout\n%s--- stderr\n%s", name, err, blk.Body, out, stderr.String())
	}
	g.timings = append(g.timings, fmt.Sprintf("%-15s %6.2fs", name, time.Since(start).Seconds()))
	return string(out)
}

// until reruns block name until ok accepts its output (a command city IT
// repeats while watching), at most timeout.
func (g *docRig) until(name string, timeout time.Duration, ok func(string) bool) string {
	g.t.Helper()
	end := time.Now().Add(timeout)
	for {
		out := g.run(name)
		if ok(out) {
			return out
		}
		if time.Now().After(end) {
			g.t.Fatalf("doctest %s never showed what was expected; last output:\n%s\n%s", name, out, g.states())
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func (g *docRig) states() string {
	var b strings.Builder
	for _, tm := range g.terminals {
		st, _ := update.ReadState(tm.state)
		j, _ := json.Marshal(st)
		fmt.Fprintf(&b, "%s (%s, cohort %d): %s\n", tm.id, tm.channel, tm.cohort, j)
	}
	return b.String()
}

// committed waits until every terminal in ts has committed version.
func (g *docRig) committed(version string, timeout time.Duration, ts ...*docTerminal) {
	g.t.Helper()
	end := time.Now().Add(timeout)
	for _, tm := range ts {
		for {
			st, err := update.ReadState(tm.state)
			if err == nil && st.Trial == nil && st.Floor == version {
				break
			}
			if time.Now().After(end) {
				g.t.Fatalf("%s did not commit %s\n%s", tm.id, version, g.states())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// startAuthority runs `eidkiosk-authority serve` on a loopback port.
func (g *docRig) startAuthority() {
	g.t.Helper()
	cmd := exec.Command(filepath.Join(g.bin, "eidkiosk-authority"), "serve", "--data", g.data, "--addr", "127.0.0.1:0", "--log-format", "text")
	stdout, _ := cmd.StdoutPipe()
	logf, _ := os.Create(filepath.Join(g.work, "..", "authority.log"))
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		g.t.Fatal(err)
	}
	g.procs = append(g.procs, cmd)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	m := regexp.MustCompile(`authority: (https://\S+) \(root CA SHA-256 (\S+)\)`).FindStringSubmatch(line)
	if err != nil || m == nil {
		g.t.Fatalf("authority did not start: %q %v", line, err)
	}
	g.authorityURL, g.caFP = m[1], m[2]
	go func() { bufio.NewReader(stdout).WriteTo(logf) }()
}

// terminal provisions a terminal with a token from city IT, seeds 1.0.0
// as the Debian package would, and starts it through the real launcher.
func (g *docRig) terminal(n int, channel, launcher string) *docTerminal {
	g.t.Helper()
	out, err := exec.Command(filepath.Join(g.bin, "eidkiosk-authority"), "token", "create", "--data", g.data, "--station", "NS-PSB-001").Output()
	if err != nil {
		g.t.Fatalf("token create: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	state := filepath.Join(g.work, "..", fmt.Sprintf("terminal-%d", n))
	id, _, err := provisioning.Provision(context.Background(), provisioning.ProvisionOptions{AuthorityURL: g.authorityURL,
		Token: lines[len(lines)-1], StateDir: state, CAFingerprint: g.caFP, Key: provisioning.KeyFile,
		Serial: fmt.Sprintf("DOC-%d", n), Software: "1.0.0", Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		g.t.Fatalf("provision terminal %d: %v", n, err)
	}
	tm := &docTerminal{state: state, id: id.DeviceID, channel: channel, cohort: updatemeta.Cohort(id.DeviceID)}
	id.Close()
	if err := update.Seed(state, filepath.Join(g.standins, "kiosk-1.0.0"), "1.0.0", time.Now()); err != nil {
		g.t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "INVOCATION_ID=") && !strings.HasPrefix(kv, "NOTIFY_SOCKET=") {
			env = append(env, kv)
		}
	}
	cmd := exec.Command(launcher, "-state", state, "--", "-state", state, "-identity", state, "-channel", channel,
		"-poll", "200ms", "-window", "2s")
	cmd.Env = env
	logf, _ := os.Create(state + ".log")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		g.t.Fatal(err)
	}
	g.procs = append(g.procs, cmd)
	g.terminals = append(g.terminals, tm)
	return tm
}

// TestReleaseDoc follows docs/release.md as city IT would: every sh block
// runs as written (absolute directories mapped to temporary ones), against
// `eidkiosk-authority serve` and three provisioned terminals (one pilot,
// two stable) running the real update agent under the real launcher.
func TestReleaseDoc(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries and runs terminals")
	}
	tmp := t.TempDir()
	g := &docRig{t: t, work: filepath.Join(tmp, "work"), bin: filepath.Join(tmp, "bin"), standins: filepath.Join(tmp, "standins"),
		data: filepath.Join(tmp, "var-lib-eidkiosk-authority"), media: filepath.Join(tmp, "media-keys"), etcRel: filepath.Join(tmp, "etc-eidkiosk-release"),
		blocks: map[string]docBlock{}}
	g.paths = strings.NewReplacer("/var/lib/eidkiosk-authority", g.data, "/media/keys", g.media, "/etc/eidkiosk-release", g.etcRel)
	for _, d := range []string{g.work, g.bin, g.standins, g.data} {
		os.MkdirAll(d, 0o755)
	}
	for _, b := range docBlocks(t, "../../docs/release.md") {
		g.blocks[b.Name] = b
	}
	defer func() {
		for _, p := range g.procs {
			p.Process.Signal(syscall.SIGTERM)
		}
		for _, p := range g.procs {
			p.Wait()
		}
		if t.Failed() {
			for _, tm := range g.terminals {
				b, _ := os.ReadFile(tm.state + ".log")
				t.Logf("terminal %s log:\n%s", tm.id, b)
			}
			b, _ := os.ReadFile(filepath.Join(tmp, "authority.log"))
			t.Logf("authority log:\n%s", b)
		}
	}()

	// The binaries: the authority as packaged, the launcher, stand-ins.
	var wg sync.WaitGroup
	launcher := filepath.Join(tmp, "kiosk-launch")
	jobs := map[string][2]string{
		filepath.Join(g.bin, "eidkiosk-authority"): {"eidkiosk/cmd/authority", ""},
		launcher:                                 {"eidkiosk/cmd/kiosk-launch", ""},
		filepath.Join(g.standins, "kiosk-1.0.0"): {"eidkiosk/kiosk/update/internal/testkiosk", "-X main.version=1.0.0"},
		filepath.Join(g.standins, "kiosk-2.1.0"): {"eidkiosk/kiosk/update/internal/testkiosk", "-X main.version=2.1.0"},
		filepath.Join(g.standins, "kiosk-2.2.0"): {"eidkiosk/kiosk/update/internal/testkiosk", "-X main.version=2.2.0 -X main.healthy=no"},
	}
	for out, j := range jobs {
		wg.Add(1)
		go func() { defer wg.Done(); g.build(out, j[0], j[1]) }()
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	g.run("init")
	g.run("install")
	g.startAuthority()
	pilot := g.terminal(1, "pilot", launcher)
	s1 := g.terminal(2, "stable", launcher)
	s2 := g.terminal(3, "stable", launcher)
	stable := []*docTerminal{s1, s2}

	g.run("build")
	g.run("pack")
	if out := g.run("sign"); !strings.Contains(out, "every terminal on pilot, no terminal on stable") {
		t.Fatalf("sign does not say who gets the release:\n%s", out)
	}
	published := time.Now()
	g.run("publish")
	g.committed("2.1.0", 60*time.Second, pilot)
	t.Logf("pilot %s committed 2.1.0 %.1fs after publish", pilot.id, time.Since(published).Seconds())
	fleetOut := g.until("fleet-pilot", 20*time.Second, func(out string) bool {
		return fleetRow(out, pilot.id, "2.1.0", "a=1.0.0 b*=2.1.0", "pilot") &&
			fleetRow(out, s1.id, "1.0.0", "stable") && fleetRow(out, s2.id, "1.0.0", "stable")
	})
	t.Logf("fleet after the pilot:\n%s", fleetOut)

	// 10 %: exactly the stable terminals of cohorts 0-9.
	g.run("rollout-10")
	var in, out []*docTerminal
	for _, tm := range stable {
		if tm.cohort < 10 {
			in = append(in, tm)
		} else {
			out = append(out, tm)
		}
	}
	g.committed("2.1.0", 60*time.Second, in...)
	time.Sleep(2 * time.Second) // ten polls
	for _, tm := range out {
		if st, _ := update.ReadState(tm.state); st.Floor != "1.0.0" || st.Trial != nil {
			t.Fatalf("%s (cohort %d) took a 10%% rollout: %+v", tm.id, tm.cohort, st)
		}
	}
	published = time.Now()
	g.run("rollout-100")
	g.committed("2.1.0", 60*time.Second, stable...)
	t.Logf("stable terminals committed 2.1.0 %.1fs after the 100%% rollout", time.Since(published).Seconds())
	g.until("fleet-json", 20*time.Second, func(string) bool {
		var ts []fleet.Terminal
		b, _ := os.ReadFile(filepath.Join(g.work, "fleet.json"))
		if json.Unmarshal(b, &ts) != nil || len(ts) != 3 {
			return false
		}
		for _, x := range ts {
			if x.Version != "2.1.0" || x.Committed != "2.1.0" || x.Status != "active" {
				return false
			}
		}
		return true
	})

	// A broken release: the pilot rolls back by itself, stable never sees it.
	published = time.Now()
	g.run("broken")
	end := time.Now().Add(60 * time.Second)
	for {
		st, _ := update.ReadState(pilot.state)
		if st.LastTrial != nil && st.LastTrial.Version == "2.2.0" && st.Trial == nil {
			if st.LastTrial.Outcome != update.OutcomeUnhealthy || st.Floor != "2.1.0" {
				t.Fatalf("the broken release: %+v", st)
			}
			break
		}
		if time.Now().After(end) {
			t.Fatalf("the broken release was not rolled back\n%s", g.states())
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("pilot rolled 2.2.0 back %.1fs after publish", time.Since(published).Seconds())
	fleetOut = g.until("fleet-rollback", 20*time.Second, func(out string) bool {
		return fleetRow(out, pilot.id, "2.1.0", "2.2.0 unhealthy", "self-test failed", "rollback") &&
			!strings.Contains(out, s1.id) && !strings.Contains(out, s2.id)
	})
	t.Logf("flagged fleet after the broken release:\n%s", fleetOut)
	for _, tm := range stable {
		if st, _ := update.ReadState(tm.state); st.Floor != "2.1.0" || st.LastTrial == nil || st.LastTrial.Version != "2.1.0" {
			t.Fatalf("stable terminal %s saw the pilot-only release: %+v", tm.id, st)
		}
	}

	// The cron line: the authority's user and binary as packaged, and its
	// command works.
	cron := g.blocks["cron"]
	var line string
	for _, l := range strings.Split(cron.Body, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			line = l
		}
	}
	f := strings.Fields(line)
	if len(f) < 8 || f[5] != packagedUser(t) || f[6] != packagedBinary(t) {
		t.Fatalf("cron line %q: want user %s running %s", line, packagedUser(t), packagedBinary(t))
	}
	before, _ := os.ReadFile(filepath.Join(g.data, "tuf", "timestamp.json"))
	args := append([]string{"-c", `PATH="$BIN:$PATH" exec "$@"`, "cron", f[6]}, strings.Fields(g.paths.Replace(strings.Join(f[7:], " ")))...)
	cmd := exec.Command("bash", args...)
	if _, err := user.Lookup(f[5]); err == nil {
		cmd = exec.Command("runuser", append([]string{"-u", f[5], "--", "bash"}, args...)...)
	}
	cmd.Env = append(os.Environ(), "BIN="+g.bin)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cron command: %v\n%s", err, b)
	}
	after, _ := os.ReadFile(filepath.Join(g.data, "tuf", "timestamp.json"))
	if string(before) == string(after) {
		t.Fatal("the cron command did not re-sign the timestamp")
	}
	t.Logf("timings of the documented steps:\n%s", strings.Join(g.timings, "\n"))
}

// fleetRow reports whether the fleet table has a row for device holding
// every one of want.
func fleetRow(out, device string, want ...string) bool {
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, device+" ") {
			continue
		}
		for _, w := range want {
			if !strings.Contains(l, w) {
				return false
			}
		}
		return true
	}
	return false
}

// packagedUser is the user the authority's package creates (sysusers.d).
func packagedUser(t *testing.T) string {
	b, err := os.ReadFile("../../packaging/sysusers/eidkiosk-authority.conf")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "u" {
			return f[1]
		}
	}
	t.Fatal("no user in the authority's sysusers.d file")
	return ""
}

// packagedBinary is the name the authority's package installs it under.
func packagedBinary(t *testing.T) string {
	b, err := os.ReadFile("../../packaging/nfpm/authority.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`dst: /usr/bin/(\S+)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("the authority's package installs no binary in /usr/bin")
	}
	return string(m[1])
}
