package app

import (
	"fmt"
	"time"

	"eidkiosk/kiosk/session"
)

// TechState is what technician mode shows: states and counts, nothing personal.
type TechState struct {
	Version         string
	Checks          []TechCheck
	OutboxDepth     int
	OutboxOldest    time.Duration
	Uplink          string
	LastAck         time.Time
	UpdateState     string
	UpdateAvailable string
	Lease           string
	Reader          string
	Camera          string
	GPIO            string
	Quality         []session.Measure
	LogTail         []string
}

// TechCheck is one health line.
type TechCheck struct {
	Name   string
	OK     bool
	Detail string
}

// Tech returns the technician-mode snapshot.
func (s *System) Tech() TechState {
	now := s.clk.Now()
	st := TechState{Version: Version}
	ob := s.Outbox.Stats()
	st.OutboxDepth = ob.Pending
	if !ob.Oldest.IsZero() {
		st.OutboxOldest = now.Sub(ob.Oldest)
	}
	st.LastAck = ob.LastAck
	switch {
	case s.Uplink == nil:
		st.Uplink = "not provisioned"
	default:
		u := s.Uplink.Status()
		switch {
		case u.Disabled != "":
			st.Uplink = "refused by the authority: " + u.Disabled
		case u.Online:
			st.Uplink = fmt.Sprintf("online, %d sent", u.Sent)
		case u.LastError != "":
			st.Uplink = "offline: " + u.LastError
		default:
			st.Uplink = "connecting"
		}
	}
	if s.Update != nil {
		us := s.Update.Status()
		st.UpdateState = us.Describe()
		st.Version = fmt.Sprintf("%s (slot %s)", Version, us.Slot)
	} else {
		st.UpdateState = "updates off"
	}
	ls := s.Lease.Snapshot()
	if ls.Holder != "" {
		st.Lease = fmt.Sprintf("%s until %s", ls.Holder, ls.Expiry.Format("15:04:05"))
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
	s.mu.Lock()
	for name, err := range s.health {
		c := TechCheck{Name: name, OK: err == nil}
		if err != nil {
			c.Detail = err.Error()
		}
		st.Checks = append(st.Checks, c)
	}
	s.mu.Unlock()
	if s.Tail != nil {
		st.LogTail = s.Tail.Lines(8)
	}
	return st
}
