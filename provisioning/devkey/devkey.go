// Package devkey holds the terminal's device key: one ECDSA P-256 key that
// signs enrollments and authenticates the terminal in TLS. The key is made
// on the box and never leaves it: inside a TPM 2.0 when the box has one
// (TCG TPM 2.0 Library, Part 3: TPM2_Create/Load/Sign, via
// github.com/google/go-tpm), otherwise in a PKCS#8 PEM file readable only by
// the kiosk's user (mode 0600), refused at load when its permissions are
// looser.
//
// It does not store certificates (package provisioning does) and does not
// talk to the authority.
package devkey

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"eidkiosk/internal/atomicfile"
)

// Kinds of key.
const (
	KindFile = "file"
	KindTPM  = "tpm"
)

// Key is a device key. Sign is safe for concurrent use.
type Key interface {
	crypto.Signer
	// Kind is KindFile or KindTPM.
	Kind() string
	// Close releases the TPM; a file key has nothing to release.
	Close() error
}

// ErrPermissions is wrapped when a key file is readable or writable by
// anyone but its owner.
var ErrPermissions = errors.New("devkey: key file permissions too open")

// ErrNoKey is wrapped when the key file does not exist.
var ErrNoKey = errors.New("devkey: no device key")

type fileKey struct{ *ecdsa.PrivateKey }

func (fileKey) Kind() string               { return KindFile }
func (fileKey) Close() error               { return nil }
func (k fileKey) Public() crypto.PublicKey { return &k.PrivateKey.PublicKey }

// CreateFile generates a P-256 key and writes it to path with mode 0600,
// atomically. An existing file is replaced.
func CreateFile(path string, random io.Reader) (Key, error) {
	if random == nil {
		random = rand.Reader
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), random)
	if err != nil {
		return nil, fmt.Errorf("devkey: generate: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("devkey: %w", err)
	}
	blk := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	defer clear(blk)
	defer clear(der)
	if err := atomicfile.Write(path, blk, 0o600); err != nil {
		return nil, fmt.Errorf("devkey: %w", err)
	}
	return fileKey{k}, nil
}

// CheckPermissions refuses a file that anyone but its owner may read or
// write, with the command that fixes it.
func CheckPermissions(path string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s does not exist", ErrNoKey, path)
	}
	if err != nil {
		return fmt.Errorf("devkey: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%w: %s has mode %04o, so other users can read the device key; run `chmod 600 %s` and check nobody copied it (if in doubt, have city IT revoke the terminal and provision it again)",
			ErrPermissions, path, perm, path)
	}
	return nil
}

// OpenFile loads a key file written by CreateFile, refusing loose permissions.
func OpenFile(path string) (Key, error) {
	if err := CheckPermissions(path); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("devkey: %w", err)
	}
	defer clear(b)
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("devkey: %s holds no PEM private key (corrupt: deprovision with --force and provision again)", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	clear(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("devkey: %s: %w", path, err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, fmt.Errorf("devkey: %s is not an ECDSA P-256 key", path)
	}
	return fileKey{ek}, nil
}

// Destroy overwrites a key file with zeros, syncs, and removes it. A missing
// file is not an error. (On flash storage with wear levelling the old blocks
// may survive; the authority revokes the certificate in any case.)
func Destroy(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("devkey: %w", err)
	}
	if fi, err := f.Stat(); err == nil {
		_, _ = f.Write(make([]byte, fi.Size()))
		_ = f.Sync()
	}
	f.Close()
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("devkey: %w", err)
	}
	return nil
}
