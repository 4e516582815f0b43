package session

import ()

// technicianPIN enters technician mode from Attract or Unavailable when pin
// is right; wrong PINs in a row lock it for a while.
func (e *Engine) technicianPIN(pin string) bool {
	if e.state != Attract && e.state != Unavailable {
		return false
	}
	now := e.o.Clock.Now()
	if now.Before(e.pinLocked) {
		e.notice = "technician.locked"
		return true
	}
	if e.o.PIN == nil && e.o.TechnicianPIN == "" {
		e.notice = "technician.no_pin"
		e.log.Warn("technician mode refused: no technician PIN was set at provisioning")
		return true
	}
	if !e.pinOK(pin) {
		e.badPINs++
		e.notice = "technician.pin_wrong"
		if e.badPINs >= pinLockAfter {
			e.pinLocked = now.Add(pinLockFor)
			e.badPINs = 0
			e.notice = "technician.locked"
			e.log.Warn("technician PIN entered wrong too often; locked", "for", pinLockFor)
		}
		return true
	}
	e.badPINs = 0
	e.log.Info("technician mode entered")
	e.enter(Technician)
	return true
}

// clearTamper lifts the tamper lock; only in technician mode.
func (e *Engine) clearTamper() bool {
	if e.state != Technician || !e.tampered || !e.clearPersistedTamper() {
		return false
	}
	e.tampered = false
	e.log.Warn("tamper lock cleared by technician")
	return true
}
