package app

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"

	"github.com/go-logfmt/logfmt"

	"eidkiosk/internal/health"
	"eidkiosk/provisioning/selftest"
	"eidkiosk/ui/techstatus"
)

// techLogLines is how many log lines technician mode gets.
const techLogLines = 8

// Tech returns the technician-mode snapshot (the type the UI declares):
// states as codes the UI translates, counts, the whole self-test checklist
// and the newest log lines taken apart; nothing personal.
func (s *System) Tech() techstatus.Status {
	now := s.clk.Now()
	st := techstatus.Status{Version: Version, Checks: s.techChecks()}
	ob := s.Outbox.Stats()
	st.Outbox.Depth = ob.Pending
	if !ob.Oldest.IsZero() {
		st.Outbox.Oldest = now.Sub(ob.Oldest)
	}
	st.Outbox.LastAck = ob.LastAck
	if s.Uplink == nil {
		st.Outbox.Uplink = techstatus.UplinkNotProvisioned
	} else {
		u := s.Uplink.Status()
		st.Outbox.Sent = int(u.Sent)
		switch {
		case u.Disabled != "":
			st.Outbox.Uplink, st.Outbox.Reason = techstatus.UplinkRefused, u.Disabled
		case u.Online:
			st.Outbox.Uplink = techstatus.UplinkOnline
		case u.LastError != "":
			st.Outbox.Uplink, st.Outbox.Reason = techstatus.UplinkOffline, u.LastError
		default:
			st.Outbox.Uplink = techstatus.UplinkConnecting
		}
	}
	if s.Update != nil {
		us := s.Update.Status()
		st.Update.Phase, st.Update.Available, st.Slot = string(us.Phase), us.Available, us.Slot
		if us.Version != "" {
			st.Version = us.Version
		}
	}
	ls := s.Lease.Snapshot()
	st.Update.LeaseHolder, st.Update.LeaseUntil = ls.Holder, ls.Expiry
	st.Reader = techstatus.Reader{Port: s.Config.Reader.Port, OK: s.Engine.View().ReaderOK}
	st.Camera = s.cameraState()
	if s.GPIO.Present() {
		ind := s.GPIO.Indication()
		st.GPIO = techstatus.GPIO{Present: true, Mode: ind.Mode.String(), TamperOpen: ind.Tamper}
	}
	if s.Tail != nil {
		for _, l := range s.Tail.Lines(techLogLines) {
			st.Log = append(st.Log, parseLogLine(l))
		}
	}
	return st
}

// techChecks is the self-test checklist as technician mode shows it: the
// last self-test's entries when one ran since start; before that every
// check the self-test would run, untested, except the parts whose live
// health the kiosk knows (the reader, the camera).
func (s *System) techChecks() []techstatus.Check {
	s.mu.Lock()
	last := s.lastSelfTest
	names := s.selfTestNames
	s.mu.Unlock()
	if last != nil {
		return checksOf(*last)
	}
	if names == nil {
		for _, c := range s.selfTestChecks() {
			names = append(names, c.Name())
		}
		s.mu.Lock()
		s.selfTestNames = names
		s.mu.Unlock()
	}
	out := make([]techstatus.Check, len(names))
	for i, n := range names {
		out[i] = techstatus.Check{Name: n}
		if h := s.health.Get(n); h.Ran() {
			out[i] = fromHealth(h)
		}
	}
	return out
}

func fromHealth(h health.Check) techstatus.Check {
	c := techstatus.Check{Name: h.Name, Status: techstatus.Pass, Detail: h.Detail, Fix: h.Fix, At: h.At}
	if !h.OK {
		c.Status = techstatus.Fail
	}
	return c
}

// checksOf turns a self-test report into the checklist.
func checksOf(rep selftest.Report) []techstatus.Check {
	out := make([]techstatus.Check, 0, len(rep.Entries))
	for _, e := range rep.Entries {
		c := techstatus.Check{Name: e.Name, Detail: e.Value, Fix: e.Fix, At: rep.Finished}
		switch e.Status {
		case selftest.Pass:
			c.Status = techstatus.Pass
		case selftest.Fail:
			c.Status = techstatus.Fail
		case selftest.Skip:
			c.Status = techstatus.Skip
		}
		out = append(out, c)
	}
	return out
}

// parseLogLine takes one line of the kiosk's log (slog JSON or text, as
// internal/logging writes it) apart: time, level, message and the other
// fields in order. A line that is neither is kept whole as the message.
func parseLogLine(line string) techstatus.LogLine {
	if strings.HasPrefix(line, "{") {
		if l, ok := parseJSONLine(line); ok {
			return l
		}
	}
	var l techstatus.LogLine
	d := logfmt.NewDecoder(strings.NewReader(line))
	if !d.ScanRecord() {
		return techstatus.LogLine{Msg: line}
	}
	for d.ScanKeyval() {
		k, v := string(d.Key()), string(d.Value())
		switch k {
		case "time":
			l.At, _ = time.Parse(time.RFC3339Nano, v)
		case "level":
			l.Level = v
		case "msg":
			l.Msg = v
		default:
			l.Fields = append(l.Fields, techstatus.Field{Key: k, Value: v})
		}
	}
	if d.Err() != nil || (l.At.IsZero() && l.Level == "") {
		return techstatus.LogLine{Msg: line}
	}
	return l
}

// parseJSONLine reads a slog JSON line keeping the fields' order.
func parseJSONLine(line string) (techstatus.LogLine, bool) {
	var l techstatus.LogLine
	d := json.NewDecoder(strings.NewReader(line))
	d.UseNumber()
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return l, false
	}
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return l, false
		}
		k, _ := t.(string)
		var raw json.RawMessage
		if err := d.Decode(&raw); err != nil {
			return l, false
		}
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			v = string(bytes.TrimSpace(raw)) // a number, a bool, a group
		}
		switch k {
		case "time":
			l.At, _ = time.Parse(time.RFC3339Nano, v)
		case "level":
			l.Level = v
		case "msg":
			l.Msg = v
		default:
			l.Fields = append(l.Fields, techstatus.Field{Key: k, Value: v})
		}
	}
	return l, true
}

// cameraState is the camera's line of technician mode.
func (s *System) cameraState() techstatus.Camera {
	if s.camera == nil {
		return techstatus.Camera{}
	}
	st := s.camera.Stats()
	p := s.camera.PreviewSize()
	return techstatus.Camera{Present: true, OK: s.camera.OK(), Width: p.X, Height: p.Y, Frames: st.Frames, Faults: st.Faults}
}
