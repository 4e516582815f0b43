package devkey

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"sync"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/linuxtpm"

	"eidkiosk/internal/atomicfile"
)

// TPMDevices are the Linux TPM 2.0 character devices tried, in order: the
// kernel's resource manager first.
var TPMDevices = []string{"/dev/tpmrm0", "/dev/tpm0"}

// ErrNoTPM is wrapped when the box has no usable TPM.
var ErrNoTPM = errors.New("devkey: no TPM 2.0")

// OpenDefaultTPM opens the first TPM device of TPMDevices.
func OpenDefaultTPM() (transport.TPMCloser, error) {
	var errs []error
	for _, p := range TPMDevices {
		t, err := linuxtpm.Open(p)
		if err == nil {
			return t, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("%w: %v", ErrNoTPM, errors.Join(errs...))
}

// tpmKeyTemplate is an unrestricted ECDSA P-256 signing key that cannot leave
// the TPM (fixedTPM, fixedParent, generated inside: sensitiveDataOrigin). Its
// scheme is left null so a signature may use SHA-256, -384 or -512.
var tpmKeyTemplate = tpm2.TPMTPublic{
	Type:    tpm2.TPMAlgECC,
	NameAlg: tpm2.TPMAlgSHA256,
	ObjectAttributes: tpm2.TPMAObject{
		FixedTPM:            true,
		FixedParent:         true,
		SensitiveDataOrigin: true,
		UserWithAuth:        true,
		NoDA:                true,
		SignEncrypt:         true,
	},
	Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
		Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
		Scheme:    tpm2.TPMTECCScheme{Scheme: tpm2.TPMAlgNull},
		CurveID:   tpm2.TPMECCNistP256,
		KDF:       tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull},
	}),
}

const (
	pemPublic  = "TPM2B PUBLIC"
	pemPrivate = "TPM2B PRIVATE"
)

type tpmKey struct {
	mu     sync.Mutex
	tpm    transport.TPMCloser
	handle tpm2.NamedHandle
	pub    *ecdsa.PublicKey
	area   []byte // TPM2B_PUBLIC
	closed bool
}

// TPMKey is a Key living in a TPM; TPMPublic gives the key's public area,
// which the authority records at provisioning.
type TPMKey interface {
	Key
	TPMPublic() []byte
}

// srk creates the owner hierarchy's ECC storage root key from the TCG
// reference template: the same template yields the same key on the same TPM.
func srk(t transport.TPM) (tpm2.NamedHandle, error) {
	rsp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.TPMRHOwner,
		InPublic:      tpm2.New2B(tpm2.ECCSRKTemplate),
	}.Execute(t)
	if err != nil {
		return tpm2.NamedHandle{}, fmt.Errorf("devkey: TPM storage root key: %w", err)
	}
	return tpm2.NamedHandle{Handle: rsp.ObjectHandle, Name: rsp.Name}, nil
}

func flush(t transport.TPM, h tpm2.TPMHandle) {
	_, _ = tpm2.FlushContext{FlushHandle: h}.Execute(t)
}

// CreateTPM generates a signing key inside the TPM under its storage root
// key and writes the key's public and (TPM-encrypted) private blobs to path
// (0600). The blobs are useless without this TPM. The Key takes ownership of
// t and closes it on Close.
func CreateTPM(t transport.TPMCloser, path string) (TPMKey, error) {
	parent, err := srk(t)
	if err != nil {
		return nil, err
	}
	defer flush(t, parent.Handle)
	rsp, err := tpm2.Create{
		ParentHandle: parent,
		InPublic:     tpm2.New2B(tpmKeyTemplate),
	}.Execute(t)
	if err != nil {
		return nil, fmt.Errorf("devkey: TPM create key: %w", err)
	}
	pubBytes := tpm2.Marshal(rsp.OutPublic)
	privBytes := tpm2.Marshal(rsp.OutPrivate)
	file := append(pem.EncodeToMemory(&pem.Block{Type: pemPublic, Bytes: pubBytes}),
		pem.EncodeToMemory(&pem.Block{Type: pemPrivate, Bytes: privBytes})...)
	if err := atomicfile.Write(path, file, 0o600); err != nil {
		return nil, fmt.Errorf("devkey: %w", err)
	}
	return load(t, parent, rsp.OutPublic, rsp.OutPrivate)
}

// OpenTPM loads the key whose blobs CreateTPM wrote to path into the TPM.
// The Key takes ownership of t.
func OpenTPM(t transport.TPMCloser, path string) (TPMKey, error) {
	if err := CheckPermissions(path); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("devkey: %w", err)
	}
	var pubBytes, privBytes []byte
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		switch blk.Type {
		case pemPublic:
			pubBytes = blk.Bytes
		case pemPrivate:
			privBytes = blk.Bytes
		}
	}
	if pubBytes == nil || privBytes == nil {
		return nil, fmt.Errorf("devkey: %s lacks the TPM key blobs (corrupt: deprovision with --force and provision again)", path)
	}
	pub, err := tpm2.Unmarshal[tpm2.TPM2BPublic](pubBytes)
	if err != nil {
		return nil, fmt.Errorf("devkey: %s: public blob: %w", path, err)
	}
	priv, err := tpm2.Unmarshal[tpm2.TPM2BPrivate](privBytes)
	if err != nil {
		return nil, fmt.Errorf("devkey: %s: private blob: %w", path, err)
	}
	parent, err := srk(t)
	if err != nil {
		return nil, err
	}
	defer flush(t, parent.Handle)
	return load(t, parent, *pub, *priv)
}

func load(t transport.TPMCloser, parent tpm2.NamedHandle, pub tpm2.TPM2BPublic, priv tpm2.TPM2BPrivate) (TPMKey, error) {
	area, err := pub.Contents()
	if err != nil {
		return nil, fmt.Errorf("devkey: TPM public area: %w", err)
	}
	if area.Type != tpm2.TPMAlgECC {
		return nil, fmt.Errorf("devkey: the TPM key is not an ECC key")
	}
	cpub, err := tpm2.Pub(*area)
	if err != nil {
		return nil, fmt.Errorf("devkey: TPM public key: %w", err)
	}
	ek, ok := cpub.(*ecdsa.PublicKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, fmt.Errorf("devkey: the TPM key is not ECDSA P-256")
	}
	rsp, err := tpm2.Load{ParentHandle: parent, InPrivate: priv, InPublic: pub}.Execute(t)
	if err != nil {
		return nil, fmt.Errorf("devkey: TPM load key (was the TPM cleared? then provision again): %w", err)
	}
	return &tpmKey{
		tpm:    t,
		handle: tpm2.NamedHandle{Handle: rsp.ObjectHandle, Name: rsp.Name},
		pub:    ek,
		area:   tpm2.Marshal(pub),
	}, nil
}

func (k *tpmKey) Kind() string             { return KindTPM }
func (k *tpmKey) Public() crypto.PublicKey { return k.pub }
func (k *tpmKey) TPMPublic() []byte        { return append([]byte(nil), k.area...) }

// Sign signs digest inside the TPM with ECDSA and returns an ASN.1 DER
// signature, as crypto/ecdsa does. rand is unused: the TPM draws its own nonce.
func (k *tpmKey) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	var alg tpm2.TPMAlgID
	switch opts.HashFunc() {
	case crypto.SHA256:
		alg = tpm2.TPMAlgSHA256
	case crypto.SHA384:
		alg = tpm2.TPMAlgSHA384
	case crypto.SHA512:
		alg = tpm2.TPMAlgSHA512
	default:
		return nil, fmt.Errorf("devkey: TPM key cannot sign with hash %v (use SHA-256)", opts.HashFunc())
	}
	if len(digest) != opts.HashFunc().Size() {
		return nil, fmt.Errorf("devkey: digest is %d bytes, want %d", len(digest), opts.HashFunc().Size())
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil, fmt.Errorf("devkey: TPM key used after Close")
	}
	rsp, err := tpm2.Sign{
		KeyHandle: k.handle,
		Digest:    tpm2.TPM2BDigest{Buffer: digest},
		InScheme: tpm2.TPMTSigScheme{
			Scheme:  tpm2.TPMAlgECDSA,
			Details: tpm2.NewTPMUSigScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSchemeHash{HashAlg: alg}),
		},
		Validation: tpm2.TPMTTKHashCheck{Tag: tpm2.TPMSTHashCheck, Hierarchy: tpm2.TPMRHNull},
	}.Execute(k.tpm)
	if err != nil {
		return nil, fmt.Errorf("devkey: TPM sign: %w", err)
	}
	sig, err := rsp.Signature.Signature.ECDSA()
	if err != nil {
		return nil, fmt.Errorf("devkey: TPM signature: %w", err)
	}
	return asn1.Marshal(struct{ R, S *big.Int }{
		new(big.Int).SetBytes(sig.SignatureR.Buffer),
		new(big.Int).SetBytes(sig.SignatureS.Buffer),
	})
}

// Close unloads the key and closes the TPM connection.
func (k *tpmKey) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil
	}
	k.closed = true
	flush(k.tpm, k.handle.Handle)
	return k.tpm.Close()
}

// EKHash returns the hex SHA-256 of the public area of the TPM's
// endorsement key (the TCG reference ECC P-256 template): the same on every
// call on one TPM, different on every TPM, so it tells apart boxes imaged
// from one disk. The key is created, read and flushed; nothing is stored.
func EKHash(t transport.TPM) (string, error) {
	rsp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.TPMRHEndorsement,
		InPublic:      tpm2.New2B(tpm2.ECCEKTemplate),
	}.Execute(t)
	if err != nil {
		return "", fmt.Errorf("devkey: TPM endorsement key: %w", err)
	}
	defer flush(t, rsp.ObjectHandle)
	sum := sha256.Sum256(rsp.OutPublic.Bytes())
	return hex.EncodeToString(sum[:]), nil
}
