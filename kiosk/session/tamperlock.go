package session

// TamperLock keeps the tamper lock across restarts and power cuts;
// kiosk/tamper's Lock is one.
type TamperLock interface {
	Locked() bool // a lock is persisted (read once, at start)
	Lock() error  // persist the lock (the enclosure was opened)
	Clear() error // a technician cleared it
}

// restoreTamper starts the engine locked when a lock was persisted.
func (e *Engine) restoreTamper() {
	if e.o.TamperLock != nil && e.o.TamperLock.Locked() {
		e.tampered = true
		e.log.Warn("terminal locked since an earlier tamper: a technician clears it in technician mode")
	}
}

// persistTamper stores the lock; a failure keeps it in memory and is
// logged (the terminal is locked either way).
func (e *Engine) persistTamper() {
	if e.o.TamperLock == nil {
		return
	}
	if err := e.o.TamperLock.Lock(); err != nil {
		e.log.Error("tamper lock not persisted: it holds until the kiosk restarts", "err", err)
	}
}

// clearPersistedTamper removes the stored lock; false (still locked) when
// that failed, so a restart cannot bring back a lock the screen showed
// cleared.
func (e *Engine) clearPersistedTamper() bool {
	if e.o.TamperLock == nil {
		return true
	}
	if err := e.o.TamperLock.Clear(); err != nil {
		e.log.Error("tamper lock not cleared", "err", err)
		return false
	}
	return true
}
