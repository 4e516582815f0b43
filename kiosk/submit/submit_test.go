package submit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"strings"
	"testing"
	"time"

	"eidkiosk/authority/intake/intaketest"
	"eidkiosk/enroll"
	"eidkiosk/kiosk/submit"
)

func setup(t testing.TB) (*enroll.Sealer, func([]byte) (*enroll.Record, error)) {
	sg, err := intaketest.NewSealing()
	if err != nil {
		t.Fatal(err)
	}
	return sg.Sealer, sg.Open
}

type memQueue struct{ pkgs map[string][]byte }

func (q *memQueue) Enqueue(ctx context.Context, id string, pkg []byte) error {
	q.pkgs[id] = bytes.Clone(pkg)
	return nil
}

type failQueue struct{}

func (failQueue) Enqueue(ctx context.Context, id string, pkg []byte) error {
	return errors.New("disk full")
}

func TestSubmitSealsAndKeepsNothing(t *testing.T) {
	s, open := setup(t)
	rnd := mrand.New(mrand.NewPCG(1, 1))
	e, err := intaketest.Enrollment(intaketest.CitizenName, intaketest.CitizenNumber, rnd)
	if err != nil {
		t.Fatal(err)
	}
	q := &memQueue{pkgs: map[string][]byte{}}
	rc, err := submit.NewSubmitter(s, q, "v1", nil, nil).Submit(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	pkg := q.pkgs[rc.EnrollmentID]
	if pkg == nil {
		t.Fatal("nothing queued")
	}
	for _, secret := range []string{intaketest.CitizenName, intaketest.CitizenNumber} {
		if bytes.Contains(pkg, []byte(secret)) || bytes.Contains(pkg, intaketest.UCS2(secret)) {
			t.Error("package holds personal data in clear")
		}
	}
	if bytes.Contains(pkg, e.Face.Portrait[100:200]) {
		t.Error("package holds the portrait in clear")
	}
	// The caller's enrollment is untouched (the engine wipes it), and
	// changing it afterwards changes nothing sealed.
	if e.Card.Number.Reveal() != intaketest.CitizenNumber || e.Face.Portrait[0] != 0xFF {
		t.Fatal("Submit changed the caller's enrollment")
	}
	e.Card.Wipe()
	clear(e.Face.Portrait)
	r, err := open(pkg)
	if err != nil {
		t.Fatal(err)
	}
	if r.Card.Number != intaketest.CitizenNumber || r.Portrait[0] != 0xFF || r.EnrollmentID != rc.EnrollmentID {
		t.Fatal("sealed record shares memory with the enrollment")
	}
	if !strings.HasPrefix(rc.Short, "NS01-") || len(rc.Short) != 14 {
		t.Errorf("short %q", rc.Short)
	}
	id, code, err := enroll.ParseQR(rc.QR)
	if err != nil || id != rc.EnrollmentID || code != r.BindingCode {
		t.Errorf("QR %q: %v", rc.QR, err)
	}
	if strings.Contains(rc.QR, intaketest.CitizenNumber) || strings.Contains(rc.QR, intaketest.CitizenName) {
		t.Error("QR carries personal data")
	}
	// The record never prints its contents.
	for _, out := range []string{fmt.Sprintf("%v %+v %#v %s", *r, *r, *r, r.Card), logLine(r)} {
		if strings.Contains(out, intaketest.CitizenNumber) || strings.Contains(out, intaketest.CitizenName) {
			t.Errorf("record printed personal data: %s", out)
		}
	}
}

func logLine(r *enroll.Record) string {
	var b bytes.Buffer
	slog.New(slog.NewTextHandler(&b, nil)).Info("x", "rec", *r, "card", r.Card)
	return b.String()
}

func TestSubmitFailsCleanly(t *testing.T) {
	s, _ := setup(t)
	e, _ := intaketest.Enrollment(intaketest.CitizenName, intaketest.CitizenNumber, mrand.New(mrand.NewPCG(1, 1)))
	_, err := submit.NewSubmitter(s, failQueue{}, "v1", nil, nil).Submit(context.Background(), e)
	if err == nil || !strings.Contains(err.Error(), "disk full") || strings.Contains(err.Error(), intaketest.CitizenNumber) {
		t.Fatalf("queue failure: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := submit.NewSubmitter(s, &memQueue{pkgs: map[string][]byte{}}, "v1", nil, nil).Submit(ctx, e); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestDeterministicRecord(t *testing.T) {
	e, _ := intaketest.Enrollment(intaketest.CitizenName, intaketest.CitizenNumber, mrand.New(mrand.NewPCG(1, 1)))
	now := time.Now()
	var first []byte
	for range 20 { // map order (scores) varies between runs; the bytes must not
		r := submit.Record(e, "0190a0a0-0000-7000-8000-000000000000", "KT-1", "NS-PSB-001", "v1", now, "CODE")
		b, err := enroll.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = b
		} else if !bytes.Equal(first, b) {
			t.Fatal("record encoding is not deterministic")
		}
	}
}

// The record carries the card's dates as the chip wrote them, not
// re-formatted from the parsed times; 长期 travels as NoExpiry.
func TestRecordCarriesChipDates(t *testing.T) {
	e, err := intaketest.Enrollment(intaketest.CitizenName, intaketest.CitizenNumber, mrand.New(mrand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	e.Card.BirthDate = time.Time{} // only the chip's string is used
	e.Card.ValidTo, e.Card.ValidToText, e.Card.NoExpiry = time.Time{}, "长期", true
	r := submit.Record(e, "0190a0a0-0000-7000-8000-000000000000", "KT-1", "NS-PSB-001", "v1", time.Now(), "CODE")
	defer r.Wipe()
	if r.Card.BirthDate != "19900307" || r.Card.ValidFrom != "20200101" || r.Card.ValidTo != "" || !r.Card.NoExpiry {
		t.Fatalf("record dates %q %q %q %v", r.Card.BirthDate, r.Card.ValidFrom, r.Card.ValidTo, r.Card.NoExpiry)
	}
}
