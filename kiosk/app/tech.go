package app

import (
	"fmt"

	"eidkiosk/ui/techstatus"
)

// Tech returns the technician-mode snapshot (the type the UI declares):
// states and counts, nothing personal.
func (s *System) Tech() techstatus.Status {
	now := s.clk.Now()
	st := techstatus.Status{Version: Version, Checks: s.health.List()}
	ob := s.Outbox.Stats()
	st.Outbox.Depth = ob.Pending
	if !ob.Oldest.IsZero() {
		st.Outbox.Oldest = now.Sub(ob.Oldest)
	}
	st.Outbox.LastAck = ob.LastAck
	switch {
	case s.Uplink == nil:
		st.Outbox.Uplink = "not provisioned"
	default:
		u := s.Uplink.Status()
		switch {
		case u.Disabled != "":
			st.Outbox.Uplink = "refused by the authority: " + u.Disabled
		case u.Online:
			st.Outbox.Uplink = fmt.Sprintf("online, %d sent", u.Sent)
		case u.LastError != "":
			st.Outbox.Uplink = "offline: " + u.LastError
		default:
			st.Outbox.Uplink = "connecting"
		}
	}
	if s.Update != nil {
		us := s.Update.Status()
		st.Update.State = us.Describe()
		st.Version = fmt.Sprintf("%s (slot %s)", Version, us.Slot)
	} else {
		st.Update.State = "updates off"
	}
	ls := s.Lease.Snapshot()
	if ls.Holder != "" {
		st.Update.Lease = fmt.Sprintf("%s until %s", ls.Holder, ls.Expiry.Format("15:04:05"))
	}
	v := s.Engine.View()
	if v.ReaderOK {
		st.Reader = s.Config.Reader.Port + " ok"
	} else {
		st.Reader = s.Config.Reader.Port + " not answering"
	}
	st.Camera = s.cameraLine()
	if s.GPIO.Present() {
		ind := s.GPIO.Indication()
		st.GPIO = fmt.Sprintf("mode %s, tamper %s", ind.Mode, map[bool]string{true: "OPEN", false: "closed"}[ind.Tamper])
	} else {
		st.GPIO = "no GPIO peripherals"
	}
	if s.Tail != nil {
		st.LogTail = s.Tail.Lines(8)
	}
	return st
}
