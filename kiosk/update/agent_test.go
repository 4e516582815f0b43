package update_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	repo "eidkiosk/authority/release"
	"eidkiosk/internal/clock"
	"eidkiosk/kiosk/update"
)

// onTrial publishes v2 and runs one cycle, leaving v2 on trial in slot b.
func onTrial(t *testing.T) *rig {
	g := newRig(t, "1.0.0", repo.InitOptions{})
	g.r.release(t, g.releaseFile("2.0.0", 0), "2.0.0", 100)
	res, err := g.agent("1.0.0").Cycle(context.Background())
	if err != nil || res.Installed != "2.0.0" || g.restarts != 1 {
		t.Fatalf("cycle: %+v %v restarts=%d", res, err, g.restarts)
	}
	st, _ := update.ReadState(g.state)
	if st.Trial == nil || st.Trial.Slot != update.SlotB || st.Active != update.SlotA {
		t.Fatalf("state after switch: %+v", st)
	}
	return g
}

func TestNeverStartedIsRetriedThenAbandoned(t *testing.T) {
	g := onTrial(t)
	// Power cuts on first boot: the launcher counts, the slot never runs.
	for i := 1; i <= update.MaxUnstarted; i++ {
		c, err := update.Launch(g.state, g.clk.Now())
		if err != nil || !c.Trial || c.Version != "2.0.0" {
			t.Fatalf("launch %d: %+v %v (a slot that never started must be retried)", i, c, err)
		}
	}
	c, err := update.Launch(g.state, g.clk.Now())
	if err != nil || c.Trial || c.Version != "1.0.0" || c.Abandoned == nil || c.Abandoned.Outcome != update.OutcomeNeverStarted {
		t.Fatalf("after %d unstarted launches: %+v %v", update.MaxUnstarted, c, err)
	}
	// The launcher says so in the journal, with why.
	var buf strings.Builder
	c.Log(slog.New(slog.NewTextHandler(&buf, nil)))
	for _, want := range []string{"level=WARN", "giving up", "version=2.0.0", "outcome=never-started", "never reached its agent",
		"starting the committed release", "slot=a", "version=1.0.0"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("launcher log lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestCrashLoopIsAbandoned(t *testing.T) {
	g := onTrial(t)
	for i := 1; i <= update.MaxStarts; i++ {
		c, err := update.Launch(g.state, g.clk.Now())
		if err != nil || !c.Trial {
			t.Fatalf("launch %d: %+v %v", i, c, err)
		}
		t.Setenv(update.EnvSlot, c.Slot)
		// The slot starts, then dies during its health window.
		ctx, cancel := context.WithCancel(context.Background())
		a, _ := update.New(update.Options{StateDir: g.state, TrustedRoot: g.r.root(t), RepoURL: g.srv.URL,
			Version: "2.0.0", Clock: g.clk, Checks: []update.Check{{Name: "ui", Run: func(ctx context.Context) error {
				cancel()
				return errors.New("ui not up yet")
			}}}})
		if err := a.Confirm(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("confirm: %v", err)
		}
	}
	st, _ := update.ReadState(g.state)
	if st.Trial == nil || st.Trial.Starts != update.MaxStarts || st.Trial.Attempts != update.MaxStarts {
		t.Fatalf("counters: %+v", st.Trial)
	}
	c, err := update.Launch(g.state, g.clk.Now())
	if err != nil || c.Trial || c.Version != "1.0.0" || c.Abandoned == nil || c.Abandoned.Outcome != update.OutcomeCrashLoop {
		t.Fatalf("after a crash loop: %+v %v", c, err)
	}
}

func TestUnhealthyRollsBackAndIsNotRetried(t *testing.T) {
	g := onTrial(t)
	c, _ := update.Launch(g.state, g.clk.Now())
	t.Setenv(update.EnvSlot, c.Slot)
	restarted := 0
	a, _ := update.New(update.Options{StateDir: g.state, TrustedRoot: g.r.root(t), RepoURL: g.srv.URL + "/tuf/",
		Client: g.srv.Client(), Version: "2.0.0", Clock: g.clk, HealthWindow: time.Minute, CheckEvery: 10 * time.Second,
		Restart: func() error { restarted++; return nil },
		Checks:  []update.Check{{Name: "selftest", Run: func(context.Context) error { return errors.New("camera self-test failed") }}}})
	done := make(chan error, 1)
	go func() { done <- a.Confirm(context.Background()) }()
	for i := 0; i < 100; i++ {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			i = 100
		default:
			time.Sleep(5 * time.Millisecond)
			g.clk.Advance(10 * time.Second)
		}
	}
	st, _ := update.ReadState(g.state)
	if restarted != 1 || st.Trial != nil || st.Active != update.SlotA || st.LastTrial == nil ||
		st.LastTrial.Outcome != update.OutcomeUnhealthy || !strings.Contains(st.LastTrial.Detail, "selftest") || st.Floor != "1.0.0" {
		t.Fatalf("after unhealthy trial: restarted=%d %+v", restarted, st)
	}
	// Back on v1, the agent does not install 2.0.0 again.
	_, err := g.agent("1.0.0").Cycle(context.Background())
	if !errors.Is(err, update.ErrNoUpdate) || !strings.Contains(err.Error(), "failed its trial") {
		t.Fatalf("retry of a failed version: %v", err)
	}
}

func TestRolloutCohortAndChannels(t *testing.T) {
	if update.Cohort("DEV-1") != update.Cohort("DEV-1") {
		t.Fatal("cohort is not stable")
	}
	var buckets [10]int
	for i := 0; i < 2000; i++ {
		buckets[update.Cohort(fmt.Sprintf("NS-%05d", i))/10]++
	}
	for i, n := range buckets {
		if n < 120 || n > 280 {
			t.Fatalf("cohort decile %d has %d of 2000 devices: %v", i, n, buckets)
		}
	}
	cohort := update.Cohort("DEV-1")
	g := newRig(t, "1.0.0", repo.InitOptions{})
	// Staged at exactly this device's cohort: not yet this device.
	g.r.releaseMeta(t, g.releaseFile("2.0.0", 0), update.TargetMeta{Kind: update.KindRelease, Version: "2.0.0",
		Channels: map[string]int{"stable": cohort, "pilot": 100}})
	if _, err := g.agent("1.0.0").Cycle(context.Background()); !errors.Is(err, update.ErrNoUpdate) {
		t.Fatalf("stable at %d%%, cohort %d: %v", cohort, cohort, err)
	}
	// A pilot terminal takes it.
	a, _ := update.New(update.Options{StateDir: g.state, TrustedRoot: g.r.root(t), RepoURL: g.srv.URL + "/tuf/",
		Version: "1.0.0", DeviceID: "DEV-1", Channel: "pilot", Clock: g.clk, Restart: func() error { return nil }})
	if res, err := a.Cycle(context.Background()); err != nil || res.Installed != "2.0.0" {
		t.Fatalf("pilot: %+v %v", res, err)
	}
}

func TestMinVersionOverridesRollout(t *testing.T) {
	g := newRig(t, "1.0.0", repo.InitOptions{})
	g.r.releaseMeta(t, g.releaseFile("2.0.0", 0), update.TargetMeta{Kind: update.KindRelease, Version: "2.0.0",
		Channels: map[string]int{"stable": 0}, MinVersion: "2.0.0"})
	if res, err := g.agent("1.0.0").Cycle(context.Background()); err != nil || res.Installed != "2.0.0" {
		t.Fatalf("a terminal below min_version must take the fix: %+v %v", res, err)
	}
}

func TestRemoteConfiguration(t *testing.T) {
	g := newRig(t, "1.0.0", repo.InitOptions{})
	cfg := t.TempDir() + "/kiosk.toml"
	writeFile(t, cfg, "[update]\nchannel = \"pilot\"\n")
	g.r.releaseMeta(t, cfg, update.TargetMeta{Kind: update.KindConfig, ConfigVersion: 7, Channels: map[string]int{"stable": 100}})
	other := t.TempDir() + "/other.toml"
	writeFile(t, other, "[update]\nchannel = \"stable\"\n")
	g.r.releaseMeta(t, other, update.TargetMeta{Kind: update.KindConfig, ConfigVersion: 8, Channels: map[string]int{"stable": 100}, Stations: []string{"OTHER-STATION"}})
	var got []string
	a, _ := update.New(update.Options{StateDir: g.state, TrustedRoot: g.r.root(t), RepoURL: g.srv.URL + "/tuf/",
		Version: "1.0.0", DeviceID: "DEV-1", Station: "NS-PSB-001", Clock: g.clk, Restart: func() error { return nil },
		OnConfig: func(_ context.Context, data []byte, v int64) error {
			got = append(got, fmt.Sprintf("%d:%s", v, data))
			return nil
		}})
	res, err := a.Cycle(context.Background())
	if !errors.Is(err, update.ErrNoUpdate) || res.Config != 7 {
		t.Fatalf("cycle: %+v %v", res, err)
	}
	a.Cycle(context.Background())
	if len(got) != 1 || !strings.HasPrefix(got[0], "7:[update]") || !strings.Contains(got[0], "pilot") {
		t.Fatalf("configurations applied: %q", got)
	}
	if st, _ := update.ReadState(g.state); st.ConfigVersion != 7 {
		t.Fatalf("config version %d", st.ConfigVersion)
	}
}

func TestResumeAfterBrokenConnection(t *testing.T) {
	g := newRig(t, "1.0.0", repo.InitOptions{})
	g.r.release(t, g.releaseFile("2.0.0", 1<<20), "2.0.0", 100)
	var cut atomic.Bool
	cut.Store(true)
	var ranged atomic.Value
	g.setOverride(func(w http.ResponseWriter, req *http.Request) bool {
		if !strings.Contains(req.URL.Path, "/targets/") {
			return false
		}
		if rg := req.Header.Get("Range"); rg != "" {
			ranged.Store(rg)
		}
		if cut.Swap(false) {
			// Send the first 300 kB, then drop the connection.
			fw := &limitWriter{w: w, n: 300 << 10}
			w.Header().Set("Content-Length", "9999999")
			g.served2(fw, req)
			panic(http.ErrAbortHandler)
		}
		return false
	})
	a := g.agent("1.0.0")
	if _, err := a.Cycle(context.Background()); err == nil || !strings.Contains(err.Error(), "resum") {
		t.Fatalf("first cycle: %v", err)
	}
	res, err := a.Cycle(context.Background())
	if err != nil || res.Installed != "2.0.0" {
		t.Fatalf("second cycle: %+v %v", res, err)
	}
	if rg, _ := ranged.Load().(string); !strings.HasPrefix(rg, "bytes=") || rg == "bytes=0-" {
		t.Fatalf("the second download did not resume: Range %q", rg)
	}
	if s := a.Status(); s.Bytes > 1<<20+1<<20/2 {
		t.Fatalf("transferred %d bytes for a ~1 MiB release", s.Bytes)
	}
}

func TestClockUntrusted(t *testing.T) {
	g := newRig(t, "1.0.0", repo.InitOptions{})
	a := g.agent("1.0.0")
	if _, err := a.Cycle(context.Background()); !errors.Is(err, update.ErrNoUpdate) {
		t.Fatal(err)
	}
	// The clock jumps back a day (dead RTC battery), and the server agrees
	// with it (a replaying attacker): below the trusted-time floor.
	g.clk2(-24 * time.Hour)
	b := g.agent("1.0.0")
	g.refused(b, update.ReasonClock)
	if err := b.Admit(); err != nil {
		t.Fatalf("a wrong clock must not stop visits: %v", err)
	}
	// The clock runs two hours ahead of the authority's Date.
	g.clk2(24 * time.Hour)
	ahead := clock.NewFake(g.clk.Now().Add(2 * time.Hour))
	c, _ := update.New(update.Options{StateDir: g.state, TrustedRoot: g.r.root(t), RepoURL: g.srv.URL + "/tuf/",
		Version: "1.0.0", DeviceID: "DEV-1", Clock: ahead, Restart: func() error { return nil }})
	_, err := c.Cycle(context.Background())
	var ref *update.Refusal
	if !errors.As(err, &ref) || ref.Reason != update.ReasonClock || !strings.Contains(err.Error(), "the authority") {
		t.Fatalf("clock ahead of the authority: %v", err)
	}
}

func TestOfflineGrace(t *testing.T) {
	g := newRig(t, "1.0.0", repo.InitOptions{})
	a, _ := update.New(update.Options{StateDir: g.state, TrustedRoot: g.r.root(t), RepoURL: g.srv.URL + "/tuf/",
		Version: "1.0.0", DeviceID: "DEV-1", Clock: g.clk, OfflineGrace: 72 * time.Hour, Restart: func() error { return nil }})
	if _, err := a.Cycle(context.Background()); !errors.Is(err, update.ErrNoUpdate) {
		t.Fatal(err)
	}
	g.srv.Close() // the network goes away
	g.clk.Advance(48 * time.Hour)
	if _, err := a.Cycle(context.Background()); err == nil {
		t.Fatal("cycle without network succeeded")
	}
	if err := a.Admit(); err != nil || a.Status().Stale {
		t.Fatalf("within the grace: %v", err)
	}
	g.clk.Advance(25 * time.Hour)
	if err := a.Admit(); !errors.Is(err, update.ErrStale) || !a.Status().Stale {
		t.Fatalf("beyond the grace: %v", err)
	}
}

func TestLauncherMain(t *testing.T) {
	var buf strings.Builder
	if code := update.Main([]string{"-state", t.TempDir()}, &buf); code != 1 || !strings.Contains(buf.String(), "no installed slot") {
		t.Fatalf("empty state: %d %q", code, buf.String())
	}
	if code := update.Main([]string{"-bogus"}, &buf); code != 2 {
		t.Fatalf("bad flag: %d", code)
	}
	// Asked-for help: the usage first, exit 0 (the manual page is made from it).
	buf.Reset()
	if code := update.Main([]string{"--help"}, &buf); code != 0 || !strings.HasPrefix(buf.String(), "usage: kiosk-launch ") {
		t.Fatalf("--help: %d %q", code, buf.String())
	}
}

func TestHangingCheckCannotHoldTheTrial(t *testing.T) {
	g := onTrial(t)
	c, _ := update.Launch(g.state, g.clk.Now())
	t.Setenv(update.EnvSlot, c.Slot)
	restarted := 0
	a, _ := update.New(update.Options{StateDir: g.state, TrustedRoot: g.r.root(t), RepoURL: g.srv.URL + "/tuf/",
		Version: "2.0.0", HealthWindow: 200 * time.Millisecond, CheckEvery: 50 * time.Millisecond,
		Restart: func() error { restarted++; return nil },
		Checks: []update.Check{{Name: "ui", Run: func(ctx context.Context) error {
			<-ctx.Done() // the UI never answers
			return ctx.Err()
		}}}})
	if err := a.Confirm(context.Background()); err != nil {
		t.Fatal(err)
	}
	st, _ := update.ReadState(g.state)
	if restarted != 1 || st.Trial != nil || st.LastTrial == nil || st.LastTrial.Outcome != update.OutcomeUnhealthy ||
		!strings.Contains(st.LastTrial.Detail, "health check ui") {
		t.Fatalf("restarted=%d %+v", restarted, st.LastTrial)
	}
}

// A release whose signed metadata exempts the reader check is committed on
// a terminal whose reader is dead; the next one, without the exemption,
// is judged on it again.
func TestExemptCheckForItsOwnTrial(t *testing.T) {
	g := newRig(t, "1.0.0", repo.InitOptions{})
	deadReader := []update.Check{
		{Name: "reader", Run: func(context.Context) error { return errors.New("no reader on /dev/ttyUSB0") }},
		{Name: "engine", Run: func(context.Context) error { return nil }},
	}
	trial := func(version string, exempt []string) *update.State {
		t.Helper()
		g.r.releaseMeta(t, g.releaseFile(version, 0), update.TargetMeta{Kind: update.KindRelease, Version: version,
			Channels: map[string]int{"stable": 100}, Exempt: exempt})
		if res, err := g.agent("x").Cycle(context.Background()); err != nil || res.Installed != version {
			t.Fatalf("cycle to %s: %+v %v", version, res, err)
		}
		c, err := update.Launch(g.state, g.clk.Now())
		if err != nil || !c.Trial {
			t.Fatalf("launch %s: %+v %v", version, c, err)
		}
		t.Setenv(update.EnvSlot, c.Slot)
		a, _ := update.New(update.Options{StateDir: g.state, TrustedRoot: g.r.root(t), RepoURL: g.srv.URL + "/tuf/",
			Client: g.srv.Client(), Clock: g.clk, HealthWindow: time.Second, CheckEvery: time.Second,
			Restart: func() error { return nil }, Checks: deadReader})
		done := make(chan error, 1)
		go func() { done <- a.Confirm(context.Background()) }()
		for {
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
				st, _ := update.ReadState(g.state)
				return &st
			case <-time.After(5 * time.Millisecond):
				g.clk.Advance(time.Second)
			}
		}
	}
	st := trial("2.0.0", []string{"reader"})
	if st.LastTrial == nil || st.LastTrial.Outcome != update.OutcomeCommitted || st.Floor != "2.0.0" {
		t.Fatalf("the reader fix was not committed: %+v", st.LastTrial)
	}
	st = trial("3.0.0", nil)
	if st.LastTrial == nil || st.LastTrial.Outcome != update.OutcomeUnhealthy || !strings.Contains(st.LastTrial.Detail, "reader") {
		t.Fatalf("a release without the exemption: %+v", st.LastTrial)
	}
}

// `kioskctl update now` (RequestCheck from another process) makes the
// running agent check at once, long before its poll interval.
func TestRequestCheck(t *testing.T) {
	g := newRig(t, "1.0.0", repo.InitOptions{})
	restarted := make(chan struct{}, 1)
	a, err := update.New(update.Options{StateDir: g.state, TrustedRoot: g.r.root(t), RepoURL: g.srv.URL + "/tuf/",
		Client: g.srv.Client(), PollInterval: time.Hour, CheckEvery: 20 * time.Millisecond,
		Restart: func() error { restarted <- struct{}{}; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for a.Status().LastCheck.IsZero() {
		time.Sleep(10 * time.Millisecond)
	}
	g.r.release(t, g.releaseFile("2.0.0", 0), "2.0.0", 100)
	if err := update.RequestCheck(g.state); err != nil {
		t.Fatal(err)
	}
	select {
	case <-restarted:
	case <-time.After(20 * time.Second):
		t.Fatalf("no check after the request: %+v", a.Status())
	}
	if st, _ := update.ReadState(g.state); st.Trial == nil || st.Trial.Version != "2.0.0" {
		t.Fatalf("after the requested check: %+v", st)
	}
}
