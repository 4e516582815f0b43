// Package intake is the authority's enrollment intake, an authority.Module:
// it takes sealed packages (docs/package-format.md) from terminals over mTLS
// or from a USB export, and stores each exactly once.
//
// For each package it checks, in order: the structure, the package against
// its own header and digest, the terminal's certificate with the device
// registry (Devices), that the sender is the device that sealed it, the
// device signature, then opens the HPKE envelope with the intake key,
// validates the record's schema and the ID number's ISO 7064 MOD 11-2 check
// digit (GB 11643-1999), stores it and answers with a receipt signed by the
// receipt key. A repeat returns the same receipt and stores nothing. A
// refusal carries a reason code (see the Code… constants).
//
// The package stays sealed at rest: the database holds the sealed package,
// non-personal columns and an HMAC of the ID number (for the duplicate
// check), never a name or number in clear; operator views open the package
// with the intake key and mask personal fields unless asked.
//
// Verification hooks (Verifier) flag enrollments after storage: duplicate ID
// numbers are built in; FaceCheck compares the live capture with the
// holder's reference photo through a FaceMatcher (facematch.Matcher) and
// flags face_mismatch, face_refer or face_unchecked. The reference photo
// registry (PutPhoto, Photo, ImportPhotos: `authority photos import`) keys
// each photo by the ID number's HMAC and keeps it HPKE-sealed to the intake
// key, as the enrollments are. Once the checks ran, the flags' kinds go
// to Options.Reviews (authority/review), whose status the terminal's
// status query returns without the flags. The
// package does not decide on an enrollment, does not issue IDs, does not
// manage devices (that is the device registry) and does not configure TLS.
//
// Specs: RFC 9180 (HPKE), draft-ietf-hpke-pq, RFC 8949 §4.2 (deterministic
// CBOR), ISO 7064 MOD 11-2 / GB 11643-1999.
package intake
