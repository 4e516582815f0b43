package idcard

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func hx(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Request frames of reference §10, byte for byte.
func TestEncodeRequestsMatchReference(t *testing.T) {
	cases := []struct {
		req  Request
		want string
	}{
		{Request{Cmd: CmdFindCard}, "AA AA AA 96 69 00 03 20 01 22"},
		{Request{Cmd: CmdSelectCard}, "AA AA AA 96 69 00 03 20 02 21"},
		{Request{Cmd: CmdReadBase}, "AA AA AA 96 69 00 03 30 01 32"},
		{Request{Cmd: CmdReadBaseFP}, "AA AA AA 96 69 00 03 30 10 23"},
		{Request{Cmd: CmdReadNewAddr}, "AA AA AA 96 69 00 03 30 03 30"},
		{Request{Cmd: CmdResetSAM}, "AA AA AA 96 69 00 03 10 FF EC"},
		{Request{Cmd: CmdSAMStatus}, "AA AA AA 96 69 00 03 11 FF ED"},
		{Request{Cmd: CmdSAMID}, "AA AA AA 96 69 00 03 12 FF EE"},
		{Request{Cmd: CmdSetBaud | 0}, "AA AA AA 96 69 00 03 60 00 63"},
		{Request{Cmd: CmdSetBaud | 1}, "AA AA AA 96 69 00 03 60 01 62"},
		{Request{Cmd: CmdSetBaud | 2}, "AA AA AA 96 69 00 03 60 02 61"},
		{Request{Cmd: CmdSetBaud | 3}, "AA AA AA 96 69 00 03 60 03 60"},
		{Request{Cmd: CmdSetBaud | 4}, "AA AA AA 96 69 00 03 60 04 67"},
		{Request{Cmd: CmdSetMaxRFByte, Data: []byte{0x50}}, "AA AA AA 96 69 00 04 61 FF 50 CA"},
	}
	for _, c := range cases {
		if got := c.req.Encode(); !bytes.Equal(got, hx(t, c.want)) {
			t.Errorf("%s: % X, want %s", c.req.Cmd, got, c.want)
		}
	}
}

// Response frames of reference §10 decode to the right status and data.
func TestDecodeResponsesFromReference(t *testing.T) {
	cases := []struct {
		frame string
		sw3   Status
		n     int
	}{
		{"AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97", StatusFound, 4},
		{"AA AA AA 96 69 00 04 00 00 80 84", StatusNoCard, 0},
		{"AA AA AA 96 69 00 0C 00 00 90 00 00 00 00 00 00 00 00 9C", StatusOK, 8},
		{"AA AA AA 96 69 00 04 00 00 81 85", StatusSelectFailed, 0},
		{"AA AA AA 96 69 00 04 00 00 90 94", StatusOK, 0},
		{"AA AA AA 96 69 00 04 00 00 60 64", StatusSelfTest, 0},
		{"AA AA AA 96 69 00 04 00 00 41 45", StatusReadFailed, 0},
		{"AA AA AA 96 69 00 04 00 00 10 14", StatusChecksum, 0},
		{"AA AA AA 96 69 00 04 00 00 11 15", StatusLength, 0},
		{"AA AA AA 96 69 00 04 00 00 21 25", StatusCommand, 0},
	}
	for _, c := range cases {
		var d Decoder
		d.Write(hx(t, c.frame))
		body, err := d.Next()
		if err != nil || body == nil {
			t.Fatalf("%s: body %v err %v", c.frame, body, err)
		}
		r, err := ParseResponse(body)
		if err != nil || r.SW3 != c.sw3 || len(r.Data) != c.n {
			t.Errorf("%s: %+v %v", c.frame, r, err)
		}
		if !bytes.Equal(r.Encode(), hx(t, c.frame)) {
			t.Errorf("%s: re-encodes as % X", c.frame, r.Encode())
		}
	}
}

func TestDecoderResyncAndSplit(t *testing.T) {
	find := hx(t, "AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97")
	none := hx(t, "AA AA AA 96 69 00 04 00 00 80 84")
	// The stray byte logged by a public source [9], garbage, then two
	// frames, fed one byte at a time.
	stream := append(hx(t, "13 37 AA 00 AA AA 96 69"), []byte{}...)
	stream = append(stream[:2], append(hx(t, "AA 00"), find...)...)
	stream = append(stream, 0xAA, 0x96)
	stream = append(stream, none...)
	var d Decoder
	var got [][]byte
	for _, b := range stream {
		d.Write([]byte{b})
		for {
			body, err := d.Next()
			if err != nil {
				t.Fatalf("unexpected %v", err)
			}
			if body == nil {
				break
			}
			got = append(got, body)
		}
	}
	if len(got) != 2 || got[0][2] != 0x9F || got[1][2] != 0x80 {
		t.Fatalf("got % X", got)
	}
	if d.Skipped() != 6 {
		t.Errorf("skipped %d garbage bytes, want 6", d.Skipped())
	}
}

func TestDecoderRejects(t *testing.T) {
	var d Decoder
	bad := hx(t, "AA AA AA 96 69 00 04 00 00 80 85") // CHK off by one
	good := hx(t, "AA AA AA 96 69 00 04 00 00 90 94")
	d.Write(append(bad, good...))
	_, err := d.Next()
	var fe *FrameError
	if !errors.As(err, &fe) || !errors.Is(err, ErrChecksum) || fe.Want != 0x84 || fe.Got != 0x85 {
		t.Fatalf("bad checksum: %v", err)
	}
	body, err := d.Next()
	if err != nil || body == nil || body[2] != 0x90 {
		t.Fatalf("after a bad frame the next good one must decode: % X %v", body, err)
	}

	d.Write(hx(t, "AA AA AA 96 69 FF FF 00"))
	if _, err := d.Next(); !errors.Is(err, ErrLength) {
		t.Fatalf("LEN FFFF: %v", err)
	}
	d.Write(hx(t, "AA AA AA 96 69 00 01 00"))
	if _, err := d.Next(); !errors.Is(err, ErrLength) {
		t.Fatalf("LEN 1: %v", err)
	}
	// A public USB test sends find with CHK 21 instead of 22 [34].
	d.Reset()
	d.Write(hx(t, "AA AA AA 96 69 00 03 20 01 21"))
	if _, err := d.Next(); !errors.Is(err, ErrChecksum) {
		t.Fatalf("find with CHK 21: %v", err)
	}
}

// FuzzDecoder: the decoder never panics, never returns a frame whose XOR
// or length is wrong, and every frame it returns re-encodes to bytes that
// were in the input.
func FuzzDecoder(f *testing.F) {
	for _, s := range []string{
		"AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97",
		"AA AA AA 96 69 00 04 00 00 80 84 AA AA AA 96 69 00 04 00 00 90 94",
		"AA 00 AA AA 96 69 00 03 20 01 22",
		"AA AA AA 96 69 FF FF",
		"AA AA AA 96 69 00 04 00 00 80 85",
		"AA AA AA AA AA 96 69 00 03 10 FF EC",
	} {
		f.Add(hx(f, s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, split uint8) {
		var d Decoder
		step := int(split%64) + 1
		for off := 0; off < len(in); off += step {
			d.Write(in[off:min(off+step, len(in))])
			for {
				body, err := d.Next()
				if err != nil {
					var fe *FrameError
					if !errors.As(err, &fe) {
						t.Fatalf("untyped error %v", err)
					}
					continue
				}
				if body == nil {
					break
				}
				if len(body)+1 < MinLen || len(body)+1 > MaxLen {
					t.Fatalf("frame body of %d bytes", len(body))
				}
				frame := EncodeFrame(body)
				if xor(frame[5:]) != 0 {
					t.Fatalf("returned a frame whose checksum is wrong")
				}
				if !bytes.Contains(in, frame) {
					t.Fatalf("returned a frame that was not in the input: % X", frame)
				}
			}
		}
		if d.Buffered() > len(in) {
			t.Fatalf("buffered %d > input %d", d.Buffered(), len(in))
		}
	})
}
