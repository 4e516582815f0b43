package sim

// The protocol answers: what the simulated SAM replies to each GA 467
// request, with the injected faults applied. Nothing here touches a pty
// (line.go does), so answers_test.go runs them without one.

import (
	reader "eidkiosk/drivers/idcard"
	"eidkiosk/idcard"
)

// reply computes the frame answering req, with the queued fault applied, and
// the rate it goes out at; frame is nil when a fault keeps the SAM silent.
// It touches no line: the answers are testable without a pty.
func (s *Sim) reply(req reader.Request) (frame []byte, baud int, f Fault, faulty bool) {
	s.mu.Lock()
	s.stats.Requests[req.Cmd]++
	f, faulty = s.takeFault(req.Cmd)
	resp, newBaud := s.respond(req, f, faulty)
	baud = s.baud // the answer goes out at the rate the request came in
	if newBaud != 0 {
		// The acknowledgement is paced at the old rate, and the SAM listens
		// at the new one from now on (the host switches on receiving it).
		s.baud = newBaud
	}
	s.mu.Unlock()
	s.trace("%s → SW3 %s (%d data bytes)%s", req.Cmd, resp.SW3, len(resp.Data), faultNote(f, faulty))
	frame = resp.Encode()
	if faulty {
		switch f.Kind {
		case FaultBadChecksum:
			frame[len(frame)-1] ^= 0x5A
		case FaultBadLength:
			frame[5], frame[6] = 0xFF, 0xFF
		case FaultSilent:
			return nil, baud, f, faulty
		case FaultNoise:
			frame = s.garbage(f)
		case FaultGarbage:
			frame = append(s.garbage(f), frame...)
		}
	}
	return frame, baud, f, faulty
}

// takeFault pops the first queued fault matching cmd.
func (s *Sim) takeFault(cmd reader.Command) (Fault, bool) {
	for i, f := range s.faults {
		if f.Cmd != 0 && f.Cmd != cmd {
			continue
		}
		f.Times--
		if f.Times <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		} else {
			s.faults[i] = f
		}
		return f, true
	}
	return Fault{}, false
}

func faultNote(f Fault, faulty bool) string {
	if !faulty {
		return ""
	}
	return " [fault " + f.Kind.String() + "]"
}

func (s *Sim) garbage(f Fault) []byte {
	n := f.Bytes
	if n <= 0 {
		n = 16
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := make([]byte, n)
	for i := range g {
		g[i] = byte(s.rng.Uint32())
		if g[i] == 0xAA {
			g[i] = 0x55 // keep it from forming a preamble
		}
	}
	return g
}

// respond computes the answer to req; s.mu is held.
func (s *Sim) respond(req reader.Request, f Fault, faulty bool) (resp reader.Response, newBaud int) {
	if faulty && f.Kind == FaultStatus {
		return reader.Response{SW3: f.Status}, 0
	}
	ok := reader.Response{SW3: reader.StatusOK}
	switch {
	case req.Cmd == reader.CmdResetSAM:
		s.selected, s.hidden = false, false
		return ok, 0
	case req.Cmd == reader.CmdSAMStatus:
		return ok, 0
	case req.Cmd == reader.CmdSAMID:
		ok.Data = append([]byte(nil), s.opts.SAMID[:]...)
		return ok, 0
	case req.Cmd == reader.CmdFindCard:
		s.selected = false
		if s.card < 0 || s.hidden || (faulty && f.Kind == FaultNoCard) {
			return reader.Response{SW3: reader.StatusNoCard}, 0
		}
		return reader.Response{SW3: reader.StatusFound, Data: make([]byte, 4)}, 0
	case req.Cmd == reader.CmdSelectCard:
		if s.card < 0 {
			return reader.Response{SW3: reader.StatusSelectFailed}, 0
		}
		s.selected = true
		ok.Data = make([]byte, 8)
		return ok, 0
	case req.Cmd == reader.CmdReadBase || req.Cmd == reader.CmdReadBaseFP:
		if s.card < 0 || !s.selected {
			// Not authenticated: the card does not answer.
			return reader.Response{SW3: reader.StatusReadFailed}, 0
		}
		c := s.opts.Deck[s.card]
		photo := c.Photo
		if len(photo) != idcard.PhotoLen {
			photo = make([]byte, idcard.PhotoLen)
		}
		d := []byte{0x01, 0x00, 0x04, 0x00}
		if req.Cmd == reader.CmdReadBaseFP {
			n := len(c.Fingerprint)
			d = append(d, byte(n>>8), byte(n))
		}
		d = append(d, c.Text...)
		d = append(d, photo...)
		if req.Cmd == reader.CmdReadBaseFP {
			d = append(d, c.Fingerprint...)
		}
		ok.Data = d
		s.hidden = s.opts.Quiet
		return ok, 0
	case req.Cmd == reader.CmdReadNewAddr:
		if s.card < 0 || !s.selected {
			return reader.Response{SW3: reader.StatusReadFailed}, 0
		}
		c := s.opts.Deck[s.card]
		if len(c.NewAddresses) == 0 {
			return reader.Response{SW3: reader.StatusNoContent}, 0
		}
		for _, a := range c.NewAddresses {
			rec, err := idcard.EncodeAddress(a.Reveal())
			if err != nil {
				return reader.Response{SW3: reader.StatusReadFailed}, 0
			}
			ok.Data = append(ok.Data, rec...)
		}
		return ok, 0
	case req.Cmd&0xFF00 == reader.CmdSetBaud:
		code := int(req.Cmd & 0xFF)
		if code >= len(reader.Rates) || len(req.Data) != 0 {
			return reader.Response{SW3: reader.StatusCommand}, 0
		}
		return ok, reader.Rates[code]
	case req.Cmd == reader.CmdSetMaxRFByte:
		if len(req.Data) != 1 || req.Data[0] < 24 {
			return reader.Response{SW3: reader.StatusCommand}, 0
		}
		return ok, 0
	}
	return reader.Response{SW3: reader.StatusCommand}, 0
}
