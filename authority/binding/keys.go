package binding

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"eidkiosk/eidcred"
	"eidkiosk/internal/atomicfile"
)

// IssuerFile holds the issuer keys inside the data directory.
const IssuerFile = "eid-issuer.json"

type storedKey struct {
	PKCS8   []byte    `json:"pkcs8"`
	Created time.Time `json:"created"`
	// Until is when the key stops being published (zero: the signing key
	// or not retired).
	Until time.Time `json:"until,omitzero"`
}

type issuerKey struct {
	storedKey
	signer eidcred.Signer
	pub    *ecdsa.PublicKey
}

// loadKeys reads the issuer keys, creating the first one on a new data
// directory. The last key is the signing key.
func loadKeys(dir string, now time.Time) ([]issuerKey, error) {
	path := filepath.Join(dir, IssuerFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		k, err := newKey(now)
		if err != nil {
			return nil, err
		}
		keys := []issuerKey{k}
		return keys, saveKeys(dir, keys)
	}
	if err != nil {
		return nil, fmt.Errorf("binding: issuer keys: %w", err)
	}
	var stored []storedKey
	if err := json.Unmarshal(b, &stored); err != nil {
		return nil, fmt.Errorf("binding: issuer keys %s: %w", path, err)
	}
	var keys []issuerKey
	for i, s := range stored {
		k, err := x509.ParsePKCS8PrivateKey(s.PKCS8)
		if err != nil {
			return nil, fmt.Errorf("binding: issuer key %d in %s: %w", i, path, err)
		}
		ec, ok := k.(*ecdsa.PrivateKey)
		if !ok || ec.Curve != elliptic.P256() {
			return nil, fmt.Errorf("binding: issuer key %d in %s is not P-256", i, path)
		}
		sg, err := eidcred.NewSigner(ec)
		if err != nil {
			return nil, err
		}
		keys = append(keys, issuerKey{storedKey: s, signer: sg, pub: &ec.PublicKey})
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("binding: %s holds no key", path)
	}
	return keys, nil
}

func newKey(now time.Time) (issuerKey, error) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return issuerKey{}, fmt.Errorf("binding: issuer key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		return issuerKey{}, fmt.Errorf("binding: issuer key: %w", err)
	}
	sg, err := eidcred.NewSigner(ec)
	if err != nil {
		return issuerKey{}, err
	}
	return issuerKey{storedKey: storedKey{PKCS8: der, Created: now.UTC()}, signer: sg, pub: &ec.PublicKey}, nil
}

func saveKeys(dir string, keys []issuerKey) error {
	stored := make([]storedKey, len(keys))
	for i, k := range keys {
		stored[i] = k.storedKey
	}
	b, err := json.MarshalIndent(stored, "", "  ")
	if err != nil {
		return fmt.Errorf("binding: issuer keys: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("binding: issuer keys: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(dir, IssuerFile), b, 0o600); err != nil {
		return fmt.Errorf("binding: issuer keys: %w", err)
	}
	return nil
}
