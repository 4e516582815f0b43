package app

import (
	"errors"
	"time"

	"eidkiosk/kiosk/tamper"
)

// tamperLock is the persisted tamper lock of the state directory, signed
// by the device key once provisioned. A lock kept from before this start
// is reported to the authority with the next heartbeat.
func (s *System) tamperLock() *tamper.Lock {
	var l *tamper.Lock
	if s.Identity != nil {
		l = tamper.New(s.Config.State.Dir, s.Identity.Signer, s.Identity.DeviceID, s.clk)
	} else {
		l = tamper.New(s.Config.State.Dir, nil, "", s.clk)
	}
	if r, ok, err := l.Record(); ok {
		if err == nil && s.Identity != nil {
			err = r.Verify(s.Identity.Signer.Public())
		}
		msg := "terminal locked since the enclosure was opened at " + r.LockedAt.UTC().Format(time.RFC3339) + "; a technician clears it"
		if err != nil {
			msg = "terminal locked by a tamper record that does not verify (" + err.Error() + "); a technician clears it"
		}
		s.noteError("tamper", errors.New(msg))
	}
	return l
}
