package audit

// The events a terminal records. Their fields are listed beside each; none
// is personal.
const (
	EventStart         = "kiosk.start"           // version, config (SHA-256 prefix of the configuration in force)
	EventStop          = "kiosk.stop"            // uptime_sec
	EventVisitEnded    = "visit.ended"           // outcome: completed or the fault (timeout, canceled, liveness, ...), or abandoned
	EventTechLogin     = "technician.login"      //
	EventTechLogout    = "technician.logout"     //
	EventTechPINFailed = "technician.pin_failed" //
	EventConfigChanged = "config.changed"        // from, to (SHA-256 prefixes) or version (a signed remote configuration written)
	EventUpdate        = "update.step"           // phase, release, outcome
	EventTamper        = "tamper"                // state: opened, closed, cleared
	EventProvisioning  = "provisioning"          // what (provision, deprovision, selftest.sent...), detail, at
	EventRenewal       = "renewal"               // outcome: renewed or failed, detail
	EventOutboxExport  = "outbox.export"         // count, by (tool)
)

// Record appends event with fields given as key, value pairs; a nil Log
// records nothing (a terminal whose log could not be opened still runs; its
// start-up said why).
func (l *Log) Record(event string, kv ...string) error {
	if l == nil {
		return nil
	}
	var f map[string]string
	if len(kv) > 0 {
		f = make(map[string]string, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			f[kv[i]] = kv[i+1]
		}
	}
	_, err := l.Append(event, f)
	return err
}
