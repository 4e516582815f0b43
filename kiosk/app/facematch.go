package app

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"time"

	"eidkiosk/drivers/camera"
	"eidkiosk/drivers/idcard"
	"eidkiosk/facematch"
	"eidkiosk/facematch/score"
	"eidkiosk/internal/pii"
	"eidkiosk/kiosk/session"
)

// cardMatcher adapts facematch to session.CardMatcher: the card photo
// against the capture's portrait and evidence frames.
type cardMatcher struct {
	m  *facematch.Matcher
	th score.Thresholds
}

// MatchCard implements session.CardMatcher.
func (c cardMatcher) MatchCard(ctx context.Context, card image.Image, f session.FaceResult) (session.FaceMatch, error) {
	frames := append([][]byte{f.Portrait}, f.Liveness.Evidence...)
	frames = append(frames, f.MatchFrames...)
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

// Sampling of match frames: the live template of the 1:1 comparison needs
// at least score.MinFrames usable frames, more than the portrait and the
// few evidence frames the liveness pipeline keeps.
const (
	matchSampleEvery = 250 * time.Millisecond
	matchSampleKeep  = 8   // the last frames before the portrait was chosen
	matchSampleWidth = 320 // JPEG width: a kiosk face stays ≥ 60 px
)

// sampledCapturer runs the face pipeline and, while it runs, copies the
// camera's latest frame every matchSampleEvery (Camera.Preview: it does not
// consume frames, so pacing is undisturbed), keeping the last
// matchSampleKeep as JPEG in FaceResult.MatchFrames. They are wiped with
// the rest of the capture.
type sampledCapturer struct {
	session.FaceCapturer
	cam *camera.Camera
}

// sampleForMatch wraps the engine's capturer when the kiosk has its own
// camera pipeline (an injected capturer is used as is).
func (s *System) sampleForMatch(f session.FaceCapturer) session.FaceCapturer {
	if s.camera == nil {
		return f
	}
	return sampledCapturer{FaceCapturer: f, cam: s.camera}
}

// Capture implements session.FaceCapturer.
func (c sampledCapturer) Capture(ctx context.Context, nonce []byte, report func(session.FaceProgress)) (session.FaceResult, error) {
	sctx, stop := context.WithCancel(ctx)
	got := make(chan [][]byte, 1)
	go func() { got <- c.sample(sctx) }()
	res, err := c.FaceCapturer.Capture(ctx, nonce, report)
	stop()
	frames := <-got
	if err != nil {
		for _, f := range frames {
			pii.Zero(f)
		}
		return res, err
	}
	res.MatchFrames = frames
	return res, nil
}

func (c sampledCapturer) sample(ctx context.Context) [][]byte {
	var frames [][]byte
	var last uint64
	t := time.NewTicker(matchSampleEvery)
	defer t.Stop()
	var rgba *image.RGBA
	defer func() {
		if rgba != nil {
			clear(rgba.Pix)
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return frames
		case <-t.C:
		}
		sz := c.cam.PreviewSize()
		if sz.X <= 0 || sz.Y <= 0 {
			continue
		}
		w := min(sz.X, matchSampleWidth)
		h := sz.Y * w / sz.X
		if rgba == nil || rgba.Bounds().Dx() != w || rgba.Bounds().Dy() != h {
			rgba = image.NewRGBA(image.Rect(0, 0, w, h))
		}
		seq, ok := c.cam.Preview(rgba)
		if !ok || seq == last {
			continue
		}
		last = seq
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, rgba, &jpeg.Options{Quality: 80}); err != nil {
			continue
		}
		frames = append(frames, buf.Bytes())
		if len(frames) > matchSampleKeep {
			pii.Zero(frames[0])
			frames = frames[1:]
		}
	}
}
