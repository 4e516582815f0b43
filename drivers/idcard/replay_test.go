package idcard_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	reader "eidkiosk/drivers/idcard"
	"eidkiosk/drivers/idcard/sim"
	"eidkiosk/idcard"
)

// checkSequence is what every recording in testdata/recordings holds: SAM
// status, SAM ID, then find, select and read base message of one card.
func checkSequence(r *reader.Reader) (string, idcard.Card, error) {
	ctx := context.Background()
	if err := r.Status(ctx); err != nil {
		return "", idcard.Card{}, err
	}
	id, err := r.SAMID(ctx)
	if err != nil {
		return "", idcard.Card{}, err
	}
	c, _, err := r.ReadCard(ctx, false)
	return id, c, err
}

func TestRecordAndReplay(t *testing.T) {
	s := startSim(t, sim.Options{})
	s.Place(3)
	p, err := reader.OpenSerial(s.Path(), 115200)
	if err != nil {
		t.Fatal(err)
	}
	var tr bytes.Buffer
	r := reader.NewReader(reader.Record(p, &tr), 115200, reader.Timeouts{})
	id, c, err := checkSequence(r)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}

	pb, err := reader.ParseTranscript(bytes.NewReader(tr.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	r2 := reader.NewReader(pb, 115200, reader.Timeouts{})
	id2, c2, err := checkSequence(r2)
	if err != nil || id2 != id {
		t.Fatalf("replay: %v", err)
	}
	sameCard(t, "replayed", c2, c)
	if err := r2.Close(); err != nil {
		t.Fatalf("transcript not fully played: %v", err)
	}

	// A host that deviates from the transcript is caught.
	pb, _ = reader.ParseTranscript(bytes.NewReader(tr.Bytes()))
	r3 := reader.NewReader(pb, 115200, reader.Timeouts{})
	if err := r3.Find(context.Background()); err == nil {
		t.Fatal("find accepted where the transcript has SAM status")
	}
	if err := r3.Close(); !errors.Is(err, reader.ErrPlayback) {
		t.Fatalf("close after a mismatch: %v", err)
	}
}

// Every recording in testdata/recordings replays through the driver and
// decodes. Recordings of real readers (with vendor test cards) go beside the
// simulator's; IDCARD_UPDATE_RECORDINGS=1 regenerates sim-*.txt.
func TestReplayRecordings(t *testing.T) {
	if os.Getenv("IDCARD_UPDATE_RECORDINGS") == "1" {
		s := startSim(t, sim.Options{})
		for name, card := range map[string]int{"sim-resident-reference.txt": 0, "sim-foreign-2017.txt": 2} {
			s.Place(card)
			p, err := reader.OpenSerial(s.Path(), 115200)
			if err != nil {
				t.Fatal(err)
			}
			var tr bytes.Buffer
			tr.WriteString("# GA 467 exchange recorded from the simulator (synthetic card, fictional person):\n# SAM status, SAM ID, find, select, read base message.\n")
			r := reader.NewReader(reader.Record(p, &tr), 115200, reader.Timeouts{})
			_, _, err = checkSequence(r)
			r.Close()
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join("testdata/recordings", name), tr.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	files, _ := filepath.Glob("testdata/recordings/*.txt")
	if len(files) == 0 {
		t.Fatal("no recordings")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		pb, err := reader.ParseTranscript(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		r := reader.NewReader(pb, 115200, reader.Timeouts{})
		id, c, err := checkSequence(r)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if id == "" || c.Kind == idcard.KindUnknown || len(c.Photo) != idcard.PhotoLen {
			t.Errorf("%s: SAM %q kind %s", f, id, c.Kind)
		}
		if err := r.Close(); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
