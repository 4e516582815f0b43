package update_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	repo "eidkiosk/authority/release"
	"eidkiosk/kiosk/update"
)

// unstamped is what a binary built without the release's version says
// (the default of kiosk/app.Version).
const unstamped = "0.1.0-dev"

// commitTwo installs 2.0.0 over a seeded 1.0.0 with agents whose binaries
// all say "unstamped", commits it from slot b, and counts the requests for
// targets (downloads) from then on.
func commitTwo(t *testing.T) (*rig, *atomic.Int32) {
	g := newRig(t, "1.0.0", repo.InitOptions{})
	g.r.release(t, g.releaseFile("2.0.0", 64<<10), "2.0.0", 100)
	if res, err := g.agent(unstamped).Cycle(context.Background()); err != nil || res.Installed != "2.0.0" {
		t.Fatalf("first cycle: %+v %v", res, err)
	}
	c, err := update.Launch(g.state, g.clk.Now())
	if err != nil || !c.Trial || c.Slot != update.SlotB {
		t.Fatalf("launch: %+v %v", c, err)
	}
	t.Setenv(update.EnvSlot, c.Slot)
	b := g.agent(unstamped)
	if err := b.Confirm(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := b.Status(); s.Version != "2.0.0" || s.Binary != unstamped || s.Committed != "2.0.0" {
		t.Fatalf("status of the committed slot: version %q binary %q committed %q", s.Version, s.Binary, s.Committed)
	}
	var downloads atomic.Int32
	g.setOverride(func(w http.ResponseWriter, req *http.Request) bool {
		if strings.Contains(req.URL.Path, "/targets/") {
			downloads.Add(1)
		}
		return false
	})
	return g, &downloads
}

// A release built without a stamped version (its binary says 0.1.0-dev)
// is committed once; offered again, the agent downloads nothing: it
// compares with the committed slot and the floor, not the build stamp.
func TestCommittedVersionOfferedAgainIsNotDownloaded(t *testing.T) {
	g, downloads := commitTwo(t)
	a := g.agent(unstamped)
	for i := 0; i < 3; i++ {
		_, err := a.Cycle(context.Background())
		if !errors.Is(err, update.ErrNoUpdate) || !strings.Contains(err.Error(), "committed 2.0.0") {
			t.Fatalf("cycle %d with 2.0.0 committed: %v", i, err)
		}
	}
	if n := downloads.Load(); n != 0 {
		t.Fatalf("%d downloads of the committed release", n)
	}
	st, _ := update.ReadState(g.state)
	l := update.NewLayout(g.state)
	ma, erra := l.VerifySlot(update.SlotA, true)
	mb, errb := l.VerifySlot(update.SlotB, true)
	if erra != nil || errb != nil || ma.Version != "1.0.0" || mb.Version != "2.0.0" || st.Active != update.SlotB || g.restarts != 1 {
		t.Fatalf("slots after offers of the committed release: a=%s (%v) b=%s (%v) active %s restarts %d",
			ma.Version, erra, mb.Version, errb, st.Active, g.restarts)
	}
	// `kioskctl update check` asks the same rule through Inspect.
	off, err := update.Inspect(context.Background(), update.Options{StateDir: g.state, TrustedRoot: g.r.root(t),
		RepoURL: g.srv.URL + "/tuf/", Client: g.srv.Client(), Version: unstamped, DeviceID: "DEV-1", Clock: g.clk})
	if err != nil || off.Install || off.Release != "2.0.0" || !strings.Contains(off.Reason, "committed 2.0.0") {
		t.Fatalf("inspect: %+v %v", off, err)
	}
}

// The loop detector: whatever lowers the terminal's idea of its version
// (here a state.json put back to slot a and floor 1.0.0, as a restored
// backup would), the target switched to last is not installed a second
// time: nothing is downloaded, both slots stay as they are, and status,
// heartbeat and state say so until a different release is offered.
func TestUpdateLoopIsStopped(t *testing.T) {
	g, downloads := commitTwo(t)
	p := update.NewLayout(g.state).StatePath()
	var st map[string]any
	b, _ := os.ReadFile(p)
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	st["active"], st["floor"] = update.SlotA, "1.0.0"
	b, _ = json.Marshal(st)
	os.WriteFile(p, b, 0o600)
	t.Setenv(update.EnvSlot, update.SlotA)

	a := g.agent(unstamped)
	for i := 0; i < 2; i++ {
		if _, err := a.Cycle(context.Background()); !errors.Is(err, update.ErrUpdateLoop) {
			t.Fatalf("cycle %d: %v, want ErrUpdateLoop", i, err)
		}
	}
	if n := downloads.Load(); n != 0 {
		t.Fatalf("%d downloads while in a loop", n)
	}
	l := update.NewLayout(g.state)
	ma, erra := l.VerifySlot(update.SlotA, true)
	mb, errb := l.VerifySlot(update.SlotB, true)
	if erra != nil || errb != nil || ma.Version != "1.0.0" || mb.Version != "2.0.0" || g.restarts != 1 {
		t.Fatalf("a slot was touched: a=%s (%v) b=%s (%v) restarts %d", ma.Version, erra, mb.Version, errb, g.restarts)
	}
	s := a.Status()
	if s.Loop == nil || s.Loop.Version != "2.0.0" || s.Loop.Offers != 1 || s.Heartbeat().Loop != "2.0.0" ||
		!strings.Contains(s.LastError, "loop") || !strings.Contains(s.Describe(), "STOPPED an update loop") {
		t.Fatalf("loop not reported: %+v\n%s", s, s.Describe())
	}
	if rs, err := update.ReadStatus(g.state); err != nil || rs.Loop == nil || !rs.Running() {
		t.Fatalf("status.json: %+v %v", rs, err)
	}
	// A new release ends the loop and installs normally.
	g.r.release(t, g.releaseFile("2.0.1", 0), "2.0.1", 100)
	if res, err := a.Cycle(context.Background()); err != nil || res.Installed != "2.0.1" {
		t.Fatalf("after the loop, a new release: %+v %v", res, err)
	}
	if s := a.Status(); s.Loop != nil {
		t.Fatalf("loop still reported after a new release: %+v", s.Loop)
	}
}
