package enroll

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hpke"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/fxamacker/cbor/v2"
)

// FormatVersion is the version of the package layout (Package and Header).
const FormatVersion = 1

// Suite identifiers (RFC 9180 §7 and draft-ietf-hpke-pq).
var (
	suiteKEM  = hpke.MLKEM768X25519()
	suiteKDF  = hpke.HKDFSHA256()
	suiteAEAD = hpke.AES256GCM()
)

// hpkeInfo is the HPKE info string; sigDomain prefixes what the device signs.
const (
	hpkeInfo  = "eidkiosk enrollment package v1"
	sigDomain = "eidkiosk package signature v1\x00"
)

// MaxPackageSize bounds what Parse accepts.
const MaxPackageSize = 4 << 20

// Package is the outer CBOR map of a sealed package.
type Package struct {
	Header []byte `cbor:"1,keyasint"` // deterministic CBOR of Header, the HPKE associated data
	Enc    []byte `cbor:"2,keyasint"` // HPKE encapsulated key
	Body   []byte `cbor:"3,keyasint"` // HPKE ciphertext of the CBOR Record
	Digest []byte `cbor:"4,keyasint"` // SHA-256(Enc || Body)
	Cert   []byte `cbor:"5,keyasint"` // device certificate, DER
	Sig    []byte `cbor:"6,keyasint"` // ECDSA P-256 ASN.1 over SHA-256(sigDomain || len(Header) || Header || Digest)
}

// Header is the clear part of a package: IDs, times, sizes, versions. It
// carries nothing personal.
type Header struct {
	Format       int    `cbor:"1,keyasint"`
	Schema       int    `cbor:"2,keyasint"`
	EnrollmentID string `cbor:"3,keyasint"`
	DeviceID     string `cbor:"4,keyasint"`
	StationID    string `cbor:"5,keyasint"`
	Created      int64  `cbor:"6,keyasint"` // Unix ms
	KEM          uint16 `cbor:"7,keyasint"`
	KDF          uint16 `cbor:"8,keyasint"`
	AEAD         uint16 `cbor:"9,keyasint"`
	KeyID        []byte `cbor:"10,keyasint"` // first 8 bytes of SHA-256 of the intake public key
	CertHash     []byte `cbor:"11,keyasint"` // SHA-256 of Package.Cert
	PlainSize    int    `cbor:"12,keyasint"` // length of the CBOR record
	BodySize     int    `cbor:"13,keyasint"` // length of Package.Body
}

// Errors of Parse, Verify and Open; the authority maps them to its refusal
// codes.
var (
	ErrMalformed     = errors.New("enroll: malformed package")
	ErrTampered      = errors.New("enroll: package contents do not match its header or digest")
	ErrBadSignature  = errors.New("enroll: device signature does not verify")
	ErrWrongKey      = errors.New("enroll: package sealed to another intake key")
	ErrUndecryptable = errors.New("enroll: package cannot be opened")
	ErrSchema        = errors.New("enroll: record does not follow the schema")
	// ErrNotCanonical wraps ErrMalformed: the package decodes, but is not
	// the one encoding the format allows (deterministic CBOR, a low-S DER
	// signature), e.g. a re-encoded copy of a genuine package.
	ErrNotCanonical = fmt.Errorf("%w: not in canonical form", ErrMalformed)
)

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	if encMode, err = cbor.CoreDetEncOptions().EncMode(); err != nil {
		panic(err)
	}
	decMode, err = cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		MaxArrayElements:  4096,
		MaxMapPairs:       4096,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

// Marshal encodes v as deterministic CBOR.
func Marshal(v any) ([]byte, error) { return encMode.Marshal(v) }

// Unmarshal decodes strict CBOR (no duplicate keys, no unknown fields).
func Unmarshal(b []byte, v any) error { return decMode.Unmarshal(b, v) }

// KeyID identifies an intake public key in a header.
func KeyID(intakePub []byte) []byte {
	h := sha256.Sum256(intakePub)
	return h[:8]
}

// Sealer seals records for one device to one intake key.
type Sealer struct {
	signer    crypto.Signer
	cert      []byte
	certHash  []byte
	intake    hpke.PublicKey
	keyID     []byte
	deviceID  string
	stationID string
	rand      io.Reader
}

// DeviceID and StationID are the terminal a Sealer seals for; a record must
// carry the same (Seal checks).
func (s *Sealer) DeviceID() string  { return s.deviceID }
func (s *Sealer) StationID() string { return s.stationID }

// NewSealer checks the device key against its certificate and parses the
// authority's intake public key (MLKEM768-X25519, 1216 bytes).
func NewSealer(signer crypto.Signer, cert *x509.Certificate, intakePub []byte, deviceID, stationID string, rnd io.Reader) (*Sealer, error) {
	if signer == nil || cert == nil {
		return nil, errors.New("enroll: device key and certificate are required")
	}
	pub, ok := signer.Public().(*ecdsa.PublicKey)
	if !ok {
		return nil, errors.New("enroll: device key is not ECDSA")
	}
	cpub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(cpub) {
		return nil, errors.New("enroll: device key does not match its certificate")
	}
	pk, err := suiteKEM.NewPublicKey(intakePub)
	if err != nil {
		return nil, fmt.Errorf("enroll: intake public key: %w", err)
	}
	if deviceID == "" || stationID == "" {
		return nil, errors.New("enroll: device and station IDs are required")
	}
	h := sha256.Sum256(cert.Raw)
	return &Sealer{signer: signer, cert: cert.Raw, certHash: h[:], intake: pk, keyID: KeyID(intakePub),
		deviceID: deviceID, stationID: stationID, rand: rnd}, nil
}

// Seal encodes, encrypts and signs r. created is the header's time (Unix
// ms). The plaintext encoding is wiped before Seal returns.
func (s *Sealer) Seal(r *Record, created int64) ([]byte, error) {
	if r.DeviceID != s.deviceID || r.StationID != s.stationID {
		return nil, errors.New("enroll: record is for another device or station")
	}
	plain, err := encMode.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("enroll: encode record: %w", err)
	}
	defer clear(plain)
	h := Header{
		Format: FormatVersion, Schema: r.Version, EnrollmentID: r.EnrollmentID,
		DeviceID: s.deviceID, StationID: s.stationID, Created: created,
		KEM: suiteKEM.ID(), KDF: suiteKDF.ID(), AEAD: suiteAEAD.ID(),
		KeyID: s.keyID, CertHash: s.certHash, PlainSize: len(plain), BodySize: len(plain) + 16,
	}
	hb, err := encMode.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("enroll: encode header: %w", err)
	}
	enc, snd, err := hpke.NewSender(s.intake, suiteKDF, suiteAEAD, []byte(hpkeInfo))
	if err != nil {
		return nil, fmt.Errorf("enroll: hpke: %w", err)
	}
	body, err := snd.Seal(hb, plain)
	if err != nil {
		return nil, fmt.Errorf("enroll: hpke seal: %w", err)
	}
	p := Package{Header: hb, Enc: enc, Body: body, Digest: digest(enc, body), Cert: s.cert}
	sig, err := s.signer.Sign(s.rand, signedHash(hb, p.Digest), crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("enroll: sign: %w", err)
	}
	if p.Sig, err = LowS(sig); err != nil {
		return nil, fmt.Errorf("enroll: sign: %w", err)
	}
	out, err := encMode.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("enroll: encode package: %w", err)
	}
	return out, nil
}

func digest(enc, body []byte) []byte {
	h := sha256.New()
	h.Write(enc)
	h.Write(body)
	return h.Sum(nil)
}

func signedHash(header, dig []byte) []byte {
	h := sha256.New()
	h.Write([]byte(sigDomain))
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(header)))
	h.Write(n[:])
	h.Write(header)
	h.Write(dig)
	return h.Sum(nil)
}

// p256HalfOrder is (n−1)/2 of P-256: a low-S signature has s ≤ it.
var p256HalfOrder = new(big.Int).Rsh(elliptic.P256().Params().N, 1)

type ecdsaSig struct{ R, S *big.Int }

// LowS returns sig, an ASN.1 ECDSA P-256 signature, in its one canonical
// form: DER with s ≤ n/2 (s replaced by n−s when above). Both forms verify;
// the format accepts only this one, so that a package has one encoding.
func LowS(sig []byte) ([]byte, error) {
	var v ecdsaSig
	rest, err := asn1.Unmarshal(sig, &v)
	if err != nil || len(rest) != 0 || v.R == nil || v.S == nil || v.R.Sign() <= 0 || v.S.Sign() <= 0 {
		return nil, errors.New("enroll: not an ASN.1 ECDSA signature")
	}
	if v.S.Cmp(p256HalfOrder) > 0 {
		v.S.Sub(elliptic.P256().Params().N, v.S)
	}
	return asn1.Marshal(v)
}

// Sealed is a parsed package whose integrity has not yet been checked.
type Sealed struct {
	Package
	Header Header
	// Hash is SHA-256 of the whole package as received: its identity for
	// idempotent intake and the hash its receipt names. Parse accepts only
	// the canonical encoding, so the signed content has one Hash.
	Hash []byte
}

// Parse decodes a package and its header. It checks structure only; call
// Check, then Verify, then Open. It refuses (ErrNotCanonical) any encoding
// but the one Seal produces: the package and its header must re-encode to
// the same bytes as core deterministic CBOR, and the signature must be DER
// with a low S (see LowS), so that no one without the device key can make
// a second valid package of the same content.
func Parse(b []byte) (*Sealed, error) {
	if len(b) > MaxPackageSize {
		return nil, fmt.Errorf("%w: %d bytes is above the %d limit", ErrMalformed, len(b), MaxPackageSize)
	}
	s := &Sealed{}
	if err := decMode.Unmarshal(b, &s.Package); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := decMode.Unmarshal(s.Package.Header, &s.Header); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	if len(s.Package.Enc) == 0 || len(s.Body) == 0 || len(s.Cert) == 0 || len(s.Sig) == 0 || len(s.Digest) != sha256.Size {
		return nil, fmt.Errorf("%w: missing field", ErrMalformed)
	}
	if s.Header.Format != FormatVersion {
		return nil, fmt.Errorf("%w: format version %d is not supported", ErrMalformed, s.Header.Format)
	}
	if re, err := encMode.Marshal(&s.Package); err != nil || !bytes.Equal(re, b) {
		return nil, fmt.Errorf("%w: the package is not deterministic CBOR", ErrNotCanonical)
	}
	if re, err := encMode.Marshal(&s.Header); err != nil || !bytes.Equal(re, s.Package.Header) {
		return nil, fmt.Errorf("%w: the header is not deterministic CBOR", ErrNotCanonical)
	}
	if low, err := LowS(s.Sig); err != nil || !bytes.Equal(low, s.Sig) {
		return nil, fmt.Errorf("%w: the signature is not DER with a low S", ErrNotCanonical)
	}
	h := sha256.Sum256(b)
	s.Hash = h[:]
	return s, nil
}

// Check compares the package with its own header and digest: certificate
// hash, ciphertext digest and sizes. A flipped bit in the ciphertext, the
// encapsulated key or the certificate is found here.
func (s *Sealed) Check() error {
	ch := sha256.Sum256(s.Cert)
	switch {
	case !bytes.Equal(ch[:], s.Header.CertHash):
		return fmt.Errorf("%w: certificate", ErrTampered)
	case !bytes.Equal(digest(s.Package.Enc, s.Body), s.Digest):
		return fmt.Errorf("%w: ciphertext digest", ErrTampered)
	case len(s.Body) != s.Header.BodySize:
		return fmt.Errorf("%w: body size", ErrTampered)
	case s.Header.KEM != suiteKEM.ID() || s.Header.KDF != suiteKDF.ID() || s.Header.AEAD != suiteAEAD.ID():
		return fmt.Errorf("%w: unsupported HPKE suite %#04x/%#04x/%#04x", ErrMalformed, s.Header.KEM, s.Header.KDF, s.Header.AEAD)
	}
	return nil
}

// Certificate parses the device certificate carried in the package.
func (s *Sealed) Certificate() (*x509.Certificate, error) {
	c, err := x509.ParseCertificate(s.Cert)
	if err != nil {
		return nil, fmt.Errorf("%w: certificate: %v", ErrMalformed, err)
	}
	return c, nil
}

// Verify checks the device signature over the header and digest with cert's
// public key.
func (s *Sealed) Verify(cert *x509.Certificate) error {
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return fmt.Errorf("%w: certificate key is not ECDSA", ErrBadSignature)
	}
	if !ecdsa.VerifyASN1(pub, signedHash(s.Package.Header, s.Digest), s.Sig) {
		return ErrBadSignature
	}
	return nil
}

// Open decrypts the record with the intake private key and checks that it
// matches the header. The caller wipes the record when done.
func (s *Sealed) Open(priv hpke.PrivateKey) (*Record, error) {
	if !bytes.Equal(KeyID(priv.PublicKey().Bytes()), s.Header.KeyID) {
		return nil, ErrWrongKey
	}
	rcp, err := hpke.NewRecipient(s.Package.Enc, priv, suiteKDF, suiteAEAD, []byte(hpkeInfo))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUndecryptable, err)
	}
	plain, err := rcp.Open(s.Package.Header, s.Body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUndecryptable, err)
	}
	defer clear(plain)
	if len(plain) != s.Header.PlainSize {
		return nil, fmt.Errorf("%w: plaintext size", ErrTampered)
	}
	r := &Record{}
	if err := decMode.Unmarshal(plain, r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSchema, err)
	}
	if r.EnrollmentID != s.Header.EnrollmentID || r.DeviceID != s.Header.DeviceID ||
		r.StationID != s.Header.StationID || r.Version != s.Header.Schema {
		r.Wipe()
		return nil, fmt.Errorf("%w: record does not match its header", ErrTampered)
	}
	return r, nil
}

// NewIntakeKey generates an intake key pair of the package's KEM; the
// authority keeps the private key, terminals get the public key.
func NewIntakeKey() (hpke.PrivateKey, error) { return suiteKEM.GenerateKey() }

// ParseIntakePrivateKey restores a key saved with PrivateKey.Bytes.
func ParseIntakePrivateKey(b []byte) (hpke.PrivateKey, error) { return suiteKEM.NewPrivateKey(b) }
