package intake

import (
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"eidkiosk/enroll"
	"eidkiosk/internal/atomicfile"
)

// Key files in the --data directory (mode 0600) and their public parts (0644).
const (
	IntakeKeyFile     = "intake-hpke.key"     // HPKE MLKEM768-X25519 private key
	IntakePubFile     = "intake-hpke.pub"     // its public key, for terminals
	ReceiptKeyFile    = "receipt-ed25519.key" // Ed25519 seed signing receipts
	ReceiptPubFile    = "receipt-ed25519.pub" // its public key, for terminals
	NumberHMACKeyFile = "number-hmac.key"     // HMAC-SHA256 key for the duplicate index
)

type keys struct {
	intake  hpke.PrivateKey
	receipt ed25519.PrivateKey
	hmacKey []byte
}

// loadKeys reads the keys from dir, creating any that are missing.
func loadKeys(dir string) (*keys, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("intake: data directory: %w", err)
	}
	k := &keys{}
	b, err := loadOrCreate(filepath.Join(dir, IntakeKeyFile), func() ([]byte, error) {
		p, err := enroll.NewIntakeKey()
		if err != nil {
			return nil, err
		}
		return p.Bytes()
	})
	if err != nil {
		return nil, err
	}
	if k.intake, err = enroll.ParseIntakePrivateKey(b); err != nil {
		return nil, fmt.Errorf("intake: %s: %w", IntakeKeyFile, err)
	}
	seed, err := loadOrCreate(filepath.Join(dir, ReceiptKeyFile), func() ([]byte, error) {
		s := make([]byte, ed25519.SeedSize)
		_, err := rand.Read(s)
		return s, err
	})
	if err != nil {
		return nil, err
	}
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("intake: %s: %d bytes, want %d", ReceiptKeyFile, len(seed), ed25519.SeedSize)
	}
	k.receipt = ed25519.NewKeyFromSeed(seed)
	if k.hmacKey, err = loadOrCreate(filepath.Join(dir, NumberHMACKeyFile), func() ([]byte, error) {
		s := make([]byte, 32)
		_, err := rand.Read(s)
		return s, err
	}); err != nil {
		return nil, err
	}
	for f, pub := range map[string][]byte{
		IntakePubFile: k.intake.PublicKey().Bytes(), ReceiptPubFile: k.receipt.Public().(ed25519.PublicKey),
	} {
		if err := atomicfile.Write(filepath.Join(dir, f), pub, 0o644); err != nil {
			return nil, fmt.Errorf("intake: %w", err)
		}
	}
	return k, nil
}

func loadOrCreate(path string, gen func() ([]byte, error)) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("intake: %s is readable by others (mode %v); chmod 600 it", filepath.Base(path), fi.Mode().Perm())
		}
		return b, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("intake: %w", err)
	}
	b, err = gen()
	if err != nil {
		return nil, fmt.Errorf("intake: generate %s: %w", filepath.Base(path), err)
	}
	if err := atomicfile.Write(path, b, 0o600); err != nil {
		return nil, fmt.Errorf("intake: %w", err)
	}
	return b, nil
}
