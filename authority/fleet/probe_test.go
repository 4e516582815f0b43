package fleet_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"eidkiosk/authority"
	"eidkiosk/authority/fleet"
	"eidkiosk/fleetproto"
)

type heartbeatRig struct {
	db   *authority.DB
	srv  *authority.Server
	cert *x509.Certificate
}

func newHeartbeatRig(t testing.TB) *heartbeatRig {
	ctx := context.Background()
	db, err := authority.OpenDB(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	m := fleet.New(db, devices{"DEV-1": "NS-PSB-001"}, "", nil)
	srv, err := authority.NewServer(ctx, db, nil, m)
	if err != nil {
		t.Fatal(err)
	}
	tc := newTLSCerts(t)
	return &heartbeatRig{db: db, srv: srv, cert: tc}
}

func newTLSCerts(t testing.TB) *x509.Certificate {
	r := newTLS(t, "DEV-1")
	c, err := x509.ParseCertificate(r.clients["DEV-1"].Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// post hands body to the heartbeat endpoint as from DEV-1's verified
// certificate, without a network (for the fuzzer).
func (h *heartbeatRig) post(body []byte) int {
	req := httptest.NewRequest("POST", fleetproto.Path, bytes.NewReader(body))
	req.TLS = &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{h.cert}}}
	w := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(w, req)
	return w.Code
}

// Issue 20 finding 8, over real TLS: heartbeats were accepted and stored
// without limit. Now a heartbeat above 64 KiB, or with more checks, errors
// or slots than a terminal has, is refused and nothing is stored; each
// terminal keeps its newest 5000.
func TestProbeHeartbeatSize(t *testing.T) {
	ctx := context.Background()
	h := newHeartbeatRig(t)
	rig := newTLS(t, "DEV-1")
	hs := httptest.NewUnstartedServer(h.srv.Handler())
	hs.TLS = rig.server
	hs.StartTLS()
	defer hs.Close()
	db := h.db
	c := rig.client("DEV-1")
	defer c.CloseIdleConnections()
	send := func(rep fleetproto.Report) int {
		b, _ := json.Marshal(rep)
		res, err := c.Post(hs.URL+fleetproto.Path, "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	big := fleetproto.Report{Version: "1.0.0", LastErrors: []string{strings.Repeat("x", 100_000)}}
	many := fleetproto.Report{Version: "1.0.0", LastErrors: make([]string, 500)}
	if code := send(big); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("a 100 KB heartbeat: %d", code)
	}
	if code := send(many); code != http.StatusBadRequest {
		t.Fatalf("500 errors: %d", code)
	}
	if code := send(fleetproto.Report{Version: "1.0.0", Healthy: true, SentAt: time.Now()}); code != http.StatusNoContent {
		t.Fatalf("a normal heartbeat: %d", code)
	}
	var rows int
	db.QueryRowContext(ctx, `SELECT COUNT(*) FROM fleet_heartbeats`).Scan(&rows)
	if rows != 1 {
		t.Fatalf("%d heartbeats stored, want 1", rows)
	}
}

// FuzzHeartbeat feeds arbitrary bodies to the heartbeat endpoint of a
// provisioned terminal: the answer is never a server error, and what is
// stored stays within the bounds (64 KiB a report).
func FuzzHeartbeat(f *testing.F) {
	good, _ := json.Marshal(fleetproto.Report{Version: "1.0.0", Slot: "a", Healthy: true, LastErrors: []string{"camera: no frames"},
		Update: fleetproto.Update{Slots: map[string]string{"a": "1.0.0", "b": "0.9.0"}}})
	f.Add(good)
	f.Add([]byte(`{"slot":"a\nKT-FORGED"}`))
	f.Add([]byte(`{"last_errors":[` + strings.Repeat(`"x",`, 40) + `"x"]}`))
	f.Add([]byte(`{"version":1}`))
	h := newHeartbeatRig(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		code := h.post(body)
		if code >= 500 {
			t.Fatalf("status %d", code)
		}
		var biggest int
		h.db.QueryRowContext(context.Background(), `SELECT COALESCE(MAX(LENGTH(report)), 0) FROM fleet_heartbeats`).Scan(&biggest)
		if biggest > 80<<10 {
			t.Fatalf("a stored report of %d bytes", biggest)
		}
	})
}
