package service_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"eidkiosk/authority/service"
)

// Issue 20 finding 4, on a real listener: 200 unauthenticated connections
// sending a body one byte a second all stayed open for ~120 s. Now one
// address holds at most Limits.ConnsPerClient connections (more are closed
// at once) and a request that does not arrive within Limits.Read is cut.
func TestProbeSlowClients(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := service.Open(ctx, service.Config{DataDir: t.TempDir(), Face: service.FaceConfig{Off: true},
		Limits: service.Limits{ConnsPerClient: 8, Read: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()

	roots := x509.NewCertPool()
	roots.AddCert(s.PKI.Root())
	// slow opens a connection and starts a 1000-byte provisioning request
	// of which it sends one byte; it reports whether the server kept it.
	slow := func() (net.Conn, bool) {
		c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
		if err != nil {
			return nil, false // closed before the handshake: refused
		}
		fmt.Fprintf(c, "POST /v1/registry/provision HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
		return c, true
	}
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	kept := 0
	for range 40 {
		if c, ok := slow(); ok {
			conns = append(conns, c)
			kept++
		}
	}
	if kept != 8 {
		t.Fatalf("%d of 40 slow connections from one address kept open, want 8", kept)
	}
	// The kept ones are cut once the request has taken longer than Read.
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.Copy(io.Discard, c); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("connection %d still open after 20 s of a 1-byte body", i)
			}
		}
	}
}

// Finding 8: a data directory writable by everyone (0777) was accepted.
func TestOpenRefusesWritableDataDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	s, err := service.Open(context.Background(), service.Config{DataDir: dir, Face: service.FaceConfig{Off: true}})
	if err == nil {
		s.Close()
		t.Fatal("a 0777 data directory was accepted")
	}
	if !errors.Is(err, service.ErrUnsafeDataDir) || !strings.Contains(err.Error(), "chmod 700") {
		t.Fatalf("%v", err)
	}
}
