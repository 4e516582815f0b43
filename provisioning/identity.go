// Package provisioning turns a blank terminal into a trusted terminal of one
// station and keeps it so: it creates the device key (package
// provisioning/devkey: TPM 2.0 or a 0600 file), sends a CSR with a one-time
// enrollment token to the authority after the technician confirmed the
// authority's CA fingerprint (or it was pinned), stores the returned bundle
// (certificate chain, authority root, intake HPKE key, receipt key, TUF root,
// station configuration) durably in the state directory, loads it at start
// (LoadIdentity), renews the certificate before it expires (Renewer), and
// deprovisions (Deprovision). Every step is appended to a local audit log.
//
// The wire format is package provisioning/protocol; the authority's side is
// package authority/registry. It does not upload enrollments (kiosk/uplink
// does, with Identity's TLS configuration) and does not check hardware (the
// self-test framework is package provisioning/selftest).
//
// State directory layout (all written temp → fsync → rename → fsync dir):
//
//	STATE/identity/device.key     ECDSA P-256 PKCS#8, mode 0600 (file keys)
//	STATE/identity/device.tpmkey  TPM key blobs, mode 0600 (TPM keys)
//	STATE/identity/bundle.json    the authority's bundle; present = provisioned
//	STATE/identity/audit.log      JSON lines: every provisioning step
package provisioning

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/google/go-tpm/tpm2/transport"

	"eidkiosk/internal/atomicfile"
	"eidkiosk/provisioning/devkey"
	"eidkiosk/provisioning/protocol"
)

// Files inside the state directory.
const (
	IdentityDir    = "identity"
	KeyFileName    = "device.key"
	TPMKeyFileName = "device.tpmkey"
	BundleFile     = "bundle.json"
	AuditFile      = "audit.log"
)

// Sentinel errors.
var (
	// ErrNotProvisioned: the state directory holds no identity; the kiosk
	// shows "terminal not provisioned" and a technician runs `kioskctl provision`.
	ErrNotProvisioned = errors.New("provisioning: terminal not provisioned")
	// ErrAlreadyProvisioned: provisioning refused because an identity exists.
	ErrAlreadyProvisioned = errors.New("provisioning: terminal already provisioned")
	// ErrKeyPermissions: the key file is readable by other users.
	ErrKeyPermissions = devkey.ErrPermissions
	// ErrUnreachable: the authority could not be reached (network, DNS, URL).
	ErrUnreachable = errors.New("provisioning: authority unreachable")
	// ErrFingerprint: the authority's CA does not match the pinned fingerprint,
	// or the technician did not confirm it.
	ErrFingerprint = errors.New("provisioning: authority CA not trusted")
	// ErrCorrupt: the stored identity is damaged.
	ErrCorrupt = errors.New("provisioning: stored identity is corrupt")
)

// stored is bundle.json.
type stored struct {
	Version     int             `json:"version"`
	KeyKind     string          `json:"key_kind"`
	Authority   string          `json:"authority"`
	Provisioned time.Time       `json:"provisioned"`
	Renewed     time.Time       `json:"renewed,omitzero"`
	Bundle      protocol.Bundle `json:"bundle"`
}

// Identity is a provisioned terminal's identity, loaded from the state
// directory. The exported fields are fixed at load, except Chain, which a
// Renewer replaces: while one runs, read the certificate through
// TLSCertificate, Certificate or TLSConfig, which are safe for concurrent use.
type Identity struct {
	// Signer is the device key (ECDSA P-256): it signs enrollments and
	// authenticates TLS. Its private part never leaves the TPM or key file.
	Signer crypto.Signer
	// KeyKind is protocol.KeyFile or protocol.KeyTPM.
	KeyKind string
	// Chain is the device certificate followed by the device CA.
	Chain []*x509.Certificate
	// Root is the authority's root CA; RootCAs holds it, for verifying the server.
	Root    *x509.Certificate
	RootCAs *x509.CertPool
	// IntakePublicKey is the intake's HPKE public key enrollments are sealed to.
	IntakePublicKey []byte
	// ReceiptPublicKey verifies the authority's receipts.
	ReceiptPublicKey []byte
	// TUFRoot is the update repository's trusted root.json.
	TUFRoot []byte
	// DeviceID is the authority's name for this terminal, e.g. "KT-7K3Q9D2M".
	DeviceID    string
	StationID   string
	StationName string
	// AuthorityURL is the authority the terminal was provisioned against.
	AuthorityURL string
	// Provisioned is when the terminal was provisioned.
	Provisioned time.Time

	dir string
	key devkey.Key
	mu  sync.RWMutex
	st  stored
}

// Options adjust LoadIdentity and Provision.
type Options struct {
	// OpenTPM opens the TPM; devkey.OpenDefaultTPM (/dev/tpmrm0) when nil.
	OpenTPM func() (transport.TPMCloser, error)
}

func (o Options) openTPM() (transport.TPMCloser, error) {
	if o.OpenTPM != nil {
		return o.OpenTPM()
	}
	return devkey.OpenDefaultTPM()
}

// LoadIdentity loads the identity stored in stateDir. It returns an error
// wrapping ErrNotProvisioned when there is none, ErrKeyPermissions when the
// key file is readable by others, ErrCorrupt when the files do not fit
// together.
func LoadIdentity(stateDir string) (*Identity, error) { return Load(stateDir, Options{}) }

// Load is LoadIdentity with options.
func Load(stateDir string, o Options) (*Identity, error) {
	dir := filepath.Join(stateDir, IdentityDir)
	b, err := os.ReadFile(filepath.Join(dir, BundleFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: no %s in %s (run `kioskctl provision`)", ErrNotProvisioned, BundleFile, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("provisioning: %w", err)
	}
	var st stored
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%w: %s: %v (run `kioskctl deprovision --force`, then provision again)", ErrCorrupt, filepath.Join(dir, BundleFile), err)
	}
	var key devkey.Key
	switch st.KeyKind {
	case protocol.KeyFile:
		key, err = devkey.OpenFile(filepath.Join(dir, KeyFileName))
	case protocol.KeyTPM:
		path := filepath.Join(dir, TPMKeyFileName)
		if err = devkey.CheckPermissions(path); err != nil {
			break
		}
		var t transport.TPMCloser
		if t, err = o.openTPM(); err != nil {
			err = fmt.Errorf("provisioning: the device key is in the TPM, which cannot be opened: %w", err)
			break
		}
		if key, err = devkey.OpenTPM(t, path); err != nil {
			t.Close()
		}
	default:
		err = fmt.Errorf("%w: unknown key kind %q in %s", ErrCorrupt, st.KeyKind, BundleFile)
	}
	if err != nil {
		if errors.Is(err, devkey.ErrNoKey) {
			return nil, fmt.Errorf("%w: the device key is missing (%v); run `kioskctl deprovision --force`, then provision again", ErrCorrupt, err)
		}
		return nil, fmt.Errorf("provisioning: load device key: %w", err)
	}
	id, err := newIdentity(dir, key, st)
	if err != nil {
		key.Close()
		return nil, err
	}
	return id, nil
}

func newIdentity(dir string, key devkey.Key, st stored) (*Identity, error) {
	chain, root, err := verifyBundle(&st.Bundle, key.Public())
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	id := &Identity{
		Signer: key, KeyKind: st.KeyKind, Chain: chain, Root: root, RootCAs: pool,
		IntakePublicKey: st.Bundle.IntakePublicKey, ReceiptPublicKey: st.Bundle.ReceiptPublicKey,
		TUFRoot: st.Bundle.TUFRoot, DeviceID: st.Bundle.DeviceID,
		StationID: st.Bundle.Station.ID, StationName: st.Bundle.Station.Name,
		AuthorityURL: st.Authority, Provisioned: st.Provisioned,
		dir: dir, key: key, st: st,
	}
	return id, nil
}

// verifyBundle checks that the bundle's chain leads from a certificate for
// pub to its root CA (signatures only: an expired certificate still loads,
// so the kiosk can say so).
func verifyBundle(b *protocol.Bundle, pub crypto.PublicKey) ([]*x509.Certificate, *x509.Certificate, error) {
	if len(b.Chain) == 0 || len(b.RootCA) == 0 || b.DeviceID == "" || b.Station.ID == "" {
		return nil, nil, fmt.Errorf("%w: the bundle lacks its certificate, root CA, device ID or station", ErrCorrupt)
	}
	root, err := x509.ParseCertificate(b.RootCA)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: root CA: %v", ErrCorrupt, err)
	}
	var chain []*x509.Certificate
	for i, der := range b.Chain {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: certificate %d: %v", ErrCorrupt, i, err)
		}
		chain = append(chain, c)
	}
	leaf := chain[0]
	if k, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !k.Equal(pub) {
		return nil, nil, fmt.Errorf("%w: the device certificate is not for this terminal's key", ErrCorrupt)
	}
	roots := x509.NewCertPool()
	roots.AddCert(root)
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, CurrentTime: leaf.NotBefore.Add(time.Minute),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return nil, nil, fmt.Errorf("%w: the device certificate does not chain to the authority's root: %v", ErrCorrupt, err)
	}
	return chain, root, nil
}

// Certificate is the current device certificate.
func (id *Identity) Certificate() *x509.Certificate {
	id.mu.RLock()
	defer id.mu.RUnlock()
	return id.Chain[0]
}

// CertChain is the current device certificate and its chain.
func (id *Identity) CertChain() []*x509.Certificate {
	id.mu.RLock()
	defer id.mu.RUnlock()
	return append([]*x509.Certificate(nil), id.Chain...)
}

// TLSCertificate is the current client certificate with the device key.
func (id *Identity) TLSCertificate() tls.Certificate {
	id.mu.RLock()
	defer id.mu.RUnlock()
	c := tls.Certificate{PrivateKey: id.Signer, Leaf: id.Chain[0]}
	for _, x := range id.Chain {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	return c
}

// TLSConfig is the client configuration for talking to the authority: TLS
// 1.3, the server verified against the authority's root, the current device
// certificate (picked up again after a renewal).
func (id *Identity) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		RootCAs:    id.RootCAs,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			c := id.TLSCertificate()
			return &c, nil
		},
	}
}

// Expires is when the current device certificate expires.
func (id *Identity) Expires() time.Time { return id.Certificate().NotAfter }

// Dir is the identity directory (STATE/identity).
func (id *Identity) Dir() string { return id.dir }

// Close releases the device key (the TPM connection).
func (id *Identity) Close() error { return id.key.Close() }

// replace installs a renewed bundle: durably first, then in memory.
func (id *Identity) replace(b protocol.Bundle, now time.Time) error {
	chain, root, err := verifyBundle(&b, id.Signer.Public())
	if err != nil {
		return err
	}
	if !root.Equal(id.Root) {
		return fmt.Errorf("provisioning: the renewal came with a different root CA; refusing it")
	}
	id.mu.Lock()
	defer id.mu.Unlock()
	st := id.st
	st.Bundle = b
	st.Renewed = now.UTC()
	if err := writeStored(id.dir, st); err != nil {
		return err
	}
	id.st = st
	id.Chain = chain
	return nil
}

func writeStored(dir string, st stored) error {
	st.Version = 1
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("provisioning: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(dir, BundleFile), b, 0o600); err != nil {
		return fmt.Errorf("provisioning: save identity: %w", err)
	}
	return nil
}
