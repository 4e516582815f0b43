package update_test

import (
	"archive/tar"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	repo "eidkiosk/authority/release"
	"eidkiosk/kiosk/update"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// kioskBinary returns the test kiosk built for version (healthy or not).
func kioskBinary(t testing.TB, version string, healthy bool) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "testkiosk-")
		if buildErr != nil {
			return
		}
		// One compile, three links (-X), in parallel.
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, b := range []struct {
			v string
			h bool
		}{{"1.0.0", true}, {"2.0.0", true}, {"3.0.0", false}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out := filepath.Join(buildDir, name(b.v, b.h))
				h := "yes"
				if !b.h {
					h = "no"
				}
				cmd := exec.Command("go", "build", "-o", out, "-ldflags", "-s -w -X main.version="+b.v+" -X main.healthy="+h, "./internal/testkiosk")
				if o, err := cmd.CombinedOutput(); err != nil {
					mu.Lock()
					buildErr = fmt.Errorf("build testkiosk %s: %v\n%s", b.v, err, o)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	p := filepath.Join(buildDir, name(version, healthy))
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("no test kiosk %s healthy=%v", version, healthy)
	}
	return p
}

func name(v string, h bool) string {
	if h {
		return "kiosk-" + v
	}
	return "kiosk-" + v + "-unhealthy"
}

// archive packs binary as "kiosk" (plus an asset of assetBytes random
// bytes) into a tar.gz in dir.
func archive(t testing.TB, dir, binary string, assetBytes int) string {
	t.Helper()
	p := filepath.Join(dir, filepath.Base(binary)+".tar.gz")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	// Stored, not deflated: compressing megabytes under -race costs
	// seconds; the kiosk reads the gzip framing all the same.
	gz, _ := gzip.NewWriterLevel(f, gzip.NoCompression)
	tw := tar.NewWriter(gz)
	add := func(name string, mode int64, r io.Reader, size int64) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: size, Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(tw, r); err != nil {
			t.Fatal(err)
		}
	}
	bf, err := os.Open(binary)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := bf.Stat()
	add("kiosk", 0o755, bf, fi.Size())
	bf.Close()
	if assetBytes > 0 {
		tw.WriteHeader(&tar.Header{Name: "assets/", Mode: 0o755, Typeflag: tar.TypeDir})
		add("assets/model.bin", 0o644, io.LimitReader(rand.Reader, int64(assetBytes)), int64(assetBytes))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// testRepo is a repository with its keys.
type testRepo struct {
	Dir, Offline, Online string
	Now                  func() time.Time
}

func newRepo(t testing.TB, now func() time.Time, o repo.InitOptions) *testRepo {
	t.Helper()
	base := t.TempDir()
	r := &testRepo{Dir: filepath.Join(base, "repo"), Offline: filepath.Join(base, "offline"), Online: filepath.Join(base, "online"), Now: now}
	o.Now = now()
	if err := repo.Init(r.Dir, r.Offline, r.Online, o); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *testRepo) root(t testing.TB) []byte {
	b, err := os.ReadFile(filepath.Join(r.Dir, "root.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// release signs and publishes file as version on the stable channel at pct%.
func (r *testRepo) release(t testing.TB, file, version string, pct int) {
	t.Helper()
	r.releaseMeta(t, file, update.TargetMeta{Kind: update.KindRelease, Version: version, Channels: map[string]int{"stable": pct, "pilot": 100}})
}

func (r *testRepo) releaseMeta(t testing.TB, file string, m update.TargetMeta) {
	t.Helper()
	n := "kiosk/" + m.Version + "/kiosk.tar.gz"
	if m.Kind == update.KindConfig {
		n = fmt.Sprintf("config/%d/kiosk.toml", m.ConfigVersion)
	}
	if _, err := repo.Sign(r.Dir, r.Offline, []repo.Target{{File: file, Name: n, Meta: m}}, nil, r.Now(), repo.TargetsLifetime); err != nil {
		t.Fatal(err)
	}
	r.publish(t)
}

func (r *testRepo) publish(t testing.TB) {
	t.Helper()
	if err := repo.Publish(r.Dir, r.Online, r.Now(), repo.SnapshotLifetime, repo.TimestampLifetime); err != nil {
		t.Fatal(err)
	}
}

// pki is a loopback CA with a server and a client certificate.
type pki struct {
	CAFile, CertFile, KeyFile string
	Server                    *tls.Config
	ClientCert                tls.Certificate
	Pool                      *x509.CertPool
}

func newPKI(t testing.TB, dir, device string) *pki {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(cn string, serial int64, server bool) (tls.Certificate, []byte, []byte) {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tm := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
		if server {
			tm.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
			tm.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		} else {
			tm.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		}
		der, err := x509.CreateCertificate(rand.Reader, tm, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kd, _ := x509.MarshalECPrivateKey(k)
		cp := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		kp := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
		c, err := tls.X509KeyPair(cp, kp)
		if err != nil {
			t.Fatal(err)
		}
		return c, cp, kp
	}
	srv, _, _ := issue("127.0.0.1", 2, true)
	cli, cp, kp := issue(device, 3, false)
	p := &pki{CAFile: filepath.Join(dir, "ca.pem"), CertFile: filepath.Join(dir, "client.pem"), KeyFile: filepath.Join(dir, "client.key"), ClientCert: cli}
	os.WriteFile(p.CAFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644)
	os.WriteFile(p.CertFile, cp, 0o644)
	os.WriteFile(p.KeyFile, kp, 0o600)
	p.Pool = x509.NewCertPool()
	p.Pool.AddCert(ca)
	p.Server = &tls.Config{Certificates: []tls.Certificate{srv}, ClientCAs: p.Pool, ClientAuth: tls.VerifyClientCertIfGiven}
	return p
}

func (p *pki) client() *tls.Config {
	return &tls.Config{RootCAs: p.Pool, Certificates: []tls.Certificate{p.ClientCert}}
}

func writeFile(t testing.TB, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
