package update_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
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

const killChildEnv = "EIDKIOSK_UPDATE_KILL_CHILD"

// TestKillChild is the child process of TestKillDuringInstall: it installs
// v2 from a repository directory, switches, then plays the new slot:
// launch, start, commit. The parent SIGKILLs it at a random moment.
func TestKillChild(t *testing.T) {
	state := os.Getenv(killChildEnv)
	if state == "" {
		t.Skip("child of TestKillDuringInstall")
	}
	root, _ := os.ReadFile(os.Getenv("KILL_ROOT"))
	a, err := update.New(update.Options{StateDir: state, TrustedRoot: root, RepoURL: os.Getenv("KILL_REPO"),
		Version: "1.0.0", DeviceID: "DEV-1", Restart: func() error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("READY\n")
	if _, err := a.Cycle(context.Background()); err != nil {
		t.Fatal(err)
	}
	c, err := update.Launch(state, time.Now())
	if err != nil || !c.Trial {
		t.Fatalf("launch after switch: %+v %v", c, err)
	}
	os.Setenv(update.EnvSlot, c.Slot)
	b, err := update.New(update.Options{StateDir: state, TrustedRoot: root, RepoURL: os.Getenv("KILL_REPO"),
		Version: c.Version, DeviceID: "DEV-1", Restart: func() error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Confirm(context.Background()); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("DONE\n")
}

// TestKillDuringInstall kills the installing process at random moments
// (EIDKIOSK_LONG=1: 200 times, else 24) and checks that the terminal then
// always starts on a good slot, and still reaches v2 afterwards.
func TestKillDuringInstall(t *testing.T) {
	if os.Getenv(killChildEnv) != "" {
		t.Skip("in the child")
	}
	kills := 24
	if os.Getenv("EIDKIOSK_LONG") != "" {
		kills = 200
	}
	tmp := t.TempDir()
	r := newRepo(t, time.Now, repo.InitOptions{})
	rootFile := filepath.Join(tmp, "root.json")
	os.WriteFile(rootFile, r.root(t), 0o644)
	script := func(v string) string {
		p := filepath.Join(tmp, "kiosk-"+v)
		os.WriteFile(p, []byte("#!/bin/sh\necho "+v+"\n"), 0o755)
		return p
	}
	v1 := script("1.0.0")
	r.release(t, archive(t, tmp, script("2.0.0"), 512<<10), "2.0.0", 100)

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 8))
	var window time.Duration
	outcomes := map[string]int{}
	interrupted, finished := 0, 0
	for i := 0; interrupted < kills; i++ {
		if i > 3*kills {
			t.Fatalf("only %d of %d runs were interrupted", interrupted, i)
		}
		state := filepath.Join(tmp, "state", fmt.Sprintf("%d", i))
		if err := update.Seed(state, v1, "1.0.0", time.Now()); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), killChildEnv+"="+state, "KILL_ROOT="+rootFile, "KILL_REPO="+r.Dir, update.EnvSlot+"=")
		out, _ := cmd.StdoutPipe()
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(out)
		if line, err := br.ReadString('\n'); err != nil || !strings.Contains(line, "READY") {
			t.Fatalf("child: %q %v", line, err)
		}
		start := time.Now()
		rest := make(chan string, 1)
		go func() { s, _ := br.ReadString(0); rest <- s }()
		if i == 0 {
			// Calibrate: one uninterrupted run.
			r := <-rest
			if err := cmd.Wait(); err != nil || !strings.Contains(r, "DONE") {
				t.Fatalf("uninterrupted child: %v\n%s", err, r)
			}
			window = time.Since(start)
			checkGood(t, state, "2.0.0")
			continue
		}
		time.Sleep(time.Duration(rng.Int64N(int64(window))))
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if strings.Contains(<-rest, "DONE") {
			// Too late: the install had finished. Aim earlier.
			finished++
			window = window * 8 / 10
		} else {
			interrupted++
		}
		v := checkGood(t, state, "")
		outcomes[v]++
		recover2(t, state, rootFile, r.Dir)
		os.RemoveAll(state)
	}
	t.Logf("%d kills during install+switch+commit (%d more landed after it), final window %s; the terminal then started on: %v",
		interrupted, finished, window, outcomes)
}

// checkGood launches the terminal as the launcher would and runs the
// chosen binary: it must verify and print its version.
func checkGood(t *testing.T, state, want string) string {
	t.Helper()
	c, err := update.Launch(state, time.Now())
	if err != nil {
		t.Fatalf("no startable slot after a kill: %v", err)
	}
	if _, err := update.NewLayout(state).VerifySlot(c.Slot, true); err != nil {
		t.Fatalf("launcher chose a damaged slot: %v", err)
	}
	out, err := exec.Command(c.Path).Output()
	if err != nil {
		t.Fatalf("slot %s does not start: %v", c.Slot, err)
	}
	got := strings.TrimSpace(string(out))
	if got != c.Version || (got != "1.0.0" && got != "2.0.0") || (want != "" && got != want) {
		t.Fatalf("started %q from slot %s (choice %+v), want %q", got, c.Slot, c, want)
	}
	return got
}

// recover2 lets the terminal live on after the kill until v2 is committed.
func recover2(t *testing.T, state, rootFile, repoDir string) {
	t.Helper()
	root, _ := os.ReadFile(rootFile)
	for round := 0; round < 10; round++ {
		st, err := update.ReadState(state)
		if err != nil {
			t.Fatal(err)
		}
		if st.Trial == nil {
			if m, _ := update.NewLayout(state).ReadManifest(st.Active); m.Version == "2.0.0" {
				return
			}
		}
		c, err := update.Launch(state, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		t.Setenv(update.EnvSlot, c.Slot)
		a, err := update.New(update.Options{StateDir: state, TrustedRoot: root, RepoURL: repoDir,
			Version: c.Version, DeviceID: "DEV-1", Restart: func() error { return nil }})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Confirm(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Cycle(context.Background()); err != nil && c.Version == "1.0.0" {
			t.Fatalf("cycle after kill: %v", err)
		}
	}
	t.Fatal("the terminal did not reach v2 after a kill")
}
