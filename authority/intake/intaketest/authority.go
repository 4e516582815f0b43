package intaketest

import (
	"bytes"
	"context"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http/httptest"
	"sync"
	"testing"

	"eidkiosk/authority"
	"eidkiosk/authority/intake"
)

// Authority is a reference authority with the intake module, on a real
// SQLite file, served over TLS 1.3 with client certificates on loopback.
type Authority struct {
	Dir      string
	DB       *authority.DB
	Intake   *intake.Intake
	Server   *authority.Server
	PKI      *PKI
	Registry *Registry
	Log      *SyncBuffer // the authority's log output (text)

	mu   sync.Mutex
	http *httptest.Server
	URL  string
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// Bytes returns a copy of the contents.
func (s *SyncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

// NewAuthority creates the authority in dir (keys and SQLite database)
// without serving it; call Serve. opts.DataDir, opts.Devices and
// opts.Logger are filled in.
func NewAuthority(tb testing.TB, dir string, pki *PKI, reg *Registry, opts intake.Options) *Authority {
	tb.Helper()
	return NewAuthorityDB(tb, dir, dir, pki, reg, opts)
}

// NewAuthorityDB is NewAuthority with the database named by dsn (a
// directory for SQLite or a postgres:// URL).
func NewAuthorityDB(tb testing.TB, dir, dsn string, pki *PKI, reg *Registry, opts intake.Options) *Authority {
	tb.Helper()
	ctx := context.Background()
	a := &Authority{Dir: dir, PKI: pki, Registry: reg, Log: &SyncBuffer{}}
	logger := slog.New(slog.NewTextHandler(a.Log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	db, err := authority.OpenDB(ctx, dsn)
	if err != nil {
		tb.Fatal(err)
	}
	a.DB = db
	opts.DataDir, opts.Devices, opts.Logger = dir, reg, logger
	if a.Intake, err = intake.New(opts); err != nil {
		tb.Fatal(err)
	}
	if a.Server, err = authority.NewServer(ctx, db, logger, a.Intake); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		a.Stop()
		a.Intake.Close()
		db.Close()
	})
	return a
}

// Serve starts serving on addr ("127.0.0.1:0" for any port) and returns the
// base URL.
func (a *Authority) Serve(tb testing.TB, addr string) string {
	tb.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	s := httptest.NewUnstartedServer(a.Server.Handler())
	// Killed kiosks leave half-done handshakes; keep them out of test output.
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.Listener = l
	s.TLS = a.PKI.ServerTLS()
	s.StartTLS()
	a.mu.Lock()
	a.http, a.URL = s, s.URL
	a.mu.Unlock()
	return s.URL
}

// Stop stops serving (the database stays open): the authority is down.
func (a *Authority) Stop() {
	a.mu.Lock()
	s := a.http
	a.http = nil
	a.mu.Unlock()
	if s != nil {
		s.CloseClientConnections()
		s.Close()
	}
}

// Addr returns host:port of the last Serve.
func (a *Authority) Addr() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.URL[len("https://"):]
}
