package session

import "crypto/subtle"

// PINChecker checks a technician PIN; provisioning/techpin's Hash is one.
type PINChecker interface {
	CheckPIN(pin string) bool
}

// pinOK checks an entered PIN against Options.PIN, else TechnicianPIN.
func (e *Engine) pinOK(pin string) bool {
	if e.o.PIN != nil {
		return e.o.PIN.CheckPIN(pin)
	}
	return e.o.TechnicianPIN != "" && subtle.ConstantTimeCompare([]byte(pin), []byte(e.o.TechnicianPIN)) == 1
}
