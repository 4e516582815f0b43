// Package eidcred is the phone e-ID credential's format, shared by the
// authority that issues it, the wallet that presents it and the kiosk that
// verifies it offline:
//
//   - the credential: a CBOR map (opaque e-ID number, credential ID, masked
//     name, the phone's P-256 public key, validity) signed by an issuer key
//     as a COSE_Sign1 (RFC 9052, ES256, key ID in the protected header),
//     with github.com/veraison/go-cose;
//   - the presentation: the phone's own COSE_Sign1 over the credential and
//     the current time, zlib-compressed and Base45-encoded (RFC 9285) behind
//     the prefix "EID1:", the shape of the EU Digital COVID Certificate's
//     "HC1:" QR code, with holder binding added (ISO/IEC 18013-5's idea);
//   - the revocation list: a dated COSE_Sign1 of revoked e-ID numbers and
//     credential IDs, signed by an issuer key;
//   - Verify: one decision, with its reason, at a given time, against the
//     issuer keys and a revocation list.
//
// Each signature carries its own external data (RFC 9052 §4.3) naming its
// purpose, so no signature of one kind verifies as another.
//
// It does not fetch anything, store anything, read QR images or know where
// keys live: the authority (authority/binding), the wallet (wallet) and the
// kiosk (kiosk/eidverify) do. The formats are in docs/eid-credential.md.
package eidcred
