package eval

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseLabels(t *testing.T) {
	ls, err := ParseLabels(strings.NewReader("# the man blinks\nchallenge.blink 1.5 4.8\n\nchallenge.open_mouth 5 6 # talking\n"))
	if err != nil || len(ls) != 2 || ls[0].From != 1500*time.Millisecond || ls[1].Challenge != "challenge.open_mouth" {
		t.Fatalf("%+v %v", ls, err)
	}
	var b bytes.Buffer
	if err := FormatLabels(&b, ls); err != nil {
		t.Fatal(err)
	}
	again, err := ParseLabels(&b)
	if err != nil || len(again) != 2 || again[0] != ls[0] {
		t.Fatalf("round trip %+v %v", again, err)
	}
	for _, bad := range []string{"challenge.blink 1", "challenge.blink 3 2", "challenge.juggle 1 2", "challenge.blink a b"} {
		if _, err := ParseLabels(strings.NewReader(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestSummarize(t *testing.T) {
	bf := func(live bool) Outcome { return Outcome{Recording: Recording{Species: BonaFide}, Live: live} }
	at := func(s string, live bool) Outcome { return Outcome{Recording: Recording{Species: s}, Live: live} }
	r := Summarize([]Outcome{
		bf(true), bf(true), bf(false), bf(true),
		at("print", false), at("print", true), at("print", false), at("print", false),
		at("screen", false), at("screen", false),
		{Recording: Recording{Species: "screen"}, Live: true, Err: errTest},
	})
	if r.BonaFide != 4 || r.Rejected != 1 || r.BPCER != 0.25 {
		t.Fatalf("BPCER %+v", r)
	}
	if len(r.Species) != 2 || r.Species[0].Species != "print" || r.Species[0].APCER != 0.25 || r.Species[1].APCER != 0 || r.Species[1].N != 3 {
		t.Fatalf("species %+v", r.Species)
	}
	if r.MaxAPCER != 0.25 || r.Errors != 1 {
		t.Fatalf("%+v", r)
	}
	var b bytes.Buffer
	r.Write(&b)
	if !strings.Contains(b.String(), "25.0%") {
		t.Fatal(b.String())
	}
	if math.IsNaN(Summarize(nil).BPCER) {
		t.Fatal("NaN on an empty run")
	}
}

var errTest = bytesErr("unreadable")

type bytesErr string

func (e bytesErr) Error() string { return string(e) }
