// Package binding is the authority's phone e-ID module (an
// authority.Module): it binds a phone's P-256 key to an enrollment with the
// binding code of the receipt's QR code (enroll.QR), issues short-lived
// credentials (eidcred) to bound phones of accepted enrollments, and
// publishes the issuer keys and a signed, dated revocation list.
//
//   - POST /v1/bindings: enrollment ID, binding code, phone key. The code is
//     single-use (one binding per enrollment), expires (Options.CodeTTL,
//     default 7 days after the authority received the enrollment) and is
//     rate-limited per enrollment (failed codes) and per source address.
//     A rejected enrollment is refused; one not yet accepted binds
//     "pending".
//   - GET /v1/bindings/{id}: pending / active / refused / revoked.
//   - POST /v1/bindings/{id}/credential: the phone proves possession of its
//     key (eidcred.SignRequest); an active binding gets a credential valid
//     Options.Validity (default 24 h).
//   - GET /v1/eid/keys, GET /v1/eid/revocation: what verifiers need offline.
//
// The issuer keys are the module's own (ES256, in DataDir/eid-issuer.json,
// 0600), not the TLS CA's; Rotate adds a new signing key and keeps the old
// one published until the last credential it signed has expired.
//
// It does not decide whether an enrollment is accepted (a StatusSource
// says) and does not open enrollments (Receipts gives the code's hash and
// the masked name); it stores no name and no ID number: a binding row holds
// the enrollment ID, the phone's public key and the opaque e-ID number.
package binding
