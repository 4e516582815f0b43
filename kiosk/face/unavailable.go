package face

import (
	"context"
	"fmt"
	"image"

	"eidkiosk/kiosk/session"
)

// Unavailable is the capturer a kiosk runs when the face pipeline cannot
// start (a model missing or altered: facemodel.ErrUnavailable): every
// capture fails at once with session.ErrCameraFault wrapping the cause, so
// the visit ends with the camera fault screen and the health check says
// why, instead of the kiosk crashing or capturing with another detector.
type Unavailable struct{ Err error }

var _ session.FaceCapturer = Unavailable{}

// Capture fails with session.ErrCameraFault.
func (u Unavailable) Capture(ctx context.Context, nonce []byte, report func(session.FaceProgress)) (session.FaceResult, error) {
	return session.FaceResult{}, fmt.Errorf("face: unavailable: %w: %v", session.ErrCameraFault, u.Err)
}

// Preview has no picture.
func (u Unavailable) Preview(dst *image.RGBA) (uint64, bool) { return 0, false }

// PreviewSize is zero.
func (u Unavailable) PreviewSize() image.Point { return image.Point{} }
