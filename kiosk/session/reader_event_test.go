package session

import (
	"errors"
	"testing"

	"eidkiosk/idcard"
)

// The reader's own events (the card model's idcard.Event, converted as they
// are) walk the visit like the engine's events of the same name.
func TestReaderEventsDriveTheVisit(t *testing.T) {
	h := newHarness(t)
	h.e.Send(ReaderEvent{Kind: idcard.ReaderBack})
	if v := h.settle(); !v.ReaderOK {
		t.Fatal("reader-back did not mark the reader ok")
	}
	h.e.Send(ReaderEvent{Kind: idcard.CardPlaced})
	h.wait(CardReading)
	c, _ := testCard()
	h.e.Send(ReaderEvent{Kind: idcard.CardRead, Card: c})
	v := h.wait(DataShown)
	if v.Card == nil || v.Card.Name != "张*" || v.Card.Kind != idcard.KindResident {
		t.Fatalf("card view %+v", v.Card)
	}
	h.tap(ActCancel)
	h.wait(Attract)

	h.e.Send(ReaderEvent{Kind: idcard.CardPlaced})
	h.wait(CardReading)
	h.e.Send(ReaderEvent{Kind: idcard.CardReadFailed, Err: errors.New("idcard: check digit"), Invalid: true})
	if v := h.wait(Failed); v.Fault != FaultCardInvalid {
		t.Fatalf("fault %v, want card-invalid", v.Fault)
	}
	h.tap(ActDone)
	h.wait(Attract)

	h.e.Send(ReaderEvent{Kind: idcard.ReaderFault, Err: errors.New("idcard: port vanished")})
	if v := h.settle(); v.ReaderOK {
		t.Fatal("reader-fault left the reader ok")
	}
	h.e.Send(ReaderEvent{Kind: 0}) // an unknown kind changes nothing
	if v := h.settle(); v.State != Attract && v.State != Unavailable {
		t.Fatalf("unknown reader event moved the engine to %v", v.State)
	}
}
