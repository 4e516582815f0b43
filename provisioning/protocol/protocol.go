// Package protocol is the wire format between a terminal and the authority's
// device registry: the provisioning request and the bundle it returns, the
// renewal, ping and self-test messages, and the typed refusals with reason
// codes that a technician can act on. Both sides import it, so the two ends
// cannot drift apart.
//
// Messages are JSON over HTTPS (TLS 1.3, RFC 8446). Certificates and CSRs are
// DER (RFC 5280, RFC 2986), carried as base64 by encoding/json.
//
// It does not send anything itself: the kiosk's client is package
// provisioning, the server is package authority/registry.
package protocol

import (
	"errors"
	"fmt"
	"time"
)

// URL paths served by the registry.
const (
	PathProvision   = "/v1/registry/provision"   // POST ProvisionRequest → Bundle (no client certificate)
	PathRenew       = "/v1/registry/renew"       // POST RenewRequest → Bundle (mTLS)
	PathPing        = "/v1/registry/ping"        // GET → Ping (mTLS)
	PathSelfTest    = "/v1/registry/selftest"    // POST SelfTestReport → Ack (mTLS)
	PathDeprovision = "/v1/registry/deprovision" // POST → Ack (mTLS)
)

// MaxBody bounds every request and response body the registry accepts.
const MaxBody = 1 << 20

// Key kinds a terminal reports.
const (
	KeyFile = "file" // ECDSA P-256 key in a 0600 file under the state directory
	KeyTPM  = "tpm"  // ECDSA P-256 key generated inside a TPM 2.0, never exported
)

// ProvisionRequest is what a blank terminal sends with its one-time token.
type ProvisionRequest struct {
	Token string `json:"token"`
	// Station is the station the technician expects; empty accepts the
	// token's station.
	Station string `json:"station,omitempty"`
	// CSR is a PKCS#10 request (DER) signed by the device key (ECDSA P-256).
	CSR []byte `json:"csr"`
	// Serial is the box's hardware serial number, checked against the
	// procurement allow-list when the authority keeps one.
	Serial string `json:"serial"`
	// KeyKind is KeyFile or KeyTPM.
	KeyKind string `json:"key_kind"`
	// TPMPublic is the key's TPM2B_PUBLIC area when KeyKind is KeyTPM.
	TPMPublic []byte `json:"tpm_public,omitempty"`
	// Software is the kiosk's version, for the audit log.
	Software string `json:"software,omitempty"`
}

// Station is the station's configuration delivered at provisioning.
type Station struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Bundle is everything a terminal needs after provisioning or renewal.
type Bundle struct {
	DeviceID string  `json:"device_id"`
	Station  Station `json:"station"`
	// Chain is the device certificate followed by the device CA (DER).
	Chain [][]byte `json:"chain"`
	// RootCA is the authority's root CA (DER): it verifies the server and
	// the device CA.
	RootCA []byte `json:"root_ca"`
	// IntakePublicKey is the intake's HPKE public key (RFC 9180) that
	// enrollments are sealed to.
	IntakePublicKey []byte `json:"intake_public_key"`
	// ReceiptPublicKey verifies the authority's signed receipts.
	ReceiptPublicKey []byte `json:"receipt_public_key"`
	// TUFRoot is the update repository's trusted root.json.
	TUFRoot []byte `json:"tuf_root"`
	// Issued is the authority's time when it made the bundle.
	Issued time.Time `json:"issued"`
}

// RenewRequest asks for a new certificate for the authenticated device.
type RenewRequest struct {
	CSR []byte `json:"csr"`
}

// Ping answers an authenticated terminal: who it is and the authority's time.
type Ping struct {
	DeviceID string    `json:"device_id"`
	Station  string    `json:"station"`
	Time     time.Time `json:"time"`
}

// CheckResult is one line of a self-test report.
type CheckResult struct {
	Name   string `json:"name"`
	Status string `json:"status"` // "pass", "fail", "skip"
	Value  string `json:"value,omitempty"`
	Fix    string `json:"fix,omitempty"`
	Millis int64  `json:"ms"`
}

// SelfTestReport is what a terminal sends after its self-test.
type SelfTestReport struct {
	Started  time.Time     `json:"started"`
	Finished time.Time     `json:"finished"`
	Passed   bool          `json:"passed"`
	Software string        `json:"software,omitempty"`
	Checks   []CheckResult `json:"checks"`
}

// Ack acknowledges a report or a deprovisioning.
type Ack struct {
	OK bool `json:"ok"`
}

// Reason is a refusal's machine-readable code.
type Reason string

// Reasons for refusing a terminal. Each comes with a message saying what to do.
const (
	ReasonBadRequest       Reason = "bad_request"        // malformed request
	ReasonTokenUnknown     Reason = "token_unknown"      // no such token (mistyped, or another authority)
	ReasonTokenUsed        Reason = "token_used"         // the token was already used
	ReasonTokenExpired     Reason = "token_expired"      // the token is past its expiry
	ReasonTokenRevoked     Reason = "token_revoked"      // city IT withdrew the token
	ReasonWrongStation     Reason = "wrong_station"      // the token is for another station
	ReasonSerialNotAllowed Reason = "serial_not_allowed" // the box is not on the procurement allow-list
	ReasonSerialActive     Reason = "serial_active"      // an active terminal already has this serial; city IT may --replace it
	ReasonReplaced         Reason = "replaced"           // city IT replaced this terminal by another
	ReasonBadCSR           Reason = "bad_csr"            // the CSR is malformed or not ECDSA P-256
	ReasonNoCertificate    Reason = "no_certificate"     // an mTLS endpoint was called without a device certificate
	ReasonUnknownDevice    Reason = "unknown_device"     // the certificate names no registered device
	ReasonRevoked          Reason = "revoked"            // the device was revoked
	ReasonDeprovisioned    Reason = "deprovisioned"      // the device was deprovisioned
	ReasonStaleCertificate Reason = "stale_certificate"  // the certificate was replaced by a newer one
	ReasonInternal         Reason = "internal"           // the authority failed; try again later
	ReasonTooMany          Reason = "too_many_requests"  // this address asked too often; wait for Retry-After
)

// Refusal is a typed refusal from the registry, sent as the JSON body of a
// 4xx/5xx answer. errors.Is matches on the Reason, so the sentinels below
// work on both sides of the wire.
type Refusal struct {
	Reason  Reason `json:"reason"`
	Message string `json:"message"`
}

func (r *Refusal) Error() string {
	if r.Message == "" {
		return "refused: " + string(r.Reason)
	}
	return fmt.Sprintf("refused (%s): %s", r.Reason, r.Message)
}

// Is reports whether target is a *Refusal with the same reason.
func (r *Refusal) Is(target error) bool {
	var t *Refusal
	return errors.As(target, &t) && t.Reason == r.Reason
}

// Sentinels for errors.Is.
var (
	ErrBadRequest       = &Refusal{Reason: ReasonBadRequest}
	ErrTokenUnknown     = &Refusal{Reason: ReasonTokenUnknown}
	ErrTokenUsed        = &Refusal{Reason: ReasonTokenUsed}
	ErrTokenExpired     = &Refusal{Reason: ReasonTokenExpired}
	ErrTokenRevoked     = &Refusal{Reason: ReasonTokenRevoked}
	ErrWrongStation     = &Refusal{Reason: ReasonWrongStation}
	ErrSerialNotAllowed = &Refusal{Reason: ReasonSerialNotAllowed}
	ErrSerialActive     = &Refusal{Reason: ReasonSerialActive}
	ErrReplaced         = &Refusal{Reason: ReasonReplaced}
	ErrBadCSR           = &Refusal{Reason: ReasonBadCSR}
	ErrNoCertificate    = &Refusal{Reason: ReasonNoCertificate}
	ErrUnknownDevice    = &Refusal{Reason: ReasonUnknownDevice}
	ErrRevoked          = &Refusal{Reason: ReasonRevoked}
	ErrDeprovisioned    = &Refusal{Reason: ReasonDeprovisioned}
	ErrStaleCertificate = &Refusal{Reason: ReasonStaleCertificate}
	ErrInternal         = &Refusal{Reason: ReasonInternal}
	ErrTooMany          = &Refusal{Reason: ReasonTooMany}
)

// Disabled reports whether err means the authority no longer accepts this
// terminal: the kiosk then refuses visits ("terminal disabled, call IT").
func Disabled(err error) bool {
	return errors.Is(err, ErrRevoked) || errors.Is(err, ErrDeprovisioned) || errors.Is(err, ErrUnknownDevice) || errors.Is(err, ErrReplaced)
}
