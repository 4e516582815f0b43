// Package pki is the reference authority's certificate authority: a root CA,
// a device CA signed by it that issues terminal certificates, and the TLS
// server certificate of the authority, all ECDSA P-256 (RFC 5280 profiles).
// It also builds the server's *tls.Config: TLS 1.3 (RFC 8446), client
// certificates verified against the device CA when a client presents one.
//
// Keys and certificates are PEM files in DIR/pki (keys 0600), created on the
// first Load and reused after. The root key stays on the authority's disk:
// acceptable for a reference authority and pilots, not for production, where
// the root lives offline or in an HSM.
//
// It does not decide which devices are trusted (revocation, tokens): that is
// package authority/registry. It publishes no CRL or OCSP: the registry
// refuses a revoked device at each request.
package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"eidkiosk/internal/atomicfile"
	"eidkiosk/internal/clock"
)

// Subdir is the directory inside the authority's --data directory that holds
// the PKI files.
const Subdir = "pki"

// DefaultHosts are the server certificate's names when none are configured.
var DefaultHosts = []string{"127.0.0.1", "localhost"}

// Lifetimes.
const (
	RootValidity     = 20 * 365 * 24 * time.Hour
	DeviceCAValidity = 10 * 365 * 24 * time.Hour
	ServerValidity   = 365 * 24 * time.Hour
	// DefaultDeviceValidity is a terminal certificate's lifetime; terminals
	// renew when a third of it remains.
	DefaultDeviceValidity = 90 * 24 * time.Hour
)

// Sentinel errors.
var (
	// ErrBadCSR is wrapped when a CSR is malformed, badly signed or not ECDSA P-256.
	ErrBadCSR = errors.New("pki: bad certificate request")
	// ErrNotDevice is wrapped when a certificate was not issued by the device CA.
	ErrNotDevice = errors.New("pki: not a device certificate of this authority")
)

// Config says where the PKI lives and how it issues.
type Config struct {
	DataDir string   // the authority's --data directory; files go to DataDir/pki
	Hosts   []string // server certificate names/IPs; nil keeps the existing ones (or DefaultHosts)
	// DeviceValidity is a device certificate's lifetime (DefaultDeviceValidity when 0).
	DeviceValidity time.Duration
	Clock          clock.Clock // clock.Real{} when nil
	Rand           io.Reader   // crypto/rand when nil
}

// PKI holds the authority's CA keys and certificates.
type PKI struct {
	root, deviceCA *x509.Certificate
	rootKey        crypto.Signer
	deviceKey      crypto.Signer
	server         tls.Certificate
	clock          clock.Clock
	rand           io.Reader
	validity       time.Duration
}

// Load opens (creating on first use) the PKI under dataDir/pki with the
// server certificate valid for hosts (nil: keep the existing names, or
// 127.0.0.1 and localhost for a new one).
func Load(dataDir string, hosts []string) (*PKI, error) {
	return Open(Config{DataDir: dataDir, Hosts: hosts})
}

// Open is Load with every option.
func Open(c Config) (*PKI, error) {
	p := &PKI{clock: c.Clock, rand: c.Rand, validity: c.DeviceValidity}
	if p.clock == nil {
		p.clock = clock.Real{}
	}
	if p.rand == nil {
		p.rand = rand.Reader
	}
	if p.validity <= 0 {
		p.validity = DefaultDeviceValidity
	}
	dir := filepath.Join(c.DataDir, Subdir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	unlock, err := lock(dir)
	if err != nil {
		return nil, err
	}
	defer unlock()

	p.root, p.rootKey, err = p.loadOrCreate(dir, "root", func(key crypto.Signer) (*x509.Certificate, error) {
		return p.sign(&x509.Certificate{
			Subject:               pkix.Name{CommonName: "eidkiosk authority root CA", Organization: []string{"eidkiosk"}},
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
			BasicConstraintsValid: true, IsCA: true,
		}, RootValidity, key.Public(), nil, key)
	})
	if err != nil {
		return nil, err
	}
	p.deviceCA, p.deviceKey, err = p.loadOrCreate(dir, "device-ca", func(key crypto.Signer) (*x509.Certificate, error) {
		return p.sign(&x509.Certificate{
			Subject:               pkix.Name{CommonName: "eidkiosk device CA", Organization: []string{"eidkiosk"}},
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
			BasicConstraintsValid: true, IsCA: true, MaxPathLen: 0, MaxPathLenZero: true,
		}, DeviceCAValidity, key.Public(), p.root, p.rootKey)
	})
	if err != nil {
		return nil, err
	}
	if err := p.deviceCA.CheckSignatureFrom(p.root); err != nil {
		return nil, fmt.Errorf("pki: %s is not signed by %s: %w", filepath.Join(dir, "device-ca.crt"), filepath.Join(dir, "root.crt"), err)
	}
	if err := p.loadServer(dir, c.Hosts); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *PKI) sign(tmpl *x509.Certificate, validity time.Duration, pub crypto.PublicKey, parent *x509.Certificate, key crypto.Signer) (*x509.Certificate, error) {
	serial, err := rand.Int(p.rand, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("pki: serial: %w", err)
	}
	now := p.clock.Now()
	tmpl.SerialNumber = serial
	tmpl.NotBefore = now.Add(-5 * time.Minute) // tolerate small clock skew
	tmpl.NotAfter = now.Add(validity)
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(p.rand, tmpl, parent, pub, key)
	if err != nil {
		return nil, fmt.Errorf("pki: sign %q: %w", tmpl.Subject.CommonName, err)
	}
	return x509.ParseCertificate(der)
}

func (p *PKI) newKey() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), p.rand)
	if err != nil {
		return nil, fmt.Errorf("pki: generate key: %w", err)
	}
	return k, nil
}

// loadOrCreate reads NAME.crt and NAME.key, or creates both with mk.
func (p *PKI) loadOrCreate(dir, name string, mk func(crypto.Signer) (*x509.Certificate, error)) (*x509.Certificate, crypto.Signer, error) {
	certPath, keyPath := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	certs, errC := readCerts(certPath)
	key, errK := readKey(keyPath)
	switch {
	case errC == nil && errK == nil:
		if !samePublic(certs[0].PublicKey, key.Public()) {
			return nil, nil, fmt.Errorf("pki: %s does not match %s", certPath, keyPath)
		}
		return certs[0], key, nil
	case errors.Is(errC, fs.ErrNotExist) && errors.Is(errK, fs.ErrNotExist):
	case errC != nil:
		return nil, nil, errC
	default:
		return nil, nil, errK
	}
	k, err := p.newKey()
	if err != nil {
		return nil, nil, err
	}
	cert, err := mk(k)
	if err != nil {
		return nil, nil, err
	}
	if err := writeKey(keyPath, k); err != nil {
		return nil, nil, err
	}
	if err := atomicfile.Write(certPath, pemCerts(cert), 0o644); err != nil {
		return nil, nil, fmt.Errorf("pki: %w", err)
	}
	return cert, k, nil
}

func (p *PKI) loadServer(dir string, hosts []string) error {
	certPath, keyPath := filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	certs, errC := readCerts(certPath)
	key, errK := readKey(keyPath)
	if errC == nil && errK == nil {
		leaf := certs[0]
		fresh := p.clock.Now().Add(30 * 24 * time.Hour).Before(leaf.NotAfter)
		names := hosts == nil || sameNames(leaf, hosts)
		signed := leaf.CheckSignatureFrom(p.root) == nil
		if fresh && names && signed && samePublic(leaf.PublicKey, key.Public()) {
			p.server = tls.Certificate{Certificate: [][]byte{leaf.Raw, p.root.Raw}, PrivateKey: key, Leaf: leaf}
			return nil
		}
		if hosts == nil {
			hosts = append(leaf.DNSNames, ipStrings(leaf.IPAddresses)...)
		}
	} else if !errors.Is(errC, fs.ErrNotExist) && errC != nil {
		return errC
	} else if !errors.Is(errK, fs.ErrNotExist) && errK != nil {
		return errK
	}
	if len(hosts) == 0 {
		hosts = DefaultHosts
	}
	k, err := p.newKey()
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: hosts[0], Organization: []string{"eidkiosk authority"}},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	leaf, err := p.sign(tmpl, ServerValidity, k.Public(), p.root, p.rootKey)
	if err != nil {
		return err
	}
	if err := writeKey(keyPath, k); err != nil {
		return err
	}
	if err := atomicfile.Write(certPath, pemCerts(leaf, p.root), 0o644); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	p.server = tls.Certificate{Certificate: [][]byte{leaf.Raw, p.root.Raw}, PrivateKey: k, Leaf: leaf}
	return nil
}

// ServerTLSConfig is the authority's TLS configuration: TLS 1.3 only, its
// server certificate (sent with the root so a blank terminal can show the
// root's fingerprint), and client certificates verified against the device CA
// when presented. Provisioning is called without a client certificate; the
// handlers that need one check it themselves.
func (p *PKI) ServerTLSConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(p.deviceCA)
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{p.server},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    pool,
	}
}

// Root is the authority's root CA certificate.
func (p *PKI) Root() *x509.Certificate { return p.root }

// DeviceCA is the CA that issues terminal certificates.
func (p *PKI) DeviceCA() *x509.Certificate { return p.deviceCA }

// ServerCertificate is the TLS server certificate's leaf.
func (p *PKI) ServerCertificate() *x509.Certificate { return p.server.Leaf }

// RootFingerprint is the SHA-256 of the root CA's DER, in lower-case hex:
// what a technician compares, and what kiosk.toml's
// authority.ca_fingerprint pins.
func (p *PKI) RootFingerprint() string { return Fingerprint(p.root) }

// Fingerprint is the SHA-256 of a certificate's DER in lower-case hex.
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

// IssueDevice checks a terminal's CSR and issues its client certificate:
// subject CN = deviceID, OU = station, client authentication only.
func (p *PKI) IssueDevice(csrDER []byte, deviceID, station string) (*x509.Certificate, error) {
	csr, err := ParseCSR(csrDER)
	if err != nil {
		return nil, err
	}
	return p.sign(&x509.Certificate{
		Subject: pkix.Name{
			CommonName: deviceID, OrganizationalUnit: []string{station},
			Organization: []string{"eidkiosk terminal"},
		},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, p.validity, csr.PublicKey, p.deviceCA, p.deviceKey)
}

// ParseCSR parses a PKCS#10 request, checks its self-signature and that its
// key is ECDSA P-256.
func ParseCSR(der []byte) (*x509.CertificateRequest, error) {
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCSR, err)
	}
	switch csr.SignatureAlgorithm {
	case x509.ECDSAWithSHA256, x509.ECDSAWithSHA384, x509.ECDSAWithSHA512:
	default:
		// CheckSignature accepts SHA-1 on a request; the authority does not.
		return nil, fmt.Errorf("%w: signature algorithm %v (want ECDSA with SHA-256 or stronger)", ErrBadCSR, csr.SignatureAlgorithm)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: signature: %v", ErrBadCSR, err)
	}
	k, ok := csr.PublicKey.(*ecdsa.PublicKey)
	if !ok || k.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: the key must be ECDSA P-256", ErrBadCSR)
	}
	return csr, nil
}

// VerifyDevice checks that cert was issued by this authority's device CA, is
// valid now and is meant for client authentication. It returns the device ID
// and station the certificate names.
func (p *PKI) VerifyDevice(cert *x509.Certificate) (deviceID, station string, err error) {
	if cert == nil {
		return "", "", fmt.Errorf("%w: no certificate", ErrNotDevice)
	}
	roots := x509.NewCertPool()
	roots.AddCert(p.deviceCA)
	if _, err := cert.Verify(x509.VerifyOptions{
		Roots: roots, CurrentTime: p.clock.Now(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrNotDevice, err)
	}
	if cert.Subject.CommonName == "" || len(cert.Subject.OrganizationalUnit) != 1 {
		return "", "", fmt.Errorf("%w: subject lacks the device ID or station", ErrNotDevice)
	}
	return cert.Subject.CommonName, cert.Subject.OrganizationalUnit[0], nil
}

// ---- files ----

func lock(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("pki: lock %s: %w", dir, err)
	}
	return func() { f.Close() }, nil
}

func pemCerts(cs ...*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range cs {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

func readCerts(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("pki: %s: %w", path, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("pki: %s holds no PEM certificate (restore it from backup, or move the pki directory away to start a new authority)", path)
	}
	return out, nil
}

func readKey(path string) (crypto.Signer, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("pki: %s is readable by others (mode %v): run `chmod 600 %s`", path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("pki: %s holds no PEM key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("pki: %s: %w", path, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("pki: %s: not a signing key", path)
	}
	return s, nil
}

func writeKey(path string, k *ecdsa.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	if err := atomicfile.Write(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	return nil
}

func samePublic(a, b crypto.PublicKey) bool {
	x, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && x.Equal(b)
}

func sameNames(c *x509.Certificate, hosts []string) bool {
	have := append(slices.Clone(c.DNSNames), ipStrings(c.IPAddresses)...)
	want := make([]string, 0, len(hosts))
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			h = ip.String()
		}
		want = append(want, h)
	}
	slices.Sort(have)
	slices.Sort(want)
	return slices.Equal(slices.Compact(have), slices.Compact(want))
}

func ipStrings(ips []net.IP) []string {
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = ip.String()
	}
	return out
}
