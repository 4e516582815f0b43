package update_test

import (
	"archive/tar"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	repo "eidkiosk/authority/release"
	"eidkiosk/internal/clock"
	"eidkiosk/kiosk/update"
)

// rig is one kiosk state and one repository behind a loopback server
// whose answers a test can corrupt.
type rig struct {
	t        *testing.T
	clk      *clock.Fake
	r        *testRepo
	state    string
	srv      *httptest.Server
	restarts int

	mu       sync.Mutex
	override func(w http.ResponseWriter, req *http.Request) bool
	served   string // directory served; r.Dir unless replaced
}

func newRig(t *testing.T, running string, o repo.InitOptions) *rig {
	t.Helper()
	g := &rig{t: t, clk: clock.NewFake(time.Now().UTC().Truncate(time.Second)), state: filepath.Join(t.TempDir(), "state")}
	g.r = newRepo(t, g.clk.Now, o)
	g.served = g.r.Dir
	files := http.FileServer(http.Dir("/"))
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header()["Date"] = []string{g.clk.Now().Format(http.TimeFormat)}
		g.mu.Lock()
		ov, dir := g.override, g.served
		g.mu.Unlock()
		if ov != nil && ov(w, req) {
			return
		}
		req.URL.Path = filepath.Join(dir, strings.TrimPrefix(req.URL.Path, "/tuf/"))
		files.ServeHTTP(w, req)
	}))
	t.Cleanup(g.srv.Close)
	bin := filepath.Join(t.TempDir(), "kiosk")
	os.WriteFile(bin, []byte("#!/bin/sh\necho "+running+"\n"), 0o755)
	if err := update.Seed(g.state, bin, running, g.clk.Now()); err != nil {
		t.Fatal(err)
	}
	return g
}

func (g *rig) setOverride(f func(w http.ResponseWriter, req *http.Request) bool) {
	g.mu.Lock()
	g.override = f
	g.mu.Unlock()
}

func (g *rig) agent(version string) *update.Agent {
	g.t.Helper()
	a, err := update.New(update.Options{
		StateDir: g.state, TrustedRoot: g.r.root(g.t), RepoURL: g.srv.URL + "/tuf/", Client: g.srv.Client(),
		Version: version, DeviceID: "DEV-1", Clock: g.clk,
		Restart: func() error { g.restarts++; return nil },
	})
	if err != nil {
		g.t.Fatal(err)
	}
	return a
}

// releaseFile writes a small release archive of the given version.
func (g *rig) releaseFile(version string, assetBytes int) string {
	dir := g.t.TempDir()
	bin := filepath.Join(dir, "kiosk-"+version)
	os.WriteFile(bin, []byte("#!/bin/sh\necho "+version+"\n"), 0o755)
	return archive(g.t, dir, bin, assetBytes)
}

// refused runs a cycle and checks it is refused for reason, reported in
// the status, and that nothing was installed or switched.
func (g *rig) refused(a *update.Agent, reason string) {
	g.t.Helper()
	_, err := a.Cycle(context.Background())
	var ref *update.Refusal
	if !errors.As(err, &ref) {
		g.t.Fatalf("cycle: %v, want a refusal (%s)", err, reason)
	}
	if ref.Reason != reason {
		g.t.Fatalf("refused for %q (%v), want %q", ref.Reason, err, reason)
	}
	s := a.Status()
	if s.LastRefusal != reason || s.Refusals == 0 || s.LastError == "" {
		g.t.Fatalf("refusal not reported: %+v", s)
	}
	st, err := update.ReadState(g.state)
	if err != nil {
		g.t.Fatal(err)
	}
	if st.Trial != nil || g.restarts != 0 {
		g.t.Fatalf("a refused update was switched to: %+v restarts=%d", st.Trial, g.restarts)
	}
	if _, err := os.Stat(filepath.Join(g.state, "update", "slots", "b", "manifest.json")); err == nil {
		g.t.Fatal("a refused update was installed")
	}
}

func resign[T metadata.Roles](t *testing.T, p string, key ed25519.PrivateKey, edit func(*metadata.Metadata[T])) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	m, err := (&metadata.Metadata[T]{}).FromBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(m)
	}
	m.ClearSignatures()
	s, _ := signature.LoadSigner(key, crypto.Hash(0))
	if _, err := m.Sign(s); err != nil {
		t.Fatal(err)
	}
	if err := m.ToFile(p, false); err != nil {
		t.Fatal(err)
	}
}

func latest(t *testing.T, dir, role string) string {
	t.Helper()
	ms, _ := filepath.Glob(filepath.Join(dir, "*."+role+".json"))
	best, bv := "", 0
	for _, m := range ms {
		var v int
		fmt.Sscanf(filepath.Base(m), "%d.", &v)
		if v > bv {
			best, bv = m, v
		}
	}
	return best
}

func TestAttackTamperedTarget(t *testing.T) {
	g := newRig(t, "1.0.0", repo.InitOptions{})
	g.r.release(t, g.releaseFile("2.0.0", 4096), "2.0.0", 100)
	ts, _ := filepath.Glob(filepath.Join(g.r.Dir, "targets", "kiosk", "2.0.0", "*.kiosk.tar.gz"))
	b, _ := os.ReadFile(ts[0])
	b[len(b)/2] ^= 0xff // same length, one byte changed
	os.WriteFile(ts[0], b, 0o644)
	g.refused(g.agent("1.0.0"), update.ReasonHash)
}

func TestAttackWrongKey(t *testing.T) {
	g := newRig(t, "1.0.0", repo.InitOptions{})
	g.r.release(t, g.releaseFile("2.0.0", 0), "2.0.0", 100)
	_, evil, _ := ed25519.GenerateKey(rand.Reader)
	// The attacker re-signs the targets (pointing at its own file) with its key.
	resign[metadata.TargetsType](t, latest(t, g.r.Dir, "targets"), evil, nil)
	g.refused(g.agent("1.0.0"), update.ReasonSignature)
}

func TestAttackWrongTimestampKey(t *testing.T) {
	g := newRig(t, "1.0.0", repo.InitOptions{})
	g.r.release(t, g.releaseFile("2.0.0", 0), "2.0.0", 100)
	_, evil, _ := ed25519.GenerateKey(rand.Reader)
	resign[metadata.TimestampType](t, filepath.Join(g.r.Dir, "timestamp.json"), evil, func(m *metadata.Metadata[metadata.TimestampType]) { m.Signed.Version++ })
	g.refused(g.agent("1.0.0"), update.ReasonSignature)
}

func TestAttackBelowThreshold(t *testing.T) {
	g := newRig(t, "1.0.0", repo.InitOptions{TargetsKeys: 2, TargetsThreshold: 2})
	// Only one of the two targets keys signs.
	one := t.TempDir()
	b, _ := os.ReadFile(filepath.Join(g.r.Offline, "targets-1.pem"))
	os.WriteFile(filepath.Join(one, "targets-1.pem"), b, 0o600)
	_, err := repo.Sign(g.r.Dir, one, []repo.Target{{File: g.releaseFile("2.0.0", 0), Name: "kiosk/2.0.0/kiosk.tar.gz",
		Meta: update.TargetMeta{Kind: update.KindRelease, Version: "2.0.0", Channels: map[string]int{"stable": 100}}}}, nil, g.clk.Now(), repo.TargetsLifetime)
	if err != nil {
		t.Fatal(err)
	}
	g.r.publish(t)
	g.refused(g.agent("1.0.0"), update.ReasonSignature)
}

func TestAttackRollbackMetadata(t *testing.T) {
	g := newRig(t, "1.0.0", repo.InitOptions{})
	g.r.release(t, g.releaseFile("2.0.0", 0), "2.0.0", 100)
	old := t.TempDir()
	copyTree(t, g.r.Dir, old)
	g.r.release(t, g.releaseFile("2.1.0", 0), "2.1.0", 100)
	a := g.agent("1.0.0")
	// The kiosk sees the current repository once (the test stops before the switch)...
	g.mu.Lock()
	g.override = func(w http.ResponseWriter, req *http.Request) bool {
		if strings.Contains(req.URL.Path, "/targets/") {
			http.Error(w, "not now", http.StatusServiceUnavailable)
			return true
		}
		return false
	}
	g.mu.Unlock()
	if _, err := a.Cycle(context.Background()); err == nil {
		t.Fatal("download should have failed")
	}
	// ...then an attacker (or a stale mirror) replays the older, correctly signed metadata.
	g.mu.Lock()
	g.override, g.served = nil, old
	g.mu.Unlock()
	g.refused(a, update.ReasonRollback)
}

func TestAttackOlderReleaseBelowFloor(t *testing.T) {
	// The terminal runs 2.0.0; a correctly signed, fresh repository offers
	// only 1.5.0 (an old release re-published, or a USB stick).
	g := newRig(t, "2.0.0", repo.InitOptions{})
	g.r.release(t, g.releaseFile("1.5.0", 0), "1.5.0", 100)
	g.refused(g.agent("2.0.0"), update.ReasonBelowFloor)

	// The same from a directory (USB stick).
	a := g.agent("2.0.0")
	_, err := a.CycleFrom(context.Background(), g.r.Dir)
	var ref *update.Refusal
	if !errors.As(err, &ref) || ref.Reason != update.ReasonBelowFloor {
		t.Fatalf("USB stick: %v", err)
	}
}

func TestAttackFrozenTimestamp(t *testing.T) {
	g := newRig(t, "1.0.0", repo.InitOptions{})
	g.r.release(t, g.releaseFile("2.0.0", 0), "2.0.0", 100)
	// Time goes on; the attacker keeps serving the same timestamp.
	g.clk.Advance(repo.TimestampLifetime + time.Hour)
	g.refused(g.agent("1.0.0"), update.ReasonExpired)
}

func TestAttackMixAndMatch(t *testing.T) {
	g := newRig(t, "1.0.0", repo.InitOptions{})
	g.r.release(t, g.releaseFile("2.0.0", 0), "2.0.0", 100)
	oldSnap, _ := os.ReadFile(latest(t, g.r.Dir, "snapshot"))
	g.r.release(t, g.releaseFile("2.1.0", 0), "2.1.0", 100)
	// Serve the new timestamp with the previous snapshot's content under the new name.
	os.WriteFile(latest(t, g.r.Dir, "snapshot"), oldSnap, 0o644)
	g.refused(g.agent("1.0.0"), update.ReasonHash)
}

func TestAttackEndlessData(t *testing.T) {
	endless := func(w http.ResponseWriter) {
		w.WriteHeader(http.StatusOK)
		chunk := make([]byte, 32<<10)
		for i := 0; i < 4096; i++ { // 128 MiB unless the client hangs up first
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}
	t.Run("target", func(t *testing.T) {
		g := newRig(t, "1.0.0", repo.InitOptions{})
		g.r.release(t, g.releaseFile("2.0.0", 0), "2.0.0", 100)
		g.setOverride(func(w http.ResponseWriter, req *http.Request) bool {
			if strings.Contains(req.URL.Path, "/targets/") {
				endless(w)
				return true
			}
			return false
		})
		a := g.agent("1.0.0")
		g.refused(a, update.ReasonTooLarge)
		if s := a.Status(); s.Bytes > 1<<20 {
			t.Fatalf("read %d bytes of an endless target", s.Bytes)
		}
		if ps, _ := filepath.Glob(filepath.Join(g.state, "update", "download", "*")); len(ps) != 0 {
			t.Fatalf("left %v behind", ps)
		}
	})
	t.Run("timestamp", func(t *testing.T) {
		g := newRig(t, "1.0.0", repo.InitOptions{})
		g.setOverride(func(w http.ResponseWriter, req *http.Request) bool {
			if strings.HasSuffix(req.URL.Path, "/timestamp.json") {
				endless(w)
				return true
			}
			return false
		})
		a := g.agent("1.0.0")
		g.refused(a, update.ReasonTooLarge)
		if s := a.Status(); s.Bytes > 1<<20 {
			t.Fatalf("read %d bytes of an endless timestamp", s.Bytes)
		}
	})
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if fi.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// served2 serves req from the repository directory into w.
func (g *rig) served2(w http.ResponseWriter, req *http.Request) {
	http.ServeFile(w, req, filepath.Join(g.served, strings.TrimPrefix(req.URL.Path, "/tuf/")))
}

// clk2 sets the fake clock back (Fake only moves forward): a new clock.
func (g *rig) clk2(d time.Duration) {
	g.clk = clock.NewFake(g.clk.Now().Add(d))
}

type limitWriter struct {
	w http.ResponseWriter
	n int
}

func (l *limitWriter) Header() http.Header { return l.w.Header() }
func (l *limitWriter) WriteHeader(c int)   { l.w.WriteHeader(c) }
func (l *limitWriter) Write(b []byte) (int, error) {
	if l.n <= 0 {
		return 0, errors.New("cut")
	}
	if len(b) > l.n {
		b = b[:l.n]
	}
	l.n -= len(b)
	n, err := l.w.Write(b)
	if f, ok := l.w.(http.Flusher); ok {
		f.Flush()
	}
	return n, err
}

func TestSignedButUnsafeArchiveIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		hdr  tar.Header
	}{
		{"traversal", tar.Header{Name: "../../escape", Mode: 0o644, Typeflag: tar.TypeReg, Size: 4}},
		{"absolute", tar.Header{Name: "/etc/escape", Mode: 0o644, Typeflag: tar.TypeReg, Size: 4}},
		{"symlink", tar.Header{Name: "assets/link", Linkname: "/etc/shadow", Typeflag: tar.TypeSymlink}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newRig(t, "1.0.0", repo.InitOptions{})
			p := filepath.Join(t.TempDir(), "evil.tar")
			f, _ := os.Create(p)
			tw := tar.NewWriter(f)
			tw.WriteHeader(&tar.Header{Name: "kiosk", Mode: 0o755, Typeflag: tar.TypeReg, Size: 3})
			tw.Write([]byte("#!\n"))
			tw.WriteHeader(&tc.hdr)
			if tc.hdr.Size > 0 {
				tw.Write([]byte("evil"))
			}
			tw.Close()
			f.Close()
			g.r.release(t, p, "2.0.0", 100)
			g.refused(g.agent("1.0.0"), update.ReasonBadArchive)
			if _, err := os.Stat(filepath.Join(g.state, "escape")); err == nil {
				t.Fatal("wrote outside the slot")
			}
			if ents, _ := os.ReadDir(filepath.Join(g.state, "update", "slots")); len(ents) != 1 {
				t.Fatalf("slots dir holds %d entries, want only a", len(ents))
			}
		})
	}
}

// A compromised timestamp key is rotated out: terminals follow the signed
// root chain to the new key and refuse the old one from then on.
func TestKeyRotation(t *testing.T) {
	g := newRig(t, "1.0.0", repo.InitOptions{})
	a := g.agent("1.0.0")
	if _, err := a.Cycle(context.Background()); !errors.Is(err, update.ErrNoUpdate) {
		t.Fatal(err)
	}
	oldTS, err := repo.LoadKeys(g.r.Online, "timestamp")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := repo.RotateKeys(g.r.Dir, g.r.Offline, g.r.Online, "timestamp", 1, 1, g.clk.Now()); err != nil || v != 2 {
		t.Fatalf("rotate timestamp: %d %v", v, err)
	}
	if v, err := repo.RotateKeys(g.r.Dir, g.r.Offline, g.r.Offline, "root", 2, 2, g.clk.Now()); err != nil || v != 3 {
		t.Fatalf("rotate root: %d %v", v, err)
	}
	g.r.release(t, g.releaseFile("2.0.0", 0), "2.0.0", 100)
	if res, err := a.Cycle(context.Background()); err != nil || res.Installed != "2.0.0" {
		t.Fatalf("after rotation: %+v %v", res, err)
	}
	b, _ := os.ReadFile(filepath.Join(g.state, "update", "tuf", "root.json"))
	if !strings.Contains(string(b), `"version": 3`) {
		t.Fatal("the terminal did not follow the root chain to version 3")
	}
	// The thief of the old timestamp key signs a newer timestamp.
	resign[metadata.TimestampType](t, filepath.Join(g.r.Dir, "timestamp.json"), oldTS[0], func(m *metadata.Metadata[metadata.TimestampType]) { m.Signed.Version += 10 })
	os.RemoveAll(filepath.Join(g.state, "update", "slots", "b"))
	g.restarts = 0
	clearTrial(t, g.state)
	g.refused(g.agent("1.0.0"), update.ReasonSignature)
}

// clearTrial forgets a pending trial (the test plays the launcher abandoning it).
func clearTrial(t *testing.T, state string) {
	t.Helper()
	for i := 0; i <= update.MaxUnstarted; i++ {
		if _, err := update.Launch(state, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if st, _ := update.ReadState(state); st.Trial != nil {
		t.Fatalf("trial still pending: %+v", st.Trial)
	}
}
