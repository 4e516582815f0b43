package release

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// RotateKeys replaces every key of role with count fresh keys (threshold
// of them needed), in a new version of root.json signed by the current root
// keys and, when the root role itself rotates, by the new root keys too, so
// that terminals can walk from the root they trust to the new one
// (TUF 5.3: N.root.json, N+1.root.json, ...).
//
// New key files are written to keyDir (the offline directory for root and
// targets, the online one for snapshot and timestamp); the replaced files
// there are renamed to *.retired. offlineDir holds the current root keys.
// After a targets rotation run Sign (no targets) and Publish; after a
// snapshot or timestamp rotation run Publish.
func RotateKeys(repoDir, offlineDir, keyDir, role string, count, threshold int, now time.Time) (int64, error) {
	switch role {
	case metadata.ROOT, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP:
	default:
		return 0, fmt.Errorf("release: no role %q (root, targets, snapshot, timestamp)", role)
	}
	if count <= 0 || threshold <= 0 || threshold > count {
		return 0, errors.New("release: rotation needs 1 <= threshold <= count")
	}
	oldRootKeys, err := LoadKeys(offlineDir, metadata.ROOT)
	if err != nil {
		return 0, err
	}
	b, err := os.ReadFile(filepath.Join(repoDir, "root.json"))
	if err != nil {
		return 0, fmt.Errorf("release: %w", err)
	}
	root, err := (&metadata.Metadata[metadata.RootType]{}).FromBytes(b)
	if err != nil {
		return 0, fmt.Errorf("release: root.json: %w", err)
	}
	// Revoke every current key of the role.
	for _, id := range append([]string(nil), root.Signed.Roles[role].KeyIDs...) {
		if err := root.Signed.RevokeKey(id, role); err != nil {
			return 0, fmt.Errorf("release: %w", err)
		}
	}
	// Retire the old files first, so the new ones can take their names.
	names, _ := filepath.Glob(filepath.Join(keyDir, role+"*.pem"))
	for _, n := range names {
		if err := os.Rename(n, n+".retired"); err != nil {
			return 0, fmt.Errorf("release: %w", err)
		}
	}
	var fresh []ed25519.PrivateKey
	for i := 1; i <= count; i++ {
		name := role + ".pem"
		if count > 1 || role == metadata.ROOT || role == metadata.TARGETS {
			name = fmt.Sprintf("%s-%d.pem", role, i)
		}
		k, err := GenerateKey(filepath.Join(keyDir, name))
		if err != nil {
			return 0, err
		}
		pub, _ := metadata.KeyFromPublicKey(k.Public())
		if err := root.Signed.AddKey(pub, role); err != nil {
			return 0, fmt.Errorf("release: %w", err)
		}
		fresh = append(fresh, k)
	}
	root.Signed.Roles[role].Threshold = threshold
	root.Signed.Version++
	root.Signed.Expires = now.UTC().Add(RootLifetime).Truncate(time.Second)
	signers := oldRootKeys
	if role == metadata.ROOT {
		signers = append(append([]ed25519.PrivateKey(nil), oldRootKeys...), fresh...)
	}
	if err := signAll(root, signers); err != nil {
		return 0, err
	}
	nb, err := root.ToBytes(true)
	if err != nil {
		return 0, fmt.Errorf("release: %w", err)
	}
	if err := writeAtomic(filepath.Join(repoDir, fmt.Sprintf("%d.root.json", root.Signed.Version)), nb); err != nil {
		return 0, err
	}
	return root.Signed.Version, writeAtomic(filepath.Join(repoDir, "root.json"), nb)
}
