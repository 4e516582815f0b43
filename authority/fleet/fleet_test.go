package fleet_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"eidkiosk/authority"
	"eidkiosk/authority/fleet"
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
	os.WriteFile(filepath.Join(repoDir, "targets", "abc.kiosk.tar.gz"), []byte("0123456789"), 0o644)
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

	send := func(name string, r heartbeat.Report) error {
		s := &heartbeat.Sender{Authority: hs.URL, Client: rig.client(name)}
		return s.Send(ctx, r)
	}
	if err := send("DEV-1", heartbeat.Report{Version: "2.0.0", Slot: "b", Channel: "stable", Healthy: true, OutboxDepth: 2,
		Lease: heartbeat.Lease{Holder: "visit", Expiry: clk.Now().Add(time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	if err := send("DEV-2", heartbeat.Report{Version: "2.0.0", Slot: "a", Channel: "pilot", Healthy: false,
		Update: heartbeat.Update{LastTrial: "3.0.0 unhealthy", LastRefusal: "expired"}, LastErrors: []string{"camera: no frames"}}); err != nil {
		t.Fatal(err)
	}
	if err := send("DEV-X", heartbeat.Report{Version: "9.9.9"}); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("unknown device: %v", err)
	}
	if err := send("", heartbeat.Report{Version: "9.9.9"}); err == nil || !strings.Contains(err.Error(), "401") {
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
	send("DEV-2", heartbeat.Report{Version: "2.0.0", Healthy: true})
	ts, _ = m.List(ctx, fleet.ListOptions{SilentAfter: 10 * time.Minute})
	if ts[0].DeviceID != "DEV-1" || strings.Join(ts[0].Flags, ",") != "silent" || len(ts[1].Flags) != 0 {
		t.Fatalf("after silence: %+v", ts)
	}

	// The repository: files with Range, no listings, nothing above it.
	c := rig.client("DEV-1")
	req, _ := http.NewRequest("GET", hs.URL+"/tuf/targets/abc.kiosk.tar.gz", nil)
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
