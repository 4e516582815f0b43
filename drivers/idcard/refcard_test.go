package idcard_test

import (
	"bytes"
	"testing"

	reader "eidkiosk/drivers/idcard"
	"eidkiosk/drivers/idcard/sim"
	"eidkiosk/idcard"
)

// The read-base answer for the reference card (deck card 0, the text block
// of reference §10) with a zero photo is 1295 bytes with CHK 33; with a zero
// 1024-byte fingerprint 2321 bytes, CHK 39 (reference §10).
func TestReferenceReadFrames(t *testing.T) {
	ref := sim.DefaultDeck()[0].Text
	if c, err := idcard.DecodeText(ref); err != nil || c.Number.Reveal() != "990101199003071237" {
		t.Fatalf("deck card 0 is not the reference card: %v", err)
	}
	d := append([]byte{1, 0, 4, 0}, ref...)
	d = append(d, make([]byte, idcard.PhotoLen)...)
	f := reader.Response{SW3: reader.StatusOK, Data: d}.Encode()
	head := []byte{0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x05, 0x08, 0x00, 0x00, 0x90, 0x01, 0x00, 0x04, 0x00}
	if len(f) != 1295 || f[len(f)-1] != 0x33 || !bytes.Equal(f[:14], head) {
		t.Fatalf("read base: %d bytes, CHK %02X, header % X", len(f), f[len(f)-1], f[:14])
	}
	d = append([]byte{1, 0, 4, 0, 4, 0}, ref...)
	d = append(d, make([]byte, idcard.PhotoLen+1024)...)
	f = reader.Response{SW3: reader.StatusOK, Data: d}.Encode()
	head = []byte{0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x09, 0x0A, 0x00, 0x00, 0x90, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00}
	if len(f) != 2321 || f[len(f)-1] != 0x39 || !bytes.Equal(f[:16], head) {
		t.Fatalf("read base+fp: %d bytes, CHK %02X", len(f), f[len(f)-1])
	}
}
