package app

import (
	"errors"

	"eidkiosk/kiosk/session"
	"eidkiosk/provisioning/techpin"
)

// technicianPIN loads the technician PIN's hash set at provisioning; nil
// (technician mode closed, said so on the attract screen) when none was
// set or the file is damaged.
func (s *System) technicianPIN() session.PINChecker {
	h, err := techpin.Load(s.Config.State.Dir)
	switch {
	case errors.Is(err, techpin.ErrNoPIN):
		s.log.Warn("no technician PIN set: technician mode stays closed until `kioskctl provision pin` sets one")
		return nil
	case err != nil:
		s.noteError("technician PIN", err)
		return nil
	}
	return h
}
