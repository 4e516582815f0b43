package enroll

// The authority's intake API, as both ends speak it (all under mutual TLS
// with the device certificate):
//
//	POST /v1/enrollments/{id}   body: the sealed package (application/cbor)
//	                            Idempotency-Key: {id}
//	  201 Created  body: signed receipt (application/cbor)   new
//	  200 OK       body: the same receipt                    repeat
//	  4xx          body: ErrorBody {"code", "message"}       refused
//	  503          Retry-After: seconds                      busy
//	GET  /v1/enrollments/{id}   StatusBody for the terminal that sent it (JSON)
const (
	PathEnrollments = "/v1/enrollments/"
	ContentType     = "application/cbor"
)

// Refusal reason codes, sent in ErrorBody.Code.
const (
	CodeNoClientCert      = "no_client_cert"      // the request carried no client certificate
	CodeDeviceUnknown     = "device_unknown"      // the registry does not know the certificate
	CodeDeviceRevoked     = "device_revoked"      // the registry revoked the terminal
	CodeReplayOtherDevice = "replay_other_device" // a package sealed by another terminal
	CodeDeviceMismatch    = "device_mismatch"     // header's device ID is not the certificate's
	CodeMalformed         = "malformed"           // not a package
	CodeTampered          = "tampered"            // contents differ from header or digest
	CodeBadSignature      = "bad_signature"       // the device signature does not verify
	CodeWrongKey          = "wrong_key"           // sealed to another intake key
	CodeUndecryptable     = "undecryptable"       // HPKE open failed
	CodeIDMismatch        = "id_mismatch"         // URL or idempotency key is not the header's ID
	CodeSchema            = "schema"              // the record breaks the schema
	CodeCheckDigit        = "check_digit"         // the ID number's check digit is wrong
	CodeConflict          = "conflict"            // another package already stored under this ID
	CodeTooLarge          = "too_large"           // body above MaxPackageSize
	CodeBusy              = "busy"                // overloaded: retry after Retry-After
)

// DeviceCode reports whether a refusal code concerns the terminal itself
// (unknown, revoked, no certificate) rather than one package: the terminal
// stops sending until the authority accepts it again.
func DeviceCode(code string) bool {
	switch code {
	case CodeDeviceUnknown, CodeDeviceRevoked, CodeNoClientCert:
		return true
	}
	return false
}

// ErrorBody is the JSON body of a refusal. Message is never personal.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// StatusBody is the JSON answer of the status endpoint.
type StatusBody struct {
	EnrollmentID string   `json:"enrollment_id"`
	State        string   `json:"state"` // received, verified, needs_review, approved or rejected ("stored" without a review module)
	Short        string   `json:"short"`
	Received     string   `json:"received"` // RFC 3339
	Flags        []string `json:"flags"`    // the authority's own view; null to the terminal
	Receipt      []byte   `json:"receipt"`  // the signed receipt, base64
}
