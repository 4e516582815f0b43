package face

import (
	"image"
	"math"

	"eidkiosk/kiosk/face/measure"
)

// Eye model input contract (fr_eye): a square of 1.6 × the eye's width
// (corner to corner) around the eye's centre (the mean of the four lid
// landmarks), grey as for the landmarks, 24×24, v / 255; output two logits,
// softmax[0] = p(closed).
const (
	eyeSize = 24
	eyePad  = 1.6
	// minEyeW: eyes narrower than this (corner to corner, pixels) are not
	// judged: at about 10 px the model calls every eye closed.
	minEyeW = 12
)

// eyes fills the eye state of f from its landmarks: p(closed) of each eye
// and the smaller of the two, or −1 when the eyes are too small to judge.
func (a *Analyzer) eyes(f *measure.Frame) {
	f.EyeClosedL, f.EyeClosedR, f.EyeClosed = -1, -1, -1
	l := &f.Landmarks
	pl, okl := a.eyeClosed(l, 36, f.Size)
	pr, okr := a.eyeClosed(l, 42, f.Size)
	if !okl || !okr {
		return
	}
	f.EyeClosedL, f.EyeClosedR, f.EyeClosed = pl, pr, math.Min(pl, pr)
}

// eyeClosed runs the eye model on the eye whose outer landmarks start at
// i (36: image-left eye, 42: image-right eye).
func (a *Analyzer) eyeClosed(l *measure.Landmarks, i int, size image.Point) (float64, bool) {
	w := l[i+3].X - l[i].X
	if w < minEyeW {
		return 0, false
	}
	cx := (l[i+1].X + l[i+2].X + l[i+4].X + l[i+5].X) / 4
	cy := (l[i+1].Y + l[i+2].Y + l[i+4].Y + l[i+5].Y) / 4
	s := int(w * eyePad)
	r := image.Rect(int(cx)-s/2, int(cy)-s/2, int(cx)-s/2+s, int(cy)-s/2+s).Intersect(image.Rect(0, 0, size.X, size.Y))
	if r.Dx() < s*3/4 || r.Dy() < s*3/4 {
		return 0, false
	}
	var logits [2]float32
	v, ok := a.inferGrey(&a.nets.eye, r, &a.eyeIn, eyeSize, 1.0/255, logits[:])
	if !ok {
		return 0, false
	}
	// softmax of two logits: p0 = 1 / (1 + e^(v1 − v0))
	return 1 / (1 + math.Exp(float64(v[1]-v[0]))), true
}
