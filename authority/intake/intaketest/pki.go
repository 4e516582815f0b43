// Package intaketest gives tests of the intake and of the kiosk's uplink a
// complete authority on loopback: a throw-away CA with server and device
// certificates, an in-memory device registry, the intake on a real SQLite
// file behind real TLS (mTLS), and synthetic enrollments of fictional
// citizens with a real JPEG portrait.
//
// It is for tests only; the real PKI and registry are authority/pki and
// authority/registry.
package intaketest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"sync"
	"time"

	"eidkiosk/enroll"
)

// PKI is a test CA issuing the server certificate and device certificates.
type PKI struct {
	CAKey  *ecdsa.PrivateKey
	CA     *x509.Certificate
	Roots  *x509.CertPool // for the kiosk: trusts the server
	Server tls.Certificate
	serial int64
	mu     sync.Mutex
}

// NewPKI creates a CA and a server certificate for 127.0.0.1 and localhost.
func NewPKI() (*PKI, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "eidkiosk test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	ca, _ := x509.ParseCertificate(der)
	p := &PKI{CAKey: key, CA: ca, Roots: x509.NewCertPool(), serial: 1}
	p.Roots.AddCert(ca)
	skey, scert, err := p.issue("authority", x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, []string{"localhost"})
	if err != nil {
		return nil, err
	}
	p.Server = tls.Certificate{Certificate: [][]byte{scert.Raw}, PrivateKey: skey, Leaf: scert}
	return p, nil
}

func (p *PKI) issue(cn string, usage x509.ExtKeyUsage, ips []net.IP, names []string) (*ecdsa.PrivateKey, *x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	p.mu.Lock()
	p.serial++
	sn := p.serial
	p.mu.Unlock()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(sn), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: ips, DNSNames: names,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.CA, &key.PublicKey, p.CAKey)
	if err != nil {
		return nil, nil, err
	}
	c, err := x509.ParseCertificate(der)
	return key, c, err
}

// Device is one test terminal's identity.
type Device struct {
	ID, Station string
	Key         *ecdsa.PrivateKey
	Cert        *x509.Certificate
	TLS         tls.Certificate
}

// NewDevice issues a device certificate (client auth).
func (p *PKI) NewDevice(id, station string) (*Device, error) {
	key, cert, err := p.issue(id, x509.ExtKeyUsageClientAuth, nil, nil)
	if err != nil {
		return nil, err
	}
	return &Device{ID: id, Station: station, Key: key, Cert: cert,
		TLS: tls.Certificate{Certificate: [][]byte{cert.Raw, p.CA.Raw}, PrivateKey: key, Leaf: cert}}, nil
}

// ServerTLS is the authority's TLS configuration: TLS 1.3, client
// certificates verified against the CA when given (provisioning shares the
// port without one).
func (p *PKI) ServerTLS() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(p.CA)
	return &tls.Config{
		MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{p.Server},
		ClientCAs: pool, ClientAuth: tls.VerifyClientCertIfGiven,
	}
}

// Registry is an in-memory device registry (intake.Devices).
type Registry struct {
	mu      sync.Mutex
	devices map[[32]byte]*entry
}

type entry struct {
	id, station string
	revoked     bool
}

// RefusedError is the registry's refusal, with a Code like the real one's.
type RefusedError struct{ code, msg string }

func (e *RefusedError) Error() string { return "registry: refused (" + e.code + "): " + e.msg }

// Code returns the intake code: device_unknown or device_revoked.
func (e *RefusedError) Code() string { return e.code }

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{devices: map[[32]byte]*entry{}} }

// Add registers devices.
func (r *Registry) Add(ds ...*Device) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range ds {
		r.devices[sha256.Sum256(d.Cert.Raw)] = &entry{id: d.ID, station: d.Station}
	}
}

// Revoke revokes a device.
func (r *Registry) Revoke(d *Device) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e := r.devices[sha256.Sum256(d.Cert.Raw)]; e != nil {
		e.revoked = true
	}
}

// Reinstate lifts a revocation.
func (r *Registry) Reinstate(d *Device) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e := r.devices[sha256.Sum256(d.Cert.Raw)]; e != nil {
		e.revoked = false
	}
}

// Authorize implements intake.Devices.
func (r *Registry) Authorize(ctx context.Context, cert *x509.Certificate) (string, string, error) {
	if cert == nil {
		return "", "", errors.New("registry: no certificate")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.devices[sha256.Sum256(cert.Raw)]
	switch {
	case e == nil:
		return "", "", &RefusedError{code: "device_unknown", msg: fmt.Sprintf("certificate %s is not registered", cert.SerialNumber)}
	case e.revoked:
		return "", "", &RefusedError{code: "device_revoked", msg: "terminal " + e.id + " was revoked"}
	}
	return e.id, e.station, nil
}

// Sealer returns an enroll.Sealer for the device and the given intake key.
func (d *Device) Sealer(intakePub []byte) (*enroll.Sealer, error) {
	return enroll.NewSealer(d.Key, d.Cert, intakePub, d.ID, d.Station, rand.Reader)
}

// ClientTLS is the terminal's TLS configuration: TLS 1.3, the device
// certificate, the test CA as the only root.
func (d *Device) ClientTLS(p *PKI) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: p.Roots, Certificates: []tls.Certificate{d.TLS}}
}

// Sealing is one device ("KT-1" at "NS-PSB-001") sealing to a fresh intake
// key, and the authority's side that checks, verifies and opens.
type Sealing struct {
	Sealer *enroll.Sealer
	Device *Device
	Pub    []byte // the intake public key
	priv   hpke.PrivateKey
}

// NewSealing makes a PKI, a device and an intake key.
func NewSealing() (*Sealing, error) {
	pki, err := NewPKI()
	if err != nil {
		return nil, err
	}
	dev, err := pki.NewDevice("KT-1", "NS-PSB-001")
	if err != nil {
		return nil, err
	}
	priv, err := enroll.NewIntakeKey()
	if err != nil {
		return nil, err
	}
	pub := priv.PublicKey().Bytes()
	s, err := dev.Sealer(pub)
	if err != nil {
		return nil, err
	}
	return &Sealing{Sealer: s, Device: dev, Pub: pub, priv: priv}, nil
}

// Open parses, checks, verifies (against the device's certificate) and
// opens a package as the authority does.
func (s *Sealing) Open(b []byte) (*enroll.Record, error) {
	p, err := enroll.Parse(b)
	if err != nil {
		return nil, err
	}
	if err := p.Check(); err != nil {
		return nil, err
	}
	if err := p.Verify(s.Device.Cert); err != nil {
		return nil, err
	}
	return p.Open(s.priv)
}
