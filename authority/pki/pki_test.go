package pki_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"eidkiosk/authority/pki"
	"eidkiosk/internal/clock"
)

func csr(t testing.TB, key any) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "x"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestLoadCreatesOnceAndReloads(t *testing.T) {
	dir := t.TempDir()
	p, err := pki.Load(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"root.key", "device-ca.key", "server.key"} {
		fi, err := os.Stat(filepath.Join(dir, pki.Subdir, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, fi.Mode(), err)
		}
	}
	if err := p.DeviceCA().CheckSignatureFrom(p.Root()); err != nil {
		t.Fatal(err)
	}
	leaf := p.ServerCertificate()
	if len(leaf.IPAddresses) != 1 || !leaf.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)) || len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "localhost" {
		t.Fatalf("default names %v %v", leaf.IPAddresses, leaf.DNSNames)
	}
	q, err := pki.Load(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if q.RootFingerprint() != p.RootFingerprint() || !q.ServerCertificate().Equal(leaf) {
		t.Fatal("reload made new certificates")
	}
	// New host names: a new server certificate from the same root.
	r, err := pki.Load(dir, []string{"authority.example", "10.0.0.5"})
	if err != nil {
		t.Fatal(err)
	}
	if r.RootFingerprint() != p.RootFingerprint() || r.ServerCertificate().Equal(leaf) {
		t.Fatal("host change handled wrongly")
	}
	if err := r.ServerCertificate().VerifyHostname("authority.example"); err != nil {
		t.Fatal(err)
	}
	if err := r.ServerCertificate().VerifyHostname("10.0.0.5"); err != nil {
		t.Fatal(err)
	}
}

func TestLooseKeyRefused(t *testing.T) {
	dir := t.TempDir()
	if _, err := pki.Load(dir, nil); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(dir, pki.Subdir, "device-ca.key"), 0o644)
	if _, err := pki.Load(dir, nil); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("err = %v", err)
	}
}

func TestMismatchedKeyRefused(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	pki.Load(a, nil)
	pki.Load(b, nil)
	data, _ := os.ReadFile(filepath.Join(b, pki.Subdir, "root.key"))
	os.WriteFile(filepath.Join(a, pki.Subdir, "root.key"), data, 0o600)
	if _, err := pki.Load(a, nil); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("err = %v", err)
	}
}

func TestIssueAndVerifyDevice(t *testing.T) {
	p, err := pki.Load(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cert, err := p.IssueDevice(csr(t, key), "KT-1", "NS-PSB-001")
	if err != nil {
		t.Fatal(err)
	}
	id, st, err := p.VerifyDevice(cert)
	if err != nil || id != "KT-1" || st != "NS-PSB-001" {
		t.Fatalf("%s %s %v", id, st, err)
	}
	if cert.NotAfter.Sub(cert.NotBefore) < pki.DefaultDeviceValidity {
		t.Fatalf("validity %v", cert.NotAfter.Sub(cert.NotBefore))
	}
	// Another authority's device certificate is refused.
	other, _ := pki.Load(t.TempDir(), nil)
	foreign, _ := other.IssueDevice(csr(t, key), "KT-1", "NS-PSB-001")
	if _, _, err := p.VerifyDevice(foreign); !errors.Is(err, pki.ErrNotDevice) {
		t.Fatalf("foreign: %v", err)
	}
	// The server certificate is not a device certificate.
	if _, _, err := p.VerifyDevice(p.ServerCertificate()); !errors.Is(err, pki.ErrNotDevice) {
		t.Fatalf("server cert: %v", err)
	}
	// Wrong key types and tampered requests.
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	bad := csr(t, key)
	bad[len(bad)-3] ^= 0xff
	for name, der := range map[string][]byte{"rsa": csr(t, rk), "p384": csr(t, p384), "tampered": bad, "garbage": []byte("x")} {
		if _, err := p.IssueDevice(der, "KT-2", "S"); !errors.Is(err, pki.ErrBadCSR) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestExpiredDeviceRefused(t *testing.T) {
	fake := clock.NewFake(time.Now())
	p, err := pki.Open(pki.Config{DataDir: t.TempDir(), Clock: fake, DeviceValidity: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cert, _ := p.IssueDevice(csr(t, key), "KT-1", "S1")
	fake.Advance(2 * time.Hour)
	if _, _, err := p.VerifyDevice(cert); !errors.Is(err, pki.ErrNotDevice) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("err = %v", err)
	}
}

// TestServerTLSConfig does real TLS 1.3 handshakes on loopback: without a
// client certificate (provisioning), with a device certificate, and with a
// certificate from another CA (refused in the handshake).
func TestServerTLSConfig(t *testing.T) {
	p, err := pki.Load(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := p.ServerTLSConfig()
	if cfg.MinVersion != tls.VersionTLS13 || cfg.ClientAuth != tls.VerifyClientCertIfGiven {
		t.Fatalf("config %v %v", cfg.MinVersion, cfg.ClientAuth)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.VerifiedChains) > 0 {
			w.Write([]byte(r.TLS.VerifiedChains[0][0].Subject.CommonName))
			return
		}
		w.Write([]byte("anonymous"))
	})}
	go srv.Serve(ln)
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(p.Root())
	get := func(certs ...tls.Certificate) (string, error) {
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs}}}
		defer hc.CloseIdleConnections()
		resp, err := hc.Get("https://" + ln.Addr().String())
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b := make([]byte, 64)
		n, _ := resp.Body.Read(b)
		if resp.TLS.Version != tls.VersionTLS13 {
			t.Errorf("TLS version %x", resp.TLS.Version)
		}
		return string(b[:n]), nil
	}
	if s, err := get(); err != nil || s != "anonymous" {
		t.Fatalf("anonymous: %q %v", s, err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cert, _ := p.IssueDevice(csr(t, key), "KT-9", "S1")
	if s, err := get(tls.Certificate{Certificate: [][]byte{cert.Raw, p.DeviceCA().Raw}, PrivateKey: key}); err != nil || s != "KT-9" {
		t.Fatalf("device: %q %v", s, err)
	}
	other, _ := pki.Load(t.TempDir(), nil)
	foreign, _ := other.IssueDevice(csr(t, key), "KT-X", "S1")
	if _, err := get(tls.Certificate{Certificate: [][]byte{foreign.Raw}, PrivateKey: key}); err == nil {
		t.Fatal("a foreign device certificate passed the handshake")
	}
}

func BenchmarkIssueDevice(b *testing.B) {
	p, _ := pki.Load(b.TempDir(), nil)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der := csr(b, key)
	cert, _ := p.IssueDevice(der, "KT-1", "S")
	b.Run("baseline-verify", func(b *testing.B) {
		for b.Loop() {
			p.VerifyDevice(cert)
		}
	})
	b.Run("issue", func(b *testing.B) {
		for b.Loop() {
			if _, err := p.IssueDevice(der, "KT-1", "S"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
