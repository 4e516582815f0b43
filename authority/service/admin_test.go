package service_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"eidkiosk/authority/service"
)

// ServeAdmin serves the review console over TLS 1.3 with the authority's
// server certificate (verified here against its root CA, as an officer's
// browser would once the root is trusted), with the console's headers.
func TestServeAdmin(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	svc, err := service.Open(ctx, service.Config{DataDir: filepath.Join(t.TempDir(), "a"), Face: service.FaceConfig{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.ServeAdmin(ctx, ln) }()
	roots := x509.NewCertPool()
	roots.AddCert(svc.PKI.Root())
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	res, err := c.Get("https://" + ln.Addr().String() + "/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.TLS.Version != tls.VersionTLS13 || res.Header.Get("Cache-Control") != "no-store" ||
		!strings.Contains(res.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") || !strings.Contains(string(body), `name="csrf"`) {
		t.Fatalf("login page: %d, headers %v", res.StatusCode, res.Header)
	}
	// The terminals' API is not on the console's listener.
	res, err = c.Get("https://" + ln.Addr().String() + "/v1/enrollments/x")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("terminal API on the console: %d", res.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
