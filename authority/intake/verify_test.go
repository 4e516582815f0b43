package intake_test

import (
	"context"
	"errors"
	"testing"

	"eidkiosk/authority/intake"
	"eidkiosk/authority/intake/intaketest"
)

// matcher is a stand-in for the Ministry's face matcher: it sees the card's
// WLT block and the portrait, and answers a fixed score.
type matcher struct {
	score float64
	err   error
	saw   int
}

func (m *matcher) Match(ctx context.Context, cardPhoto, portrait []byte) (float64, error) {
	if len(cardPhoto) == 1024 && len(portrait) > 0 && portrait[0] == 0xFF {
		m.saw++
	}
	return m.score, m.err
}

func TestVerifiersFlag(t *testing.T) {
	for _, c := range []struct {
		name string
		m    *matcher
		want string
	}{
		{"match", &matcher{score: 0.9}, ""},
		{"mismatch", &matcher{score: 0.2}, intake.FlagFaceMismatch},
		{"matcher down", &matcher{err: errors.New("offline")}, intake.FlagFaceUnchecked},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, intake.Options{Verifiers: []intake.Verifier{intake.FaceCheck{Matcher: c.m, Threshold: 0.6}}})
			rc, pkg := f.seal(t, f.sealA, intaketest.CitizenName, intaketest.CitizenNumber)
			if _, err := f.auth.Intake.Submit(context.Background(), pkg, rc.EnrollmentID, f.a.Cert, intake.FromUplink); err != nil {
				t.Fatal(err)
			}
			if c.m.saw != 1 {
				t.Fatalf("matcher called %d times with the card photo and portrait", c.m.saw)
			}
			st, err := f.auth.Intake.Status(context.Background(), rc.EnrollmentID)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if len(st.Flags) > 0 {
				got = st.Flags[0]
			}
			if got != c.want || len(st.Flags) > 1 {
				t.Fatalf("flags %v, want %q", st.Flags, c.want)
			}
		})
	}
}
