package intake_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"eidkiosk/authority/intake"
	"eidkiosk/authority/intake/intaketest"
	"eidkiosk/facematch/score"
	"eidkiosk/kiosk/session"
	"eidkiosk/kiosk/submit"
)

// matcher stands in for facematch.Matcher (tested on real faces in
// facematch and, wired, in authority/service): it records what it was given
// and answers a fixed score, so that the flag mapping is tested here.
type matcher struct {
	score  float64
	err    error
	ref    []byte
	frames int
}

func (m *matcher) Match(ctx context.Context, ref []byte, capture [][]byte) (float64, int, error) {
	m.ref = bytes.Clone(ref)
	for _, f := range capture {
		if len(f) > 3 && f[0] == 0xFF && f[1] == 0xD8 {
			m.frames++
		}
	}
	return m.score, m.frames, m.err
}

// cardDecoder stands in for a licensed WLT decoder.
type cardDecoder struct{ out []byte }

func (d cardDecoder) DecodePhoto(ctx context.Context, wlt []byte) ([]byte, error) {
	if len(wlt) != 1024 {
		return nil, errors.New("not a WLT block")
	}
	return d.out, nil
}

var refPhoto = []byte("\xFF\xD8\xFF\xE0 a registered reference photo")

func TestFaceCheckFlags(t *testing.T) {
	th := score.Thresholds{Match: 0.4, Refer: 0.3}
	for _, c := range []struct {
		name      string
		m         *matcher
		reference bool
		decoder   intake.PhotoDecoder
		want      string
		wantRef   []byte
	}{
		{"match", &matcher{score: 0.9}, true, nil, "", refPhoto},
		{"refer", &matcher{score: 0.35}, true, nil, intake.FlagFaceRefer, refPhoto},
		{"mismatch", &matcher{score: 0.2}, true, nil, intake.FlagFaceMismatch, refPhoto},
		{"matcher down", &matcher{err: errors.New("offline")}, true, nil, intake.FlagFaceUnchecked, refPhoto},
		{"no reference, no decoder", &matcher{score: 0.9}, false, nil, intake.FlagFaceUnchecked, nil},
		{"card photo decoded", &matcher{score: 0.2}, false, cardDecoder{[]byte("BM decoded card photo")}, intake.FlagFaceMismatch, []byte("BM decoded card photo")},
		{"reference preferred", &matcher{score: 0.9}, true, cardDecoder{[]byte("BM decoded card photo")}, "", refPhoto},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, intake.Options{Face: intake.FaceCheck{Matcher: c.m, Thresholds: th, CardPhotos: c.decoder}})
			if c.reference {
				if err := f.auth.Intake.PutPhoto(context.Background(), intaketest.CitizenNumber, refPhoto); err != nil {
					t.Fatal(err)
				}
			}
			rc, pkg := f.seal(t, f.sealA, intaketest.CitizenName, intaketest.CitizenNumber)
			if _, err := f.auth.Intake.Submit(context.Background(), pkg, rc.EnrollmentID, f.a.Cert, intake.FromUplink); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(c.m.ref, c.wantRef) {
				t.Fatalf("matcher saw reference %q, want %q", c.m.ref, c.wantRef)
			}
			if c.wantRef != nil && c.m.frames != 4 {
				t.Fatalf("matcher saw %d JPEG frames, want the portrait and 3 evidence frames", c.m.frames)
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

// A kiosk's refer decision travels sealed in the record and is flagged.
func TestKioskReferFlagged(t *testing.T) {
	f := newFixture(t, intake.Options{})
	ctx := context.Background()
	for _, c := range []struct {
		decision score.Decision
		want     string
	}{{score.Refer, intake.FlagKioskFaceRefer}, {score.Match, ""}} {
		e, err := intaketest.Enrollment(intaketest.CitizenName, intaketest.RandomNumber(f.rnd), f.rnd)
		if err != nil {
			t.Fatal(err)
		}
		e.Face.Match = &session.FaceMatch{Decision: c.decision, Score: 0.35, Frames: 5}
		q := &memQueue{}
		rc, err := submit.NewSubmitter(f.sealA, q, "test-1.0", nil, nil).Submit(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.auth.Intake.Submit(ctx, q.pkgs[rc.EnrollmentID], rc.EnrollmentID, f.a.Cert, intake.FromUplink); err != nil {
			t.Fatal(err)
		}
		st, err := f.auth.Intake.Status(ctx, rc.EnrollmentID)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(st.Flags, ","); got != c.want {
			t.Errorf("kiosk %s: flags %q, want %q", c.decision, got, c.want)
		}
	}
}
