package app

import (
	"context"
	"fmt"
	"image"

	"eidkiosk/drivers/idcard"
	"eidkiosk/facematch"
	"eidkiosk/facematch/score"
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
