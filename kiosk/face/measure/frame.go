// Package measure holds what the face pipeline measures on one frame (a
// plain value, no OpenCV) and the portrait quality gate over it: each check
// a measured value, a configurable threshold, a pass flag and a guidance
// message key for the UI.
//
// The checks are inspired by the portrait rules of ICAO Doc 9303 part 3
// (https://www.icao.int/publications/Documents/9303_p3_cons_en.pdf) and
// ISO/IEC 19794-5 (single face, size and centring, frontal pose, eyes
// open, sharpness, exposure, uniform illumination). They are proxies
// computed from Haar detections and image statistics, not a certified
// ISO/IEC 29794-5 quality score. The package does not decode or detect
// anything itself; kiosk/face fills Frame from OpenCV.
package measure

import (
	"image"
	"time"
)

// Frame is the measurement of one camera frame.
type Frame struct {
	T    time.Time   // frame time (camera.Info.Time)
	Size image.Point // frame size in pixels

	Faces   int             // distinct faces (overlapping detections merged)
	Box     image.Rectangle // the tracked face in frame coordinates; empty when none
	Tracked bool            // Box came from the region around the last face

	// Eyes: number of eyes found by the eye cascade (0..2, at most one per
	// side). LeftEye/RightEye are image-left/right eye centres, measured
	// when Eyes == 2, else estimated from the box.
	Eyes              int
	LeftEye, RightEye image.Point
	EyeDist           float64 // pixels between the eye centres
	Roll              float64 // degrees; positive: the eye line rises to image right (valid when Eyes == 2)
	Yaw               float64 // −1..1; positive: the face turned towards image right (nose moves right)
	Profile           int     // profile cascade hit where the face is: −1 facing image left, +1 facing image right, 0 none
	EyeOpenRel        float64 // EyeOpen over the median of the track's last 30 frames (1 for a first frame)
	EyeOpen           float64 // eye-region openness: vertical gradient over mean grey of the eye patches (scale depends on camera and person)
	Mouth             float64 // mouth-region openness (dark fraction of the mouth patch)
	Sharpness         float64 // variance of the Laplacian of the face resized to 128 px wide
	Brightness        float64 // mean grey of the face, 0..255
	ClippedHigh       float64 // the part of Clipped at ≥ 250 (over-exposure; the rest is crushed shadows)
	Clipped           float64 // fraction of face pixels at ≤ 5 or ≥ 250
	Uniformity        float64 // min/max of the mean grey of the face's left and right halves, 0..1
	Identical         bool    // the whole frame is bit-identical to the previous one
	Repeat            bool    // the whole frame is bit-identical to an earlier, non-adjacent one
	Motion            float64 // mean absolute grey difference of the face region to the previous frame
	NonRigid          float64 // 90th percentile residual (frame pixels) of points tracked on the face after the best homography; −1 when not measured
	Shift             float64 // median displacement (frame pixels) of the points tracked on the face since the previous frame
	Points            int     // points the non-rigid fit used
	Moire             float64 // spectral peak score of the face at native resolution (screen pixel grids, moiré)
	DetectMS, TotalMS float64 // time spent detecting and in the whole analysis (for benchmarks and `face check`)
	FullSearch        bool    // the whole frame was searched (the track was lost)
}

// HasFace reports whether a face was found.
func (f *Frame) HasFace() bool { return !f.Box.Empty() }
