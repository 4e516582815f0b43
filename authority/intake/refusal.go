package intake

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"eidkiosk/enroll"
)

// Refusal is a typed refusal of a package or request; Code is one of
// enroll's Code… values, sent in an enroll.ErrorBody.
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
	case enroll.CodeNoClientCert:
		return http.StatusUnauthorized
	case enroll.CodeDeviceUnknown, enroll.CodeDeviceRevoked, enroll.CodeReplayOtherDevice, enroll.CodeDeviceMismatch:
		return http.StatusForbidden
	case enroll.CodeConflict:
		return http.StatusConflict
	case enroll.CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case enroll.CodeSchema, enroll.CodeCheckDigit:
		return http.StatusUnprocessableEntity
	case enroll.CodeBusy:
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

func refuse(code, format string, args ...any) *Refusal {
	return &Refusal{Code: code, Message: fmt.Sprintf(format, args...)}
}

// fromEnroll maps the format errors of enroll to codes.
func fromEnroll(err error) *Refusal {
	code := enroll.CodeMalformed
	switch {
	case errors.Is(err, enroll.ErrTampered):
		code = enroll.CodeTampered
	case errors.Is(err, enroll.ErrBadSignature):
		code = enroll.CodeBadSignature
	case errors.Is(err, enroll.ErrWrongKey):
		code = enroll.CodeWrongKey
	case errors.Is(err, enroll.ErrUndecryptable):
		code = enroll.CodeUndecryptable
	case errors.Is(err, enroll.ErrSchema):
		code = enroll.CodeSchema
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
		case enroll.CodeDeviceRevoked, enroll.CodeDeviceUnknown, enroll.CodeBusy:
			return &Refusal{Code: c.Code(), Message: msg}
		}
	}
	reason := ""
	if _, after, ok := strings.Cut(msg, "refused ("); ok {
		reason, _, _ = strings.Cut(after, ")")
	}
	switch {
	case reason == "revoked" || reason == "deprovisioned":
		return &Refusal{Code: enroll.CodeDeviceRevoked, Message: msg}
	case reason == "internal":
		return &Refusal{Code: enroll.CodeBusy, Message: "device registry unavailable"}
	case reason == "":
		// Not a refusal of the terminal but a failure to decide: the
		// terminal must retry, not disable itself.
		return &Refusal{Code: enroll.CodeBusy, Message: "device registry unavailable"}
	}
	return &Refusal{Code: enroll.CodeDeviceUnknown, Message: msg}
}
