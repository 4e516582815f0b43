// Package enroll is the enrollment wire format both ends import: the
// versioned record, sealed into a package only the central authority can
// open, the signed receipt, and the intake's HTTP API (PathEnrollments, the
// refusal codes, ErrorBody, StatusBody):
//
//   - the record is encoded as deterministic CBOR (RFC 8949 §4.2.1, "core
//     deterministic"), so equal records give equal bytes;
//   - it is encrypted with HPKE (RFC 9180; crypto/hpke) to the authority's
//     intake key, suite MLKEM768-X25519 / HKDF-SHA256 / AES-256-GCM
//     (draft-ietf-hpke-pq), with the clear Header as associated data;
//   - the header and a digest of the ciphertext are signed with the device
//     key (ECDSA P-256, SHA-256), and the device certificate travels along.
//
// docs/package-format.md describes the bytes. The kiosk's side that turns a
// visit into a record and queues it is kiosk/submit; the server is
// authority/intake. This package imports neither the visit engine nor
// anything under kiosk/, drivers/ or authority/; the card's types come from
// the card model (eidkiosk/idcard).
//
// The package does not hold or load keys (provisioning does), does not send
// anything (kiosk/uplink does) and keeps nothing that could open a sealed
// package: the kiosk cannot read its own outbox. Parse, Verify and Open are
// here too because the format is one thing; only the authority calls Open.
package enroll
