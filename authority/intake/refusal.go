package intake

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"eidkiosk/enroll"
)

// Refusal reason codes, sent in the JSON error body {"code": ..., "message": ...}.
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
	CodeTooLarge          = "too_large"           // body above enroll.MaxPackageSize
	CodeBusy              = "busy"                // overloaded: retry after Retry-After
)

// Refusal is a typed refusal of a package or request.
type Refusal struct {
	Code    string
	Message string // non-personal detail
}

func (e *Refusal) Error() string {
	if e.Message == "" {
		return "intake: refused: " + e.Code
	}
	return "intake: refused: " + e.Code + ": " + e.Message
}

// Status is the HTTP status for the refusal.
func (e *Refusal) Status() int {
	switch e.Code {
	case CodeNoClientCert:
		return http.StatusUnauthorized
	case CodeDeviceUnknown, CodeDeviceRevoked, CodeReplayOtherDevice, CodeDeviceMismatch:
		return http.StatusForbidden
	case CodeConflict:
		return http.StatusConflict
	case CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeSchema, CodeCheckDigit:
		return http.StatusUnprocessableEntity
	case CodeBusy:
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

func refuse(code, format string, args ...any) *Refusal {
	return &Refusal{Code: code, Message: fmt.Sprintf(format, args...)}
}

// fromEnroll maps the format errors of enroll to codes.
func fromEnroll(err error) *Refusal {
	code := CodeMalformed
	switch {
	case errors.Is(err, enroll.ErrTampered):
		code = CodeTampered
	case errors.Is(err, enroll.ErrBadSignature):
		code = CodeBadSignature
	case errors.Is(err, enroll.ErrWrongKey):
		code = CodeWrongKey
	case errors.Is(err, enroll.ErrUndecryptable):
		code = CodeUndecryptable
	case errors.Is(err, enroll.ErrSchema):
		code = CodeSchema
	}
	return &Refusal{Code: code, Message: strings.TrimPrefix(err.Error(), "enroll: ")}
}

// fromDevices maps an error of Devices.Authorize to a refusal. An error with
// a Code() string method keeps its code when it is one of ours; otherwise the
// registry's reason, written "refused (REASON)" in its message, is mapped:
// revoked and deprovisioned give device_revoked, internal gives busy (the
// terminal retries), any other reason device_unknown. An error that is no
// refusal at all (the registry failed) gives busy.
func fromDevices(err error) *Refusal {
	msg := err.Error()
	var c interface{ Code() string }
	if errors.As(err, &c) {
		switch c.Code() {
		case CodeDeviceRevoked, CodeDeviceUnknown, CodeBusy:
			return &Refusal{Code: c.Code(), Message: msg}
		}
	}
	reason := ""
	if _, after, ok := strings.Cut(msg, "refused ("); ok {
		reason, _, _ = strings.Cut(after, ")")
	}
	switch {
	case reason == "revoked" || reason == "deprovisioned":
		return &Refusal{Code: CodeDeviceRevoked, Message: msg}
	case reason == "internal":
		return &Refusal{Code: CodeBusy, Message: "device registry unavailable"}
	case reason == "":
		// Not a refusal of the terminal but a failure to decide: the
		// terminal must retry, not disable itself.
		return &Refusal{Code: CodeBusy, Message: "device registry unavailable"}
	}
	return &Refusal{Code: CodeDeviceUnknown, Message: msg}
}
