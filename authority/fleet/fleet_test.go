package fleet_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"eidkiosk/authority"
	"eidkiosk/authority/fleet"
	"eidkiosk/fleetproto"
	"eidkiosk/internal/clock"
	"eidkiosk/kiosk/heartbeat"
)

type devices map[string]string // CN → station; absent: refused

func (d devices) Authorize(_ context.Context, c *x509.Certificate) (string, string, error) {
	st, ok := d[c.Subject.CommonName]
	if !ok {
		return "", "", errors.New("revoked")
	}
	return c.Subject.CommonName, st, nil
}

type tlsRig struct {
	server  *tls.Config
	pool    *x509.CertPool
	clients map[string]tls.Certificate
}

func newTLS(t *testing.T, names ...string) *tlsRig {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caT := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"}, IsCA: true, BasicConstraintsValid: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageCertSign}
	der, _ := x509.CreateCertificate(rand.Reader, caT, caT, &caKey.PublicKey, caKey)
	ca, _ := x509.ParseCertificate(der)
	issue := func(cn string, n int64, srv bool) tls.Certificate {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tm := &x509.Certificate{SerialNumber: big.NewInt(n), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
		if srv {
			tm.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
			tm.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		}
		d, err := x509.CreateCertificate(rand.Reader, tm, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return tls.Certificate{Certificate: [][]byte{d}, PrivateKey: k}
	}
	r := &tlsRig{pool: x509.NewCertPool(), clients: map[string]tls.Certificate{}}
	r.pool.AddCert(ca)
	r.server = &tls.Config{Certificates: []tls.Certificate{issue("server", 2, true)}, ClientCAs: r.pool, ClientAuth: tls.VerifyClientCertIfGiven}
	for i, n := range names {
		r.clients[n] = issue(n, int64(10+i), false)
	}
	return r
}

func (r *tlsRig) client(name string) *http.Client {
	cfg := &tls.Config{RootCAs: r.pool}
	if c, ok := r.clients[name]; ok {
		cfg.Certificates = []tls.Certificate{c}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
}

func TestHeartbeatsAndListing(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	repoDir := filepath.Join(tmp, "repo")
	os.MkdirAll(filepath.Join(repoDir, "targets"), 0o755)
	os.WriteFile(filepath.Join(repoDir, "timestamp.json"), []byte(`{"signed":{}}`), 0o644)
	abc := publishTarget(t, repoDir, "kiosk.tar.gz", "0123456789")
	db, err := authority.OpenDB(ctx, filepath.Join(tmp, "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	clk := clock.NewFake(time.Now())
	m := fleet.New(db, devices{"DEV-1": "NS-PSB-001", "DEV-2": "NS-PSB-002"}, repoDir, clk)
	srv, err := authority.NewServer(ctx, db, nil, m)
	if err != nil {
		t.Fatal(err)
	}
	rig := newTLS(t, "DEV-1", "DEV-2", "DEV-X")
	hs := httptest.NewUnstartedServer(srv.Handler())
	hs.TLS = rig.server
	hs.StartTLS()
	defer hs.Close()

	send := func(name string, r fleetproto.Report) error {
		s := &heartbeat.Sender{Authority: hs.URL, Client: rig.client(name)}
		return s.Send(ctx, r)
	}
	if err := send("DEV-1", fleetproto.Report{Version: "2.0.0", Slot: "b", Channel: "stable", Healthy: true, OutboxDepth: 2,
		Lease: fleetproto.Lease{Holder: "visit", Expiry: clk.Now().Add(time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	if err := send("DEV-2", fleetproto.Report{Version: "2.0.0", Slot: "a", Channel: "pilot", Healthy: false,
		Update: fleetproto.Update{LastTrial: "3.0.0 unhealthy", LastRefusal: "expired"}, LastErrors: []string{"camera: no frames"}}); err != nil {
		t.Fatal(err)
	}
	if err := send("DEV-X", fleetproto.Report{Version: "9.9.9"}); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("unknown device: %v", err)
	}
	if err := send("", fleetproto.Report{Version: "9.9.9"}); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("no client certificate: %v", err)
	}
	ts, err := m.List(ctx, fleet.ListOptions{SilentAfter: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 2 || ts[0].DeviceID != "DEV-2" || strings.Join(ts[0].Flags, ",") != "failing,rollback,refused" ||
		ts[1].DeviceID != "DEV-1" || len(ts[1].Flags) != 0 || !strings.HasPrefix(ts[1].Lease, "visit until") || ts[1].Outbox != 2 {
		t.Fatalf("listing: %+v", ts)
	}
	if ts[0].Report.LastErrors[0] != "camera: no frames" {
		t.Fatalf("report not kept: %+v", ts[0].Report)
	}
	// DEV-1 goes silent.
	clk.Advance(11 * time.Minute)
	send("DEV-2", fleetproto.Report{Version: "2.0.0", Healthy: true})
	ts, _ = m.List(ctx, fleet.ListOptions{SilentAfter: 10 * time.Minute})
	if ts[0].DeviceID != "DEV-1" || strings.Join(ts[0].Flags, ",") != "silent" || len(ts[1].Flags) != 0 {
		t.Fatalf("after silence: %+v", ts)
	}

	// The repository: files with Range, no listings, nothing above it.
	c := rig.client("DEV-1")
	req, _ := http.NewRequest("GET", hs.URL+"/tuf/targets/"+abc, nil)
	req.Header.Set("Range", "bytes=4-")
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusPartialContent || string(b) != "456789" {
		t.Fatalf("range: %d %q", res.StatusCode, b)
	}
	for _, p := range []string{"/tuf/", "/tuf/targets/", "/tuf/../db/authority.db", "/tuf/missing.json"} {
		res, err := c.Get(hs.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d", p, res.StatusCode)
		}
	}
}

// syncBuf is a log sink safe for the server's goroutines.
type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// The listing covers every registered terminal with its registry status;
// a poke reaches the terminal in the answer to its next heartbeat; a
// refused terminal is told why; downloads and reported refusals are logged.
func TestRosterPokeRefusalAndLog(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	repoDir := filepath.Join(tmp, "repo")
	abc := publishTarget(t, repoDir, "kiosk/2.0.0/kiosk.tar.gz", "0123456789")
	db, err := authority.OpenDB(ctx, filepath.Join(tmp, "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	clk := clock.NewFake(time.Now())
	m := fleet.New(db, devices{"DEV-1": "NS-PSB-001"}, repoDir, clk)
	var logs syncBuf
	m.Log = slog.New(slog.NewTextHandler(&logs, nil))
	srv, err := authority.NewServer(ctx, db, nil, m)
	if err != nil {
		t.Fatal(err)
	}
	rig := newTLS(t, "DEV-1", "DEV-OLD")
	hs := httptest.NewUnstartedServer(srv.Handler())
	hs.TLS = rig.server
	hs.StartTLS()
	defer hs.Close()

	var answers []fleetproto.Answer
	s := &heartbeat.Sender{Authority: hs.URL, Client: rig.client("DEV-1"), OnAnswer: func(a fleetproto.Answer) { answers = append(answers, a) }}
	rep := fleetproto.Report{Version: "2.0.0", Slot: "b", Channel: "stable", Healthy: true,
		Update: fleetproto.Update{Committed: "2.0.0", Slots: map[string]string{"a": "1.0.0", "b": "2.0.0"},
			LastTrial: "3.0.0 unhealthy", LastTrialDetail: "health check reader: no reader", LastTrialAt: clk.Now(),
			LastRefusal: "expired", LastError: "update: refused (expired): timestamp expired"}}
	if err := s.Send(ctx, rep); err != nil || len(answers) != 0 {
		t.Fatalf("heartbeat: %v, answers %v", err, answers)
	}
	if err := m.Poke(ctx, "DEV-1", "operator:it"); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(ctx, rep); err != nil || len(answers) != 1 || !answers[0].CheckUpdate {
		t.Fatalf("heartbeat after a poke: %v, answers %v", err, answers)
	}
	if err := s.Send(ctx, rep); err != nil || len(answers) != 1 {
		t.Fatalf("a poke answered twice: %v, answers %v", err, answers)
	}

	// A terminal the registry refuses learns why.
	old := &heartbeat.Sender{Authority: hs.URL, Client: rig.client("DEV-OLD")}
	if err := old.Send(ctx, rep); err == nil || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("refused terminal: %v", err)
	}

	roster := func(context.Context) ([]fleet.Registered, error) {
		return []fleet.Registered{{DeviceID: "DEV-1", Station: "NS-PSB-001", Status: "active"},
			{DeviceID: "DEV-NEW", Station: "NS-PSB-002", Status: "active"},
			{DeviceID: "DEV-OLD", Station: "NS-PSB-001", Status: "replaced", Reason: "replaced by DEV-1"}}, nil
	}
	ts, err := m.List(ctx, fleet.ListOptions{Roster: roster})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]fleet.Terminal{}
	for _, x := range ts {
		byID[x.DeviceID] = x
	}
	d1, dn, do := byID["DEV-1"], byID["DEV-NEW"], byID["DEV-OLD"]
	if len(ts) != 3 || d1.Status != "active" || d1.Committed != "2.0.0" || d1.Slots["a"] != "1.0.0" ||
		d1.LastTrialDetail != "health check reader: no reader" || d1.Cohort < 0 || d1.Cohort > 99 ||
		strings.Join(dn.Flags, ",") != fleet.FlagNeverReported || !dn.LastSeen.IsZero() ||
		do.Status != "replaced" || do.Reason != "replaced by DEV-1" || strings.Join(do.Flags, ",") != "replaced,never-reported" {
		t.Fatalf("listing: %+v", ts)
	}

	// A release download is logged with who and what.
	res, err := rig.client("DEV-1").Get(hs.URL + "/tuf/targets/" + abc)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	for _, want := range []string{`msg="fleet: release download" terminal=DEV-1 file=targets/` + abc, "bytes=10",
		`msg="fleet: terminal refused an update" terminal=DEV-1 reason=expired`,
		`msg="fleet: terminal finished a trial" terminal=DEV-1 trial="3.0.0 unhealthy"`,
		`msg="fleet: heartbeat refused" certificate=DEV-OLD`, `msg="fleet: poke requested" terminal=DEV-1`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the authority's log lacks %q:\n%s", want, logs.String())
		}
	}
	if n := strings.Count(logs.String(), "terminal refused an update"); n != 1 {
		t.Errorf("the same refusal logged %d times", n)
	}
}

// publishTarget stores content as target name the way release does
// (targets/DIR/SHA256.BASE) and names it in 1.targets.json, so that the
// repository handler serves it; it returns the path under targets/.
func publishTarget(t *testing.T, repoDir, name, content string) string {
	t.Helper()
	sum := sha256.Sum256([]byte(content))
	dir, base := path.Split(name)
	rel := dir + hex.EncodeToString(sum[:]) + "." + base
	os.MkdirAll(filepath.Join(repoDir, "targets", filepath.FromSlash(dir)), 0o755)
	if err := os.WriteFile(filepath.Join(repoDir, "targets", filepath.FromSlash(rel)), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	md := metadata.Targets(time.Now().Add(time.Hour))
	md.Signed.Targets[name] = &metadata.TargetFiles{Length: int64(len(content)), Hashes: metadata.Hashes{"sha256": sum[:]}, Path: name}
	b, err := md.ToBytes(false)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repoDir, "1.targets.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return rel
}
