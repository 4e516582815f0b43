package enroll

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
)

// receiptDomain prefixes what the authority signs in a receipt.
const receiptDomain = "eidkiosk intake receipt v1\x00"

// ErrBadReceipt is returned for a receipt that does not verify or does not
// match the package it should acknowledge.
var ErrBadReceipt = errors.New("enroll: receipt does not verify")

// ReceiptBody is what the authority states when it has stored a package.
type ReceiptBody struct {
	Format       int    `cbor:"1,keyasint"`
	EnrollmentID string `cbor:"2,keyasint"`
	PackageHash  []byte `cbor:"3,keyasint"` // SHA-256 of the package as received
	DeviceID     string `cbor:"4,keyasint"`
	Received     int64  `cbor:"5,keyasint"` // Unix ms
	Short        string `cbor:"6,keyasint"`
}

type signedReceipt struct {
	Body []byte `cbor:"1,keyasint"`
	Sig  []byte `cbor:"2,keyasint"` // Ed25519 over receiptDomain || Body
}

// SignReceipt encodes and signs a receipt (authority side).
func SignReceipt(priv ed25519.PrivateKey, b ReceiptBody) ([]byte, error) {
	b.Format = FormatVersion
	body, err := encMode.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("enroll: encode receipt: %w", err)
	}
	sig := ed25519.Sign(priv, append([]byte(receiptDomain), body...))
	return encMode.Marshal(signedReceipt{Body: body, Sig: sig})
}

// VerifyReceipt checks a receipt's signature with the authority's receipt
// key and that it acknowledges the package with this ID and hash.
func VerifyReceipt(pub ed25519.PublicKey, receipt []byte, enrollmentID string, packageHash []byte) (ReceiptBody, error) {
	var s signedReceipt
	if err := decMode.Unmarshal(receipt, &s); err != nil {
		return ReceiptBody{}, fmt.Errorf("%w: %v", ErrBadReceipt, err)
	}
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, append([]byte(receiptDomain), s.Body...), s.Sig) {
		return ReceiptBody{}, fmt.Errorf("%w: signature", ErrBadReceipt)
	}
	var b ReceiptBody
	if err := decMode.Unmarshal(s.Body, &b); err != nil {
		return ReceiptBody{}, fmt.Errorf("%w: %v", ErrBadReceipt, err)
	}
	if b.EnrollmentID != enrollmentID || !bytes.Equal(b.PackageHash, packageHash) {
		return ReceiptBody{}, fmt.Errorf("%w: it acknowledges another package", ErrBadReceipt)
	}
	return b, nil
}

// ReceiptVerifier returns a function that checks a receipt for a package
// (kiosk/outbox AckReceipts): signature by pub, this enrollment ID, this
// package's SHA-256.
func ReceiptVerifier(pub ed25519.PublicKey) func(id string, pkg, receipt []byte) error {
	return func(id string, pkg, receipt []byte) error {
		h := sha256.Sum256(pkg)
		_, err := VerifyReceipt(pub, receipt, id, h[:])
		return err
	}
}
