// Package measure holds what the face pipeline measures on one frame (a
// plain value, no OpenCV) and the portrait quality gate over it: each check
// a measured value, a configurable threshold, a pass flag and a guidance
// message key for the UI.
//
// The checks are inspired by the portrait rules of ICAO Doc 9303 part 3
// (https://www.icao.int/publications/Documents/9303_p3_cons_en.pdf) and
// ISO/IEC 19794-5 (single face, size and centring, frontal pose, eyes
// open, sharpness, exposure, uniform illumination). They are computed from
// a face detector's box, 68 landmarks (head pose, eye distance), an eye-state
// model and image statistics: not a certified ISO/IEC 29794-5 quality
// score. The landmark geometry (eye and mouth aspect ratios, head pose by a
// least-squares fit of a generic head) is pure Go here; the package does not
// decode or detect anything itself: kiosk/face fills Frame from OpenCV.
package measure

import (
	"image"
	"time"
)

// Frame is the measurement of one camera frame.
type Frame struct {
	T    time.Time   // frame time (camera.Info.Time)
	Size image.Point // frame size in pixels

	Faces       int             // faces the detector found at its last run (it runs every few frames)
	Box         image.Rectangle // the face (the largest at detection) in frame coordinates; empty when none
	Tracked     bool            // Box was carried from the previous frame's landmarks (no detection this frame)
	FullSearch  bool            // the detector ran on this frame
	DetectScore float64         // the detector's score of the face at its last run

	// Landmarks of the face (valid when HasFace), and what is derived from
	// them: eye centres and distance, head pose in degrees, eye and mouth
	// aspect ratios.
	Landmarks         Landmarks
	LeftEye, RightEye image.Point // image-left and image-right eye centres
	EyeDist           float64     // pixels between the eye centres
	Roll              float64     // degrees; positive: the eye line rises to image right
	Yaw               float64     // degrees; positive: the face turned towards image right (the nose moves right)
	Pitch             float64     // degrees; positive: the face looks up
	EAR               float64     // eye aspect ratio (both eyes' mean)
	Mouth             float64     // mouth aspect ratio (inner-lip opening over mouth width)

	// Eye state from the eye model: the probability that each eye is
	// closed; EyeClosed is the smaller of the two (an eye counts as closed
	// only when both are). −1 when the eyes were too small to judge.
	EyeClosedL, EyeClosedR, EyeClosed float64

	Sharpness   float64 // variance of the Laplacian of the face resized to 128 px wide
	Brightness  float64 // mean grey of the face, 0..255
	ClippedHigh float64 // the part of Clipped at ≥ 250 (over-exposure; the rest is crushed shadows)
	Clipped     float64 // fraction of face pixels at ≤ 5 or ≥ 250
	Uniformity  float64 // min/max of the mean grey of the face's left and right halves, 0..1
	Identical   bool    // the whole frame is bit-identical to the previous one
	Repeat      bool    // the whole frame is bit-identical to an earlier, non-adjacent one
	Motion      float64 // mean absolute grey difference of the face region to the previous frame
	NonRigid    float64 // 90th percentile residual (frame pixels) of the landmark points, tracked from the previous frame, after the best homography; −1 when not measured
	Shift       float64 // median displacement (frame pixels) of the tracked landmark points since the previous frame
	Points      int     // points the non-rigid fit used
	Moire       float64 // spectral peak score of the face at native resolution (screen pixel grids, moiré)

	DetectMS, TotalMS float64 // time spent detecting and tracking, and in the whole analysis (for benchmarks and `face check`)
}

// HasFace reports whether a face was found.
func (f *Frame) HasFace() bool { return !f.Box.Empty() }
