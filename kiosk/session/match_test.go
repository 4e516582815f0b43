package session

import (
	"context"
	"errors"
	"image"
	"image/color"
	"sync"
	"testing"

	"eidkiosk/facematch/score"
)

// fakeMatcher answers queued decisions and records the card photo it saw.
// The real comparison (facematch) is tested on real faces in facematch and
// through kiosk/app.
type fakeMatcher struct {
	mu      sync.Mutex
	answers []FaceMatch
	err     error
	calls   int
	sawRed  bool
	sawImgs []*image.RGBA
}

func (m *fakeMatcher) MatchCard(ctx context.Context, card image.Image, f FaceResult) (FaceMatch, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	r, g, b, _ := card.At(3, 4).RGBA()
	m.sawRed = r>>8 == 200 && g == 0 && b == 0 && len(f.Portrait) > 0
	if rgba, ok := card.(*image.RGBA); ok {
		m.sawImgs = append(m.sawImgs, rgba)
	}
	if m.err != nil {
		return FaceMatch{}, m.err
	}
	a := m.answers[0]
	m.answers = m.answers[1:]
	return a, nil
}

// recSubmit keeps the submitted enrollment's face match.
type recSubmit struct {
	mu    sync.Mutex
	match []*FaceMatch
}

func (s *recSubmit) Submit(ctx context.Context, e *Enrollment) (Receipt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var m *FaceMatch
	if e.Face.Match != nil {
		c := *e.Face.Match
		m = &c
	}
	s.match = append(s.match, m)
	return Receipt{EnrollmentID: "0193-test", Short: "DEMO-0001"}, nil
}

// toFaceWithPhoto walks to the capture with a decoded card photo.
func (h *harness) toFaceWithPhoto() *faceCall {
	h.tap(ActStart)
	h.wait(CardWait)
	h.e.Send(CardPlaced{})
	h.wait(CardReading)
	c, _ := testCard()
	photo := image.NewRGBA(image.Rect(0, 0, 102, 126))
	for i := range photo.Pix {
		photo.Pix[i] = 0
	}
	photo.Set(3, 4, color.RGBA{200, 0, 0, 255})
	h.e.Send(CardRead{Card: c, Photo: photo})
	h.wait(DataShown)
	h.tap(ActConfirm)
	h.wait(Consent)
	h.tap(ActAgree)
	h.wait(FaceCapture)
	return h.faceCall()
}

func TestFaceMatchDecisions(t *testing.T) {
	for _, c := range []struct {
		name    string
		answers []FaceMatch
		err     error
		want    State
		fault   FaultKind
		sealed  score.Decision // "" for no match record
		retries int
	}{
		{"match", []FaceMatch{{Decision: score.Match, Score: 0.7, Frames: 5}}, nil, ReceiptShown, FaultNone, score.Match, 0},
		{"refer enrols with the decision", []FaceMatch{{Decision: score.Refer, Score: 0.35, Frames: 5}}, nil, ReceiptShown, FaultNone, score.Refer, 0},
		{"no_match then match", []FaceMatch{{Decision: score.NoMatch, Score: 0.1}, {Decision: score.Match, Score: 0.6}}, nil, ReceiptShown, FaultNone, score.Match, 1},
		{"no_match twice", []FaceMatch{{Decision: score.NoMatch, Score: 0.1}, {Decision: score.NoMatch, Score: 0.12}}, nil, Failed, FaultFaceMismatch, "", 1},
		{"comparison failed: unchecked", nil, errors.New("facematch: too few usable frames"), ReceiptShown, FaultNone, "", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := &fakeMatcher{answers: c.answers, err: c.err}
			sub := &recSubmit{}
			h := newHarness(t, func(o *Options) { o.Match, o.Submit = m, sub })
			fc := h.toFaceWithPhoto()
			for i := 0; ; i++ {
				fc.result <- faceReply{res: portraitResult()}
				if i == c.retries {
					break
				}
				v := h.wait(FaceCapture)
				if !v.Retry {
					t.Fatal("a no_match retry is not shown as a retry")
				}
				fc = h.faceCall()
			}
			if c.want == Failed {
				v := h.wait(Failed)
				if v.Fault != FaultFaceMismatch || v.Card != nil || v.Portrait != nil {
					t.Fatalf("failed view: fault %s, card %v", v.Fault, v.Card)
				}
				if FaultFaceMismatch.String() != "face-mismatch" {
					t.Fatalf("fault name %q", FaultFaceMismatch.String())
				}
			} else {
				h.wait(Review)
				h.tap(ActKeep)
				h.wait(ReceiptShown)
				sub.mu.Lock()
				got := sub.match
				sub.mu.Unlock()
				if len(got) != 1 || (c.sealed == "" && got[0] != nil) || (c.sealed != "" && (got[0] == nil || got[0].Decision != c.sealed)) {
					t.Fatalf("sealed face match %+v, want %q", got, c.sealed)
				}
			}
			m.mu.Lock()
			defer m.mu.Unlock()
			if m.calls != c.retries+1 || !m.sawRed {
				t.Fatalf("matcher called %d times (saw the card photo: %v)", m.calls, m.sawRed)
			}
			for _, img := range m.sawImgs {
				for _, p := range img.Pix {
					if p != 0 {
						t.Fatal("the matcher's copy of the card photo was not wiped")
					}
				}
			}
		})
	}
}

// Without a decoded card photo nothing is compared.
func TestFaceMatchNeedsCardPhoto(t *testing.T) {
	m := &fakeMatcher{answers: []FaceMatch{{Decision: score.NoMatch}}}
	h := newHarness(t, func(o *Options) { o.Match = m })
	fc := h.toFace()
	fc.result <- faceReply{res: portraitResult()}
	h.wait(Review)
	if m.calls != 0 {
		t.Fatalf("matcher called %d times without a card photo", m.calls)
	}
}
