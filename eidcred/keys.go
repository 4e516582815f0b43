package eidcred

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// KeyID is the key ID of a P-256 public key: the first 8 bytes of the
// SHA-256 of its PKIX (SubjectPublicKeyInfo) encoding, as the EU DCC does.
func KeyID(pub *ecdsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("eidcred: key ID: %w", err)
	}
	sum := sha256.Sum256(der)
	return sum[:8], nil
}

// IssuerKey is one published issuer public key. Credentials it signed are
// accepted until Until (the last credential's expiry after the key was
// retired); zero: no end.
type IssuerKey struct {
	KID    []byte
	Public *ecdsa.PublicKey
	Until  time.Time
}

// KeySet is the issuer keys a verifier trusts.
type KeySet []IssuerKey

// Find returns the key with this ID.
func (s KeySet) Find(kid []byte) (IssuerKey, bool) {
	for _, k := range s {
		if string(k.KID) == string(kid) {
			return k, true
		}
	}
	return IssuerKey{}, false
}

// keyJSON is one key of the published JSON key set.
type keyJSON struct {
	KID    string `json:"kid"`             // base64url, no padding
	Public string `json:"public_key"`      // PKIX DER, base64
	Until  string `json:"until,omitempty"` // RFC 3339
}

// KeySetJSON is the published form of a key set: the authority's
// GET /v1/eid/keys and the kiosk's issuer key file.
type KeySetJSON struct {
	Keys []keyJSON `json:"keys"`
}

// MarshalJSON writes the published form.
func (s KeySet) MarshalJSON() ([]byte, error) {
	out := KeySetJSON{Keys: []keyJSON{}}
	for _, k := range s {
		der, err := x509.MarshalPKIXPublicKey(k.Public)
		if err != nil {
			return nil, fmt.Errorf("eidcred: key set: %w", err)
		}
		j := keyJSON{KID: base64.RawURLEncoding.EncodeToString(k.KID), Public: base64.StdEncoding.EncodeToString(der)}
		if !k.Until.IsZero() {
			j.Until = k.Until.UTC().Format(time.RFC3339)
		}
		out.Keys = append(out.Keys, j)
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads the published form, checking that each key ID is its
// key's.
func (s *KeySet) UnmarshalJSON(b []byte) error {
	var in KeySetJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return fmt.Errorf("eidcred: key set: %w", err)
	}
	var out KeySet
	for i, j := range in.Keys {
		der, err := base64.StdEncoding.DecodeString(j.Public)
		if err != nil {
			return fmt.Errorf("eidcred: key set: key %d: %w", i, err)
		}
		pub, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			return fmt.Errorf("eidcred: key set: key %d: %w", i, err)
		}
		ec, ok := pub.(*ecdsa.PublicKey)
		if !ok || ec.Curve != elliptic.P256() {
			return fmt.Errorf("eidcred: key set: key %d is not P-256", i)
		}
		kid, err := KeyID(ec)
		if err != nil {
			return err
		}
		if base64.RawURLEncoding.EncodeToString(kid) != j.KID {
			return fmt.Errorf("eidcred: key set: key %d: key ID %q is not its key's", i, j.KID)
		}
		k := IssuerKey{KID: kid, Public: ec}
		if j.Until != "" {
			if k.Until, err = time.Parse(time.RFC3339, j.Until); err != nil {
				return fmt.Errorf("eidcred: key set: key %d: %w", i, err)
			}
		}
		out = append(out, k)
	}
	if len(out) == 0 {
		return errors.New("eidcred: key set: no keys")
	}
	*s = out
	return nil
}

// compressedKey is the SEC 1 compressed form of a P-256 public key (33
// bytes), as the credential carries the holder's.
func compressedKey(pub *ecdsa.PublicKey) ([]byte, error) {
	if pub == nil || pub.Curve != elliptic.P256() {
		return nil, errors.New("eidcred: holder key is not P-256")
	}
	b, err := pub.Bytes() // uncompressed, validated
	if err != nil {
		return nil, fmt.Errorf("eidcred: holder key: %w", err)
	}
	out := make([]byte, 33)
	out[0] = 2 | b[64]&1
	copy(out[1:], b[1:33])
	return out, nil
}

// ParseHolderKey reads a P-256 public key in SEC 1 form, compressed (33
// bytes) or uncompressed (65 bytes).
func ParseHolderKey(b []byte) (*ecdsa.PublicKey, error) {
	if len(b) == 33 {
		x, y := elliptic.UnmarshalCompressed(elliptic.P256(), b) //nolint:staticcheck // the only stdlib decompression
		if x == nil {
			return nil, errors.New("eidcred: holder key is not a P-256 point")
		}
		b = elliptic.Marshal(elliptic.P256(), x, y) //nolint:staticcheck
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), b)
	if err != nil {
		return nil, fmt.Errorf("eidcred: holder key: %w", err)
	}
	return pub, nil
}
