package eidcred

import (
	"bytes"
	"compress/zlib"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
)

// External data of each kind of signature (RFC 9052 §4.3): a signature
// made for one purpose never verifies for another.
var (
	aadCredential   = []byte("eidkiosk e-ID credential v1")
	aadPresentation = []byte("eidkiosk e-ID presentation v1")
	aadRevocation   = []byte("eidkiosk e-ID revocation list v1")
	aadRequest      = []byte("eidkiosk e-ID credential request v1")
)

// Prefix starts every presentation QR payload; its characters are Base45's
// own, so the whole payload fits QR alphanumeric mode.
const Prefix = "EID1:"

// Credential is what the issuer signs. It holds nothing that identifies the
// citizen outside the e-ID system: an opaque e-ID number (never the ID card
// number) and a masked name.
type Credential struct {
	EID       string `cbor:"1,keyasint"` // opaque e-ID number, stable across refreshes
	ID        []byte `cbor:"2,keyasint"` // this credential's ID, random
	Name      string `cbor:"3,keyasint"` // masked name, e.g. "张*"
	Holder    []byte `cbor:"4,keyasint"` // the phone's P-256 public key, SEC 1 compressed
	NotBefore int64  `cbor:"5,keyasint"` // Unix seconds
	NotAfter  int64  `cbor:"6,keyasint"` // Unix seconds
}

var encMode = func() cbor.EncMode {
	m, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	return m
}()

var decMode = func() cbor.DecMode {
	m, err := cbor.DecOptions{DupMapKey: cbor.DupMapKeyEnforcedAPF, MaxArrayElements: 1 << 20}.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}()

// Signer is an ES256 key with its key ID: the issuer's, or the phone's.
type Signer struct {
	KID []byte
	Key crypto.Signer // a P-256 *ecdsa.PrivateKey, or a key in a secure element
}

// NewSigner wraps a P-256 key, its key ID computed with KeyID.
func NewSigner(key *ecdsa.PrivateKey) (Signer, error) {
	kid, err := KeyID(&key.PublicKey)
	if err != nil {
		return Signer{}, err
	}
	return Signer{KID: kid, Key: key}, nil
}

func (s Signer) sign1(payload, aad []byte, withKID bool) ([]byte, error) {
	cs, err := cose.NewSigner(cose.AlgorithmES256, s.Key)
	if err != nil {
		return nil, fmt.Errorf("eidcred: signer: %w", err)
	}
	h := cose.Headers{Protected: cose.ProtectedHeader{}}
	h.Protected.SetAlgorithm(cose.AlgorithmES256)
	if withKID {
		h.Protected[cose.HeaderLabelKeyID] = s.KID
	}
	b, err := cose.Sign1(rand.Reader, cs, h, payload, aad)
	if err != nil {
		return nil, fmt.Errorf("eidcred: sign: %w", err)
	}
	return b, nil
}

// Issue signs a credential: a tagged COSE_Sign1 with the issuer's key ID.
func Issue(issuer Signer, c Credential) ([]byte, error) {
	if c.EID == "" || len(c.ID) == 0 || len(c.Holder) != 33 || c.NotAfter <= c.NotBefore {
		return nil, errors.New("eidcred: issue: incomplete credential")
	}
	payload, err := encMode.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("eidcred: issue: %w", err)
	}
	return issuer.sign1(payload, aadCredential, true)
}

// NewCredential fills a credential for a holder key, valid from notBefore
// for validity, with a fresh random ID.
func NewCredential(eid, maskedName string, holder *ecdsa.PublicKey, notBefore time.Time, validity time.Duration) (Credential, error) {
	hk, err := compressedKey(holder)
	if err != nil {
		return Credential{}, err
	}
	id := make([]byte, 8)
	if _, err := io.ReadFull(rand.Reader, id); err != nil {
		return Credential{}, fmt.Errorf("eidcred: credential ID: %w", err)
	}
	return Credential{EID: eid, ID: id, Name: maskedName, Holder: hk,
		NotBefore: notBefore.Unix(), NotAfter: notBefore.Add(validity).Unix()}, nil
}

// ParseUnverified reads a credential without checking its signature: for
// the wallet, which shows its own credential's expiry, and for tests.
// Never decide anything on it.
func ParseUnverified(credential []byte) (Credential, []byte, error) {
	var m cose.Sign1Message
	if err := m.UnmarshalCBOR(credential); err != nil {
		return Credential{}, nil, fmt.Errorf("%w: credential: %v", ErrMalformed, err)
	}
	var c Credential
	if err := decMode.Unmarshal(m.Payload, &c); err != nil {
		return Credential{}, nil, fmt.Errorf("%w: credential payload: %v", ErrMalformed, err)
	}
	kid, _ := m.Headers.Protected[cose.HeaderLabelKeyID].([]byte)
	return c, kid, nil
}

// ErrMalformed: bytes that are not what they claim to be.
var ErrMalformed = errors.New("eidcred: malformed")

// presentation is the phone's signed payload.
type presentation struct {
	Credential []byte `cbor:"1,keyasint"` // the issuer's COSE_Sign1, as issued
	At         int64  `cbor:"2,keyasint"` // when the phone made it, Unix seconds
}

// Present makes the QR payload the phone shows at time at: its own
// COSE_Sign1 (no key ID: the key is the credential's) over the credential
// and the time, zlib-compressed, Base45-encoded, behind Prefix.
func Present(credential []byte, holder crypto.Signer, at time.Time) (string, error) {
	payload, err := encMode.Marshal(presentation{Credential: credential, At: at.Unix()})
	if err != nil {
		return "", fmt.Errorf("eidcred: present: %w", err)
	}
	signed, err := Signer{Key: holder}.sign1(payload, aadPresentation, false)
	if err != nil {
		return "", err
	}
	var z bytes.Buffer
	w, err := zlib.NewWriterLevel(&z, zlib.BestCompression)
	if err != nil {
		return "", fmt.Errorf("eidcred: present: %w", err)
	}
	w.Write(signed)
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("eidcred: present: %w", err)
	}
	return Prefix + base45Encode(z.Bytes()), nil
}

// maxPresentation bounds the decompressed size: a QR code holds at most
// 2953 bytes, and zlib could inflate a small input enormously.
const maxPresentation = 16 << 10

// unwrap undoes Present's encoding: prefix, Base45, zlib.
func unwrap(qr string) ([]byte, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(qr), Prefix)
	if !ok {
		return nil, fmt.Errorf("%w: no %q prefix", ErrMalformed, Prefix)
	}
	z, err := base45Decode(rest)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	r, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, fmt.Errorf("%w: zlib: %v", ErrMalformed, err)
	}
	b, err := io.ReadAll(io.LimitReader(r, maxPresentation+1))
	if err != nil {
		return nil, fmt.Errorf("%w: zlib: %v", ErrMalformed, err)
	}
	if len(b) > maxPresentation {
		return nil, fmt.Errorf("%w: too large", ErrMalformed)
	}
	return b, nil
}

// RefreshRequest is the phone's proof of possession when it asks the
// authority for a credential: a COSE_Sign1 by its key over the binding ID
// and the time.
type RefreshRequest struct {
	BindingID string `cbor:"1,keyasint"`
	At        int64  `cbor:"2,keyasint"`
}

// SignRequest signs a credential request with the phone's key.
func SignRequest(holder crypto.Signer, bindingID string, at time.Time) ([]byte, error) {
	payload, err := encMode.Marshal(RefreshRequest{BindingID: bindingID, At: at.Unix()})
	if err != nil {
		return nil, fmt.Errorf("eidcred: request: %w", err)
	}
	return Signer{Key: holder}.sign1(payload, aadRequest, false)
}

// VerifyRequest checks a credential request against the bound phone key
// and returns what it says.
func VerifyRequest(b []byte, holder *ecdsa.PublicKey) (RefreshRequest, error) {
	var m cose.Sign1Message
	if err := m.UnmarshalCBOR(b); err != nil {
		return RefreshRequest{}, fmt.Errorf("%w: request: %v", ErrMalformed, err)
	}
	if err := verify1(&m, holder, aadRequest); err != nil {
		return RefreshRequest{}, err
	}
	var r RefreshRequest
	if err := decMode.Unmarshal(m.Payload, &r); err != nil {
		return RefreshRequest{}, fmt.Errorf("%w: request payload: %v", ErrMalformed, err)
	}
	return r, nil
}

// errSignature: a signature that does not verify.
var errSignature = errors.New("eidcred: signature does not verify")

func verify1(m *cose.Sign1Message, pub *ecdsa.PublicKey, aad []byte) error {
	alg, err := m.Headers.Protected.Algorithm()
	if err != nil || alg != cose.AlgorithmES256 {
		return fmt.Errorf("%w: algorithm is not ES256", ErrMalformed)
	}
	v, err := cose.NewVerifier(cose.AlgorithmES256, pub)
	if err != nil {
		return fmt.Errorf("eidcred: verifier: %w", err)
	}
	if err := m.Verify(aad, v); err != nil {
		return fmt.Errorf("%w: %v", errSignature, err)
	}
	return nil
}
