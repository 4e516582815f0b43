package eval

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"eidkiosk/kiosk/face/liveness"
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

func TestMarginsPickTheValuesNearestTheThreshold(t *testing.T) {
	c := liveness.DefaultConfig()
	outs := []Outcome{
		{Recording: Recording{Species: BonaFide}, Scores: map[string]float64{liveness.CheckNonRigid: 40, liveness.CheckMoire: 20}},
		{Recording: Recording{Species: BonaFide}, Scores: map[string]float64{liveness.CheckNonRigid: 9, liveness.CheckMoire: 31}},
		{Recording: Recording{Species: "print"}, Scores: map[string]float64{liveness.CheckNonRigid: 0, liveness.CheckMoire: 12}},
		{Recording: Recording{Species: "print"}, Scores: map[string]float64{liveness.CheckNonRigid: 2, liveness.CheckMoire: 10}},
		{Recording: Recording{Species: "screen"}, Scores: map[string]float64{liveness.CheckNonRigid: 5, liveness.CheckMoire: 90}},
	}
	ms := Margins(outs, c)
	get := func(name string) Margin {
		for _, m := range ms {
			if m.Check == name {
				return m
			}
		}
		t.Fatalf("no margin for %s", name)
		return Margin{}
	}
	nr, mo := get(liveness.CheckNonRigid), get(liveness.CheckMoire)
	// Bona fide: the lowest non-rigid count, the highest moiré; attacks:
	// the highest non-rigid count, the lowest moiré, per species.
	if nr.BonaFide != 9 || nr.Species["print"] != 2 || nr.Species["screen"] != 5 || !nr.LiveAbove {
		t.Errorf("non-rigid margin %+v", nr)
	}
	if mo.BonaFide != 31 || mo.Species["print"] != 10 || mo.Species["screen"] != 90 || mo.Threshold != c.MaxMoire {
		t.Errorf("moiré margin %+v", mo)
	}
	var b strings.Builder
	WriteMargins(&b, ms)
	if !strings.Contains(b.String(), "passive.nonrigid") || !strings.Contains(b.String(), "screen") {
		t.Errorf("table:\n%s", b.String())
	}
}
