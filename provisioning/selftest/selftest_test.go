package selftest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"eidkiosk/authority/registry"
	"eidkiosk/authority/registry/registrytest"
	"eidkiosk/internal/clock"
	"eidkiosk/provisioning"
	"eidkiosk/provisioning/protocol"
	"eidkiosk/provisioning/selftest"
)

func TestRunnerAndChecklist(t *testing.T) {
	checks := []selftest.Check{
		selftest.New("ok", func(context.Context) selftest.Result { return selftest.Passed("fine %d", 1) }),
		selftest.New("broken", func(context.Context) selftest.Result { return selftest.Failed("no frames", "plug the camera in") }),
		selftest.New("absent", func(context.Context) selftest.Result { return selftest.Skipped("no GPIO configured") }),
		selftest.New("panics", func(context.Context) selftest.Result { panic("boom") }),
		selftest.New("hangs", func(ctx context.Context) selftest.Result {
			<-ctx.Done()
			time.Sleep(time.Hour)
			return selftest.Result{}
		}),
	}
	var seen []string
	rep := selftest.Runner{Timeout: 50 * time.Millisecond, Progress: func(n string, i, total int) { seen = append(seen, fmt.Sprintf("%d/%d %s", i, total, n)) }}.
		Run(context.Background(), checks)
	if len(rep.Entries) != 5 || rep.Passed() || rep.Failures() != 3 {
		t.Fatalf("report %+v", rep)
	}
	want := []selftest.Status{selftest.Pass, selftest.Fail, selftest.Skip, selftest.Fail, selftest.Fail}
	for i, e := range rep.Entries {
		if e.Status != want[i] {
			t.Errorf("%s: %s, want %s", e.Name, e.Status, want[i])
		}
	}
	if !strings.Contains(rep.Entries[3].Value, "crashed: boom") || !strings.Contains(rep.Entries[4].Value, "no answer within 50ms") {
		t.Fatalf("panic/timeout values: %q %q", rep.Entries[3].Value, rep.Entries[4].Value)
	}
	if seen[4] != "5/5 hangs" {
		t.Fatalf("progress %v", seen)
	}
	var b bytes.Buffer
	rep.WriteChecklist(&b, "Self-test")
	out := b.String()
	for _, s := range []string{"[ OK ] ok", "[FAIL] broken", "fix: plug the camera in", "[SKIP] absent", "Result: FAILED, 3 of 5 checks failed"} {
		if !strings.Contains(out, s) {
			t.Errorf("checklist lacks %q:\n%s", s, out)
		}
	}
	h := rep.Health()
	if len(h) != 5 || !h[0].OK || h[1].OK || h[1].Detail != "no frames" || h[1].Fix != "plug the camera in" ||
		!h[2].OK || h[2].Detail != "skipped: no GPIO configured" || !h[4].At.Equal(rep.Finished) || !h[0].Ran() {
		t.Fatalf("health %+v", h)
	}
	w := rep.Wire("1.0")
	if w.Passed || len(w.Checks) != 5 || w.Checks[1].Fix != "plug the camera in" {
		t.Fatalf("wire %+v", w)
	}
}

func TestDiskSpace(t *testing.T) {
	dir := t.TempDir()
	if r := selftest.DiskSpace(dir, 1).Run(context.Background()); r.Status != selftest.Pass || !strings.Contains(r.Value, "free of") {
		t.Fatalf("%+v", r)
	}
	if r := selftest.DiskSpace(dir, 1<<62).Run(context.Background()); r.Status != selftest.Fail || r.Fix == "" {
		t.Fatalf("%+v", r)
	}
	if r := selftest.DiskSpace(dir+"/missing", 1).Run(context.Background()); r.Status != selftest.Fail {
		t.Fatalf("%+v", r)
	}
}

type fakePinger struct {
	c    *clock.Fake
	skew time.Duration
	err  error
}

func (f fakePinger) URL() string { return "https://authority.test" }
func (f fakePinger) Ping(context.Context) (protocol.Ping, error) {
	if f.err != nil {
		return protocol.Ping{}, f.err
	}
	return protocol.Ping{DeviceID: "KT-1", Station: "S", Time: f.c.Now().Add(-f.skew)}, nil
}

func TestClockSkew(t *testing.T) {
	c := clock.NewFake(time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC))
	for _, tc := range []struct {
		skew time.Duration
		want selftest.Status
		text string
	}{
		{2 * time.Second, selftest.Pass, "ahead by 2s"},
		{-95 * time.Second, selftest.Fail, "behind by 1m35s"},
		{10 * time.Minute, selftest.Fail, "ahead by 10m0s"},
	} {
		r := selftest.ClockSkew(fakePinger{c: c, skew: tc.skew}, 30*time.Second, c).Run(context.Background())
		if r.Status != tc.want || !strings.Contains(r.Value, tc.text) {
			t.Errorf("skew %v: %+v", tc.skew, r)
		}
		if r.Status == selftest.Fail && !strings.Contains(r.Fix, "NTP") {
			t.Errorf("fix %q", r.Fix)
		}
	}
	r := selftest.ClockSkew(fakePinger{c: c, err: fmt.Errorf("x: %w", provisioning.ErrUnreachable)}, time.Second, c).Run(context.Background())
	if r.Status != selftest.Fail || !strings.Contains(r.Fix, "network cable") {
		t.Fatalf("%+v", r)
	}
}

// TestAgainstAuthority runs the built-in checks against a real authority over
// loopback, sends the report, and runs them again once the terminal is revoked.
func TestAgainstAuthority(t *testing.T) {
	a := registrytest.Start(t, registrytest.Options{})
	state := t.TempDir()
	id, _, err := provisioning.Provision(context.Background(), provisioning.ProvisionOptions{
		AuthorityURL: a.URL, Token: a.Token(t, "NS-PSB-001", time.Hour), StateDir: state,
		CAFingerprint: a.PKI.RootFingerprint(), Key: provisioning.KeyFile, Serial: "SN-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer id.Close()
	hw := selftest.New("reader SAM", func(context.Context) selftest.Result { return selftest.Skipped("no reader in this test") })
	checks := append(selftest.Builtin(id, state, 1, selftest.DefaultMaxSkew), hw)
	rep := selftest.Runner{}.Run(context.Background(), checks)
	var b bytes.Buffer
	rep.WriteChecklist(&b, "Self-test of terminal "+id.DeviceID)
	t.Logf("checklist:\n%s", b.String())
	if !rep.Passed() {
		t.Fatalf("self-test failed:\n%s", b.String())
	}
	if err := selftest.Send(context.Background(), id, rep, "test"); err != nil {
		t.Fatal(err)
	}
	stored, err := a.Registry.SelfTests(context.Background(), id.DeviceID, 5)
	if err != nil || len(stored) != 1 || len(stored[0].Checks) != 5 || !stored[0].Passed {
		t.Fatalf("stored %+v %v", stored, err)
	}
	devs, _ := a.Registry.Devices(context.Background())
	if devs[0].SelfTest.IsZero() || !devs[0].SelfTestPassed || devs[0].Software != "test" {
		t.Fatalf("device %+v", devs[0])
	}

	a.Registry.Revoke(context.Background(), id.DeviceID, "test", "test")
	rep = selftest.Runner{}.Run(context.Background(), selftest.Builtin(id, state, 1, selftest.DefaultMaxSkew))
	if rep.Entries[2].Name != "authority (mTLS)" || rep.Entries[2].Status != selftest.Fail || !strings.Contains(rep.Entries[2].Fix, "call city IT") {
		t.Fatalf("after revoke: %+v", rep.Entries[2])
	}

	// The certificate check follows the terminal's clock.
	c := clock.NewFake(time.Now())
	check := selftest.Certificate(id, c)
	if r := check.Run(context.Background()); r.Status != selftest.Pass || !strings.Contains(r.Value, "days left") {
		t.Fatalf("fresh: %+v", r)
	}
	c.Advance(85 * 24 * time.Hour)
	if r := check.Run(context.Background()); r.Status != selftest.Fail || !strings.Contains(r.Value, "renewal is failing") {
		t.Fatalf("5 days left: %+v", r)
	}
	c.Advance(10 * 24 * time.Hour)
	if r := check.Run(context.Background()); r.Status != selftest.Fail || !strings.Contains(r.Value, "expired") {
		t.Fatalf("expired: %+v", r)
	}
	if err := selftest.Send(context.Background(), id, rep, "test"); !errors.Is(err, registry.ErrRevoked) {
		t.Fatalf("send after revoke: %v", err)
	}
}

// TestRunTerminalRunsTheGivenList: a terminal self-test runs the built-in
// checks and then exactly the hardware checks it was given, in order.
func TestRunTerminalRunsTheGivenList(t *testing.T) {
	var ran []string
	hw := func(name string) selftest.Check {
		return selftest.New(name, func(context.Context) selftest.Result { ran = append(ran, name); return selftest.Passed("ok") })
	}
	var out bytes.Buffer
	rep, err := selftest.RunTerminal(context.Background(), selftest.TerminalOptions{
		StateDir: t.TempDir(), Out: &out, MinFree: 1, Hardware: []selftest.Check{hw("reader"), hw("gpio")},
	})
	if !errors.Is(err, selftest.ErrFailed) { // not provisioned: the identity check fails
		t.Fatalf("err = %v", err)
	}
	var names []string
	for _, e := range rep.Entries {
		names = append(names, e.Name)
	}
	if fmt.Sprint(names) != "[disk space identity reader gpio]" || fmt.Sprint(ran) != "[reader gpio]" {
		t.Fatalf("entries %v, ran %v", names, ran)
	}
	if !strings.Contains(out.String(), "[FAIL] identity") || !strings.Contains(out.String(), "kioskctl provision") {
		t.Fatalf("checklist:\n%s", out.String())
	}

	// Without hardware checks, none run: nothing joins from elsewhere.
	rep, _ = selftest.RunTerminal(context.Background(), selftest.TerminalOptions{StateDir: t.TempDir(), Out: &out, MinFree: 1})
	if len(rep.Entries) != 2 {
		t.Fatalf("entries %+v", rep.Entries)
	}
}
