package intake_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"eidkiosk/authority/intake"
	"eidkiosk/authority/intake/intaketest"
)

// TestOperatorViewsMasked: `authority enrollments list|show` print no name,
// number, address or birth day unless --reveal, and print them with it.
func TestOperatorViewsMasked(t *testing.T) {
	f := newFixture(t, intake.Options{})
	ctx := context.Background()
	rc, pkg := f.seal(t, f.sealA, intaketest.CitizenName, intaketest.CitizenNumber)
	if _, err := f.auth.Intake.Submit(ctx, pkg, rc.EnrollmentID, f.a.Cert, intake.FromUplink); err != nil {
		t.Fatal(err)
	}
	secrets := []string{intaketest.CitizenName, intaketest.CitizenNumber, intaketest.CitizenAddress, "19900307"}
	for _, reveal := range []bool{false, true} {
		var out bytes.Buffer
		list, err := f.auth.Intake.List(ctx, intake.ListOptions{Reveal: reveal})
		if err != nil {
			t.Fatal(err)
		}
		intake.WriteList(&out, list)
		d, err := f.auth.Intake.Show(ctx, rc.EnrollmentID, reveal)
		if err != nil {
			t.Fatal(err)
		}
		if err := intake.WriteDetail(&out, d); err != nil {
			t.Fatal(err)
		}
		s := out.String()
		for _, want := range []string{rc.EnrollmentID, rc.Short, "KT-A", "challenge.blink", "privacy-2026-01"} {
			if !strings.Contains(s, want) {
				t.Errorf("reveal=%v: %q missing", reveal, want)
			}
		}
		for _, sec := range secrets {
			if strings.Contains(s, sec) != reveal {
				t.Errorf("reveal=%v: %q shown=%v", reveal, sec, !reveal)
			}
		}
		if !reveal && !strings.Contains(s, "9901**********1237") {
			t.Errorf("masked number missing:\n%s", s)
		}
	}
}
