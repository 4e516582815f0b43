package app

import "eidkiosk/kiosk/heartbeat"

// onHeartbeatAnswer acts on what the authority answered to a heartbeat:
// city IT's `fleet poke` asks for an update check at once.
func (s *System) onHeartbeatAnswer(a heartbeat.Answer) {
	if a.CheckUpdate && s.Update != nil {
		s.log.Info("update: the authority asked for a check now")
		s.Update.CheckNow()
	}
}
