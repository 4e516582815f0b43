// Package tamper keeps the kiosk's enclosure tamper lock on disk, so that a
// restart, a crash or a power cut does not clear it: the first "enclosure
// open" writes a record signed by the device key to STATE/tamper-lock
// (written to a temporary name, fsynced, renamed, directory fsynced:
// internal/atomicfile), and only a technician's "clear" removes it. A lock
// file that is present is a lock, even when its signature does not verify
// (fail closed); the signature lets the authority and a technician tell a
// genuine record from a planted or edited one.
//
// It does not watch the switch (drivers/gpio), decide what the lock means
// for the visit (kiosk/session) or talk to the authority (the caller
// reports the record).
package tamper

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"eidkiosk/internal/atomicfile"
	"eidkiosk/internal/clock"
)

// File is the lock record's name in the state directory.
const File = "tamper-lock"

// ErrBadSignature is a lock record whose signature does not verify.
var ErrBadSignature = errors.New("tamper: the lock record's signature does not verify")

// Record is the persisted lock: when and on which terminal the enclosure
// was opened, signed by the device key (ECDSA P-256 over SHA-256 of the
// signed text, ASN.1 DER). Nothing personal.
type Record struct {
	Version  int       `json:"v"`
	DeviceID string    `json:"device"`
	LockedAt time.Time `json:"locked_at"`
	Sig      []byte    `json:"sig,omitempty"`
}

func (r Record) signed() []byte {
	return fmt.Appendf(nil, "eidkiosk tamper lock v%d\n%s\n%s\n", r.Version, r.DeviceID, r.LockedAt.UTC().Format(time.RFC3339Nano))
}

// Verify checks the record's signature against the device's public key.
func (r Record) Verify(pub crypto.PublicKey) error {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return fmt.Errorf("tamper: device key %T is not ECDSA", pub)
	}
	sum := sha256.Sum256(r.signed())
	if len(r.Sig) == 0 || !ecdsa.VerifyASN1(k, sum[:], r.Sig) {
		return ErrBadSignature
	}
	return nil
}

// Lock is the persisted tamper lock of one state directory. Its methods
// are safe for concurrent use.
type Lock struct {
	path     string
	signer   crypto.Signer // nil before provisioning: the record is unsigned
	deviceID string
	clk      clock.Clock
	mu       sync.Mutex
}

// New returns the lock of stateDir; signer and deviceID are the terminal's
// identity (nil and "" when not provisioned).
func New(stateDir string, signer crypto.Signer, deviceID string, clk clock.Clock) *Lock {
	if clk == nil {
		clk = clock.Real{}
	}
	return &Lock{path: filepath.Join(stateDir, File), signer: signer, deviceID: deviceID, clk: clk}
}

// Locked reports whether a lock record is present.
func (l *Lock) Locked() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err := os.Lstat(l.path)
	return err == nil || !errors.Is(err, os.ErrNotExist) // unreadable: fail closed
}

// Lock writes the signed record durably; a record already present is kept
// (its time is the first opening).
func (l *Lock) Lock() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := os.Lstat(l.path); err == nil {
		return nil
	}
	r := Record{Version: 1, DeviceID: l.deviceID, LockedAt: l.clk.Now().UTC()}
	if l.signer != nil {
		sum := sha256.Sum256(r.signed())
		sig, err := l.signer.Sign(rand.Reader, sum[:], crypto.SHA256)
		if err != nil {
			return fmt.Errorf("tamper: signing the lock record: %w", err)
		}
		r.Sig = sig
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("tamper: %w", err)
	}
	if err := atomicfile.Write(l.path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("tamper: persisting the lock: %w", err)
	}
	return nil
}

// Clear removes the record (a technician cleared the lock) and syncs the
// directory, so the clearing survives a power cut too.
func (l *Lock) Clear() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := os.Remove(l.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("tamper: clearing the lock: %w", err)
	}
	if err := atomicfile.SyncDir(filepath.Dir(l.path)); err != nil {
		return fmt.Errorf("tamper: clearing the lock: %w", err)
	}
	return nil
}

// Record reads the persisted record; ok is false when there is none.
func (l *Lock) Record() (r Record, ok bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, err := os.ReadFile(l.path)
	if errors.Is(err, os.ErrNotExist) {
		return Record{}, false, nil
	}
	if err != nil {
		return Record{}, true, fmt.Errorf("tamper: %w", err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return Record{}, true, fmt.Errorf("tamper: damaged lock record: %w", err)
	}
	return r, true, nil
}
