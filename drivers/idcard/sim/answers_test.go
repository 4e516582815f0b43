package sim

import (
	"bytes"
	"errors"
	"testing"

	reader "eidkiosk/drivers/idcard"
	"eidkiosk/idcard"
)

// ask runs one request through the simulated SAM's answers (no pty) and
// decodes the frame as the driver's decoder does.
func ask(t *testing.T, s *Sim, cmd reader.Command, data ...byte) (reader.Response, error) {
	t.Helper()
	frame, _, _, _ := s.reply(reader.Request{Cmd: cmd, Data: data})
	if frame == nil {
		return reader.Response{}, errSilent
	}
	var d reader.Decoder
	d.Write(frame)
	body, err := d.Next()
	if err != nil {
		return reader.Response{}, err
	}
	if body == nil {
		t.Fatalf("%s: the answer is not one whole frame", cmd)
	}
	return reader.ParseResponse(body)
}

var errSilent = errors.New("no answer")

func TestAnswersWithoutAPty(t *testing.T) {
	s, err := newSim(Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := ask(t, s, reader.CmdSAMID); err != nil || r.SW3 != reader.StatusOK || len(r.Data) != 16 {
		t.Fatalf("SAM ID: %v %v", r.SW3, err)
	}
	if r, _ := ask(t, s, reader.CmdFindCard); r.SW3 != reader.StatusNoCard {
		t.Fatalf("find with no card: %v", r.SW3)
	}
	if err := s.Place(0); err != nil {
		t.Fatal(err)
	}
	if r, _ := ask(t, s, reader.CmdReadBase); r.SW3 != reader.StatusReadFailed {
		t.Fatalf("read before select: %v", r.SW3)
	}
	if r, _ := ask(t, s, reader.CmdFindCard); r.SW3 != reader.StatusFound {
		t.Fatalf("find: %v", r.SW3)
	}
	if r, _ := ask(t, s, reader.CmdSelectCard); r.SW3 != reader.StatusOK {
		t.Fatalf("select: %v", r.SW3)
	}
	r, err := ask(t, s, reader.CmdReadBase)
	if err != nil || r.SW3 != reader.StatusOK || len(r.Data) != 4+idcard.TextLen+idcard.PhotoLen {
		t.Fatalf("read base: %v %d bytes %v", r.SW3, len(r.Data), err)
	}
	c, err := idcard.DecodeText(r.Data[4 : 4+idcard.TextLen])
	if err != nil || c.Number != s.Deck()[0].Number || !bytes.Equal(r.Data[4:4+idcard.TextLen], s.Deck()[0].Text) {
		t.Fatalf("read base carries another card: %v", err)
	}

	// Faults apply to the next matching answer only.
	s.Inject(Fault{Kind: FaultBadChecksum, Cmd: reader.CmdSAMStatus})
	if _, err := ask(t, s, reader.CmdSAMStatus); !errors.Is(err, reader.ErrChecksum) {
		t.Fatalf("bad checksum fault: %v", err)
	}
	if r, err := ask(t, s, reader.CmdSAMStatus); err != nil || r.SW3 != reader.StatusOK {
		t.Fatalf("after the fault: %v %v", r.SW3, err)
	}
	s.Inject(Fault{Kind: FaultSilent})
	if _, err := ask(t, s, reader.CmdSAMStatus); err != errSilent {
		t.Fatalf("silent fault answered: %v", err)
	}
	s.Inject(Fault{Kind: FaultStatus, Status: reader.StatusSelfTest})
	if r, _ := ask(t, s, reader.CmdSAMStatus); r.SW3 != reader.StatusSelfTest {
		t.Fatalf("status fault: %v", r.SW3)
	}

	// Set baud: acknowledged at the old rate, the SAM listens at the new.
	frame, baud, _, _ := s.reply(reader.Request{Cmd: reader.CmdSetBaud | 3}) // Rates[3] = 19200
	if frame == nil || baud != 115200 || s.Baud() != reader.Rates[3] {
		t.Fatalf("set baud: answered at %d, SAM now at %d", baud, s.Baud())
	}
	if r, _ := ask(t, s, reader.CmdSetBaud|9); r.SW3 != reader.StatusCommand {
		t.Fatalf("set baud to no rate: %v", r.SW3)
	}
	if st := s.Stats(); st.Requests[reader.CmdSAMStatus] != 4 || st.BytesOut != 0 {
		t.Fatalf("stats %+v (answers count requests, not line bytes)", st)
	}
}
