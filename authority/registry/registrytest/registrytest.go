// Package registrytest runs a real authority registry for tests: a SQLite
// store and a PKI in a temporary directory, served over TLS 1.3 on loopback
// with the PKI's server configuration. Other packages' tests (the intake, the
// uplink, the end-to-end demo) mount their handlers on Mux beside it.
//
// It is for tests only; the authority binary wires the same pieces in
// cmd/authority.
package registrytest

import (
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"eidkiosk/authority"
	"eidkiosk/authority/pki"
	"eidkiosk/authority/registry"
	"eidkiosk/provisioning/protocol"
)

// Authority is a running test authority.
type Authority struct {
	URL      string // https://127.0.0.1:PORT
	Dir      string // its --data directory
	DB       *authority.DB
	PKI      *pki.PKI
	Registry *registry.Registry
	Mux      *http.ServeMux
}

// Options adjust Start; the zero value works.
type Options struct {
	Registry registry.Options // Intake/Receipt keys default to fresh X25519 keys, TUFRoot to a placeholder JSON
	PKI      pki.Config       // DataDir is set by Start
	// DSN is a postgres:// URL to use instead of SQLite in the temporary directory.
	DSN string
}

// Start starts an authority that stops when the test ends.
func Start(t testing.TB, o Options) *Authority {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	dsn := o.DSN
	if dsn == "" {
		dsn = dir
	}
	db, err := authority.OpenDB(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	o.PKI.DataDir = dir
	p, err := pki.Open(o.PKI)
	if err != nil {
		t.Fatal(err)
	}
	if o.Registry.IntakePublicKey == nil {
		k, _ := ecdh.X25519().GenerateKey(rand.Reader)
		o.Registry.IntakePublicKey = k.PublicKey().Bytes()
	}
	if o.Registry.ReceiptPublicKey == nil {
		k, _ := ecdh.X25519().GenerateKey(rand.Reader)
		o.Registry.ReceiptPublicKey = k.PublicKey().Bytes()
	}
	if o.Registry.TUFRoot == nil {
		o.Registry.TUFRoot = func() []byte { return []byte(`{"signed":{"_type":"root"},"signatures":[]}`) }
	}
	if o.Registry.Log == nil {
		o.Registry.Log = slog.New(slog.DiscardHandler)
	}
	reg := registry.New(db, p, o.Registry)
	if err := reg.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	reg.Routes(mux)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, TLSConfig: p.ServerTLSConfig(), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(slog.DiscardHandler, slog.LevelError)}
	go func() {
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("registrytest: serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return &Authority{URL: "https://" + ln.Addr().String(), Dir: dir, DB: db, PKI: p, Registry: reg, Mux: mux}
}

// Token creates an enrollment token for station valid for ttl.
func (a *Authority) Token(t testing.TB, station string, ttl time.Duration) string {
	t.Helper()
	tok, err := a.Registry.CreateToken(context.Background(), station, "Test station "+station, ttl, "test")
	if err != nil {
		t.Fatal(err)
	}
	return tok.Value
}

// Request is a provisioning request for a file key of a new P-256 key
// (returned) with hardware serial; the caller sets the token.
func Request(t testing.TB, serial string) (protocol.ProvisionRequest, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "t"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return protocol.ProvisionRequest{CSR: der, Serial: serial, KeyKind: protocol.KeyFile}, key
}
