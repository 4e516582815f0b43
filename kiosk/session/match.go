package session

import (
	"context"
	"errors"
	"image"
	"image/draw"

	"eidkiosk/facematch/score"
)

// CardMatcher compares a successful capture with the card holder's photo
// decoded from the chip (1:1). It runs on the capture's goroutine after the
// capture and must honour ctx. kiosk/app adapts facematch to it.
type CardMatcher interface {
	MatchCard(ctx context.Context, card image.Image, face FaceResult) (FaceMatch, error)
}

// FaceMatch is the comparison of a capture with the card photo. The
// citizen is never shown the score (GB/T 38671: the decision only); it is
// sealed into the enrollment for the authority's officers.
type FaceMatch struct {
	Decision score.Decision
	Score    float64
	Frames   int // capture frames in the live template
}

// ErrFaceMismatch is the capture's error when the face is not the card
// photo's (score.NoMatch).
var ErrFaceMismatch = errors.New("session: the face does not match the card photo")

// mismatchRetries is how many new captures a no_match gets before the visit
// ends with FaultFaceMismatch ("please see an officer").
const mismatchRetries = 1

// cardPhotoForMatch copies the decoded card photo for the capture's
// goroutine (the engine wipes its own copy when the visit ends), or returns
// nil when there is nothing to compare with.
func (e *Engine) cardPhotoForMatch() *image.RGBA {
	if e.o.Match == nil || e.visit == nil || e.visit.photo == nil || e.visit.photo.Bounds().Empty() {
		return nil
	}
	src := e.visit.photo
	dst := image.NewRGBA(image.Rect(0, 0, src.Bounds().Dx(), src.Bounds().Dy()))
	draw.Draw(dst, dst.Bounds(), src, src.Bounds().Min, draw.Src)
	return dst
}

// matchCard compares a successful capture with the card photo: match and
// refer go on (refer is sealed as a flag for an officer), no_match returns
// ErrFaceMismatch. When the comparison itself fails (too few usable frames,
// a model error) the visit goes on unchecked and the authority, which
// compares again, flags it. It wipes its copy of the card photo.
func (e *Engine) matchCard(ctx context.Context, card *image.RGBA, res FaceResult, err error) (FaceResult, error) {
	if card == nil {
		return res, err
	}
	defer clear(card.Pix)
	if err != nil {
		return res, err
	}
	m, merr := e.o.Match.MatchCard(ctx, card, res)
	switch {
	case merr != nil && ctx.Err() != nil:
		return res, ctx.Err()
	case merr != nil:
		e.log.Warn("face not compared with the card photo; the authority will", "err", merr)
		return res, nil
	}
	e.log.Info("face compared with the card photo", "decision", string(m.Decision))
	if m.Decision == score.NoMatch {
		return res, ErrFaceMismatch
	}
	res.Match = &m
	return res, nil
}

// faceMismatch handles a capture that did not match the card photo: one
// more capture, then the visit ends with "please see an officer".
func (e *Engine) faceMismatch(res FaceResult) {
	wipeFace(&res)
	if e.visit.mismatches < mismatchRetries {
		e.visit.mismatches++
		e.retry = true
		e.log.Info("face did not match the card photo; one more capture")
		e.startFace()
		return
	}
	e.fail(FaultFaceMismatch)
}
