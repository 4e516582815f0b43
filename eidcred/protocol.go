package eidcred

// The phone's HTTP protocol with the authority (authority/binding serves
// it, the wallet speaks it): JSON bodies, except the signed credential
// request, the credential and the revocation list, which are COSE
// (application/cose). Errors are ErrorBody with a Reason the phone acts on.
const (
	PathBindings   = "/v1/bindings"                           // POST BindRequest → 201 BindingStatus
	PathBinding    = "/v1/bindings/{id}"                      // GET → BindingStatus
	PathCredential = "/v1/bindings/{id}/credential"           // POST SignRequest's bytes → 200 credential, 409 BindingStatus (pending)
	PathKeys       = "/v1/eid/keys"                           // GET → KeySet JSON
	PathRevocation = "/v1/eid/revocation"                     // GET → signed RevocationList
	ContentCOSE    = "application/cose; cose-type=cose-sign1" // RFC 9052 §2
)

// BindRequest binds a phone key to an enrollment, with the binding code
// from the receipt's QR code.
type BindRequest struct {
	EnrollmentID string `json:"enrollment_id"`
	Code         string `json:"code"`
	HolderKey    []byte `json:"holder_key"` // P-256, SEC 1 (compressed or not), base64 in JSON
}

// Binding states.
const (
	StatePending = "pending" // the enrollment is not accepted yet (received, needs review)
	StateActive  = "active"  // credentials are issued
	StateRefused = "refused" // the enrollment was rejected
	StateRevoked = "revoked" // the e-ID was revoked
)

// BindingStatus is where a binding stands. It carries nothing personal.
type BindingStatus struct {
	BindingID string `json:"binding_id"`
	State     string `json:"state"`
}

// Refusal reasons of ErrorBody.
const (
	ReasonCodeWrong    = "code_wrong"    // no such enrollment, or not its code
	ReasonCodeUsed     = "code_used"     // the code already bound a phone
	ReasonCodeExpired  = "code_expired"  // the code's time is over: visit a terminal again
	ReasonRejected     = "rejected"      // the enrollment was rejected
	ReasonRateLimited  = "rate_limited"  // too many attempts: wait
	ReasonBadRequest   = "bad_request"   // malformed body or key
	ReasonNotFound     = "not_found"     // no such binding
	ReasonProof        = "proof"         // the request's signature or time is wrong
	ReasonBindingState = "binding_state" // refused or revoked: no credential
)

// ErrorBody is every refusal's body.
type ErrorBody struct {
	Reason  string `json:"reason"`
	Message string `json:"message"`
}
