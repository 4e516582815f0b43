package app

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"sync"

	"gocv.io/x/gocv"

	"eidkiosk/drivers/idcard"
	"eidkiosk/facematch"
	"eidkiosk/facematch/score"
	"eidkiosk/internal/pii"
	"eidkiosk/kiosk/face"
	"eidkiosk/kiosk/session"
)

// cardMatcher adapts facematch to session.CardMatcher: the card photo
// against the capture's portrait and quality-passing samples.
type cardMatcher struct {
	m  *facematch.Matcher
	th score.Thresholds
}

// MatchCard implements session.CardMatcher.
func (c cardMatcher) MatchCard(ctx context.Context, card image.Image, f session.FaceResult) (session.FaceMatch, error) {
	// The portrait and the capture's quality-passing samples; the
	// challenge evidence (turned heads, closed eyes) is not a template.
	frames := append([][]byte{f.Portrait}, f.MatchFrames...)
	s, n, err := c.m.MatchPicture(ctx, card, frames)
	if err != nil {
		return session.FaceMatch{}, err
	}
	return session.FaceMatch{Decision: c.th.Decide(s), Score: s, Frames: n}, nil
}

// buildCardMatcher loads the face-matching models when the card photo can be
// decoded (a WLT decoder is configured, or the simulator's test decoder is
// given): the visit then compares the face with the card photo. Without a
// decoder there is nothing to compare with and no model is loaded. A
// missing or altered model stops start-up with the file and the fix.
func (s *System) buildCardMatcher(photo idcard.PhotoDecoder) (session.CardMatcher, error) {
	if photo == nil {
		return nil, nil
	}
	m, err := facematch.Open(facematch.DefaultQuality)
	if err != nil {
		return nil, fmt.Errorf("app: face matching against the card photo: %w", err)
	}
	s.closers = append(s.closers, m.Close)
	return cardMatcher{m: m, th: score.Default}, nil
}

// Match frames: the live template of the 1:1 comparison is the median over
// at least score.MinFrames quality-passing frames of the capture. The face
// pipeline hands them over (face.Options.OnSamples, the best frame of each
// 400 ms with its landmarks); they are kept as JPEG in
// FaceResult.MatchFrames, sealed with the enrollment for the authority's own
// comparison, and wiped with the rest of the capture.
const matchFrameWidth = 480 // JPEG width: a kiosk face stays well above the matcher's 40 px

// matchFrames carries one capture's samples from the pipeline's callback to
// the capturer wrapper (one capture at a time, as the engine runs them).
type matchFrames struct {
	mu     sync.Mutex
	frames [][]byte
}

// onSamples is the pipeline's face.SamplesFunc: each frame scaled to
// matchFrameWidth and JPEG-encoded in memory (never to disk).
func (m *matchFrames) onSamples(ctx context.Context, ss []face.Sample) error {
	var out [][]byte
	small := gocv.NewMat()
	defer small.Close()
	for _, smp := range ss {
		src := smp.Frame
		if src.Cols() > matchFrameWidth {
			h := src.Rows() * matchFrameWidth / src.Cols()
			gocv.Resize(src, &small, image.Pt(matchFrameWidth, h), 0, 0, gocv.InterpolationArea)
			src = small
		}
		buf, err := gocv.IMEncodeWithParams(gocv.JPEGFileExt, src, []int{gocv.IMWriteJpegQuality, 90})
		if err != nil {
			continue
		}
		out = append(out, bytes.Clone(buf.GetBytes()))
		pii.Zero(buf.GetBytes())
		buf.Close()
	}
	if small.Cols() > 0 {
		small.SetTo(gocv.NewScalar(0, 0, 0, 0))
	}
	m.mu.Lock()
	m.frames = append(m.frames, out...)
	m.mu.Unlock()
	return nil
}

// take hands over (and forgets) what the last capture delivered.
func (m *matchFrames) take() [][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.frames
	m.frames = nil
	return f
}

// sampledCapturer runs the face pipeline and puts the capture's samples in
// FaceResult.MatchFrames.
type sampledCapturer struct {
	session.FaceCapturer
	m *matchFrames
}

// sampleForMatch wraps the engine's capturer when the kiosk's own pipeline
// delivers samples (an injected capturer is used as is).
func (s *System) sampleForMatch(f session.FaceCapturer) session.FaceCapturer {
	if s.match == nil {
		return f
	}
	if _, ok := f.(*face.Capturer); !ok {
		return f
	}
	return sampledCapturer{FaceCapturer: f, m: s.match}
}

// Capture implements session.FaceCapturer.
func (c sampledCapturer) Capture(ctx context.Context, nonce []byte, report func(session.FaceProgress)) (session.FaceResult, error) {
	for _, f := range c.m.take() { // left over from a capture that failed late
		pii.Zero(f)
	}
	res, err := c.FaceCapturer.Capture(ctx, nonce, report)
	frames := c.m.take()
	if err != nil {
		for _, f := range frames {
			pii.Zero(f)
		}
		return res, err
	}
	res.MatchFrames = frames
	return res, nil
}
