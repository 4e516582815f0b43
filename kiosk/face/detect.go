package face

import (
	"image"
	"image/color"
	"math"
	"sort"

	"gocv.io/x/gocv"

	"eidkiosk/kiosk/face/measure"
)

// Detector input contract (fr_detect, Ultra-Light-Fast-Generic-Face-Detector
// RFB-320): 320×240, channels B,G,R as the camera gives them (the package's
// JS feeds B,G,R too), (v − 127) / 128; outputs "scores" [1 4420 2] (index
// 1: face) and "boxes" [1 4420 4], corners in 0..1 of the input. Unlike the
// package, which stretches the frame to 320×240 with a linear resize, the
// frame is shrunk by area averaging (less aliasing) and letterboxed (aspect
// kept: a 16:9 camera's faces are not squashed, and a 2:1 image of two
// people shows both).
const (
	detW, detH  = 320, 240
	detMinScore = 0.65 // the package's threshold; the astronaut still scores 0.67
	detOverlap  = 0.4  // NMS: a box overlapping a kept one by this fraction of its own area is a duplicate
)

// Landmark input contract (fr_landmark): the detector's square box, grey
// (RGB2GRAY weights on B,G,R data, as the JS computes it), 64×64, v / 256;
// output 68 x,y in box units.
const lmSize = 64

type detection struct {
	box   image.Rectangle
	score float64
}

// detectFaces runs the detector on the whole frame and returns the faces at
// least minW pixels wide, duplicates removed, each box squared to its
// height around its centre (as the model's landmark crops expect).
func (a *Analyzer) detectFaces(bgr gocv.Mat, minW int) []detection {
	W, H := float64(bgr.Cols()), float64(bgr.Rows())
	s := math.Min(detW/W, detH/H)
	w, h := min(detW, int(math.Round(W*s))), min(detH, int(math.Round(H*s)))
	gocv.Resize(bgr, &a.detSmall, image.Pt(w, h), 0, 0, gocv.InterpolationArea)
	gocv.CopyMakeBorder(a.detSmall, &a.detIn, 0, detH-h, 0, detW-w, gocv.BorderConstant, color.RGBA{127, 127, 127, 0})
	blob := gocv.BlobFromImage(a.detIn, 1.0/128, image.Pt(detW, detH), gocv.NewScalar(127, 127, 127, 0), false, false)
	defer blob.Close()
	a.nets.detect.SetInput(blob, "input")
	outs := a.nets.detect.ForwardLayers([]string{"scores", "boxes"})
	defer func() {
		for i := range outs {
			outs[i].Close()
		}
	}()
	if len(outs) != 2 {
		return nil
	}
	scores, err1 := outs[0].DataPtrFloat32()
	boxes, err2 := outs[1].DataPtrFloat32()
	if err1 != nil || err2 != nil || len(boxes) != 2*len(scores) {
		return nil
	}
	// Input units to frame pixels.
	sx, sy := detW/s, detH/s
	var cands []detection
	for i := 0; i < len(scores)/2; i++ {
		s := float64(scores[2*i+1])
		if s < detMinScore {
			continue
		}
		x1, y1 := float64(boxes[4*i])*sx, float64(boxes[4*i+1])*sy
		x2, y2 := float64(boxes[4*i+2])*sx, float64(boxes[4*i+3])*sy
		if x2 <= x1 || y2 <= y1 {
			continue
		}
		cands = append(cands, detection{box: image.Rect(int(x1), int(y1), int(x2), int(y2)), score: s})
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].score > cands[j].score })
	var out []detection
	for _, c := range cands {
		dup := false
		for _, k := range out {
			if float64(area(c.box.Intersect(k.box))) >= detOverlap*float64(area(c.box)) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, c)
		}
	}
	frame := image.Rect(0, 0, bgr.Cols(), bgr.Rows())
	kept := out[:0]
	for _, d := range out {
		d.box = square(d.box).Intersect(frame)
		if d.box.Dx() >= minW {
			kept = append(kept, d)
		}
	}
	return kept
}

// largest returns the largest face (the person at the kiosk); the
// package's getBestFace returns the last one instead.
func largest(ds []detection) detection {
	best := ds[0]
	for _, d := range ds[1:] {
		if area(d.box) > area(best.box) {
			best = d
		}
	}
	return best
}

// square is the square of r's height around r's centre.
func square(r image.Rectangle) image.Rectangle {
	s := r.Dy()
	c := centre(r)
	return image.Rect(c.X-s/2, c.Y-s/2, c.X-s/2+s, c.Y-s/2+s)
}

// landmarks runs the landmark model on box (frame coordinates) of a.grey.
// The crop is moved inside the frame when the box crosses an edge.
func (a *Analyzer) landmarks(box image.Rectangle, size image.Point) (measure.Landmarks, bool) {
	var l measure.Landmarks
	w, h := box.Dx(), box.Dy()
	if w < 16 || h < 16 || w > size.X || h > size.Y {
		return l, false
	}
	r := box
	if r.Min.X < 0 {
		r = r.Add(image.Pt(-r.Min.X, 0))
	}
	if r.Min.Y < 0 {
		r = r.Add(image.Pt(0, -r.Min.Y))
	}
	if r.Max.X > size.X {
		r = r.Sub(image.Pt(r.Max.X-size.X, 0))
	}
	if r.Max.Y > size.Y {
		r = r.Sub(image.Pt(0, r.Max.Y-size.Y))
	}
	v, ok := a.inferGrey(&a.nets.landmark, r, &a.lmIn, lmSize, 1.0/256, a.lmOut[:])
	if !ok {
		return l, false
	}
	for i := range l {
		l[i] = measure.Point{X: float64(v[2*i])*float64(w) + float64(r.Min.X), Y: float64(v[2*i+1])*float64(h) + float64(r.Min.Y)}
	}
	return l, true
}

// boxFit relates the detector's box to the landmarks it produced, so that
// between detections the box can be carried from the landmarks alone: the
// box side over the landmarks' extent, and the box centre's offset from
// the landmarks' centre in units of that extent.
type boxFit struct{ k, dx, dy float64 }

func extent(l *measure.Landmarks) (cx, cy, s float64) {
	x0, y0, x1, y1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, p := range l {
		x0, y0 = math.Min(x0, p.X), math.Min(y0, p.Y)
		x1, y1 = math.Max(x1, p.X), math.Max(y1, p.Y)
	}
	return (x0 + x1) / 2, (y0 + y1) / 2, math.Max(x1-x0, y1-y0)
}

func fitBox(box image.Rectangle, l *measure.Landmarks) (boxFit, bool) {
	cx, cy, s := extent(l)
	if s < 4 {
		return boxFit{}, false
	}
	c := centre(box)
	return boxFit{k: float64(box.Dx()) / s, dx: (float64(c.X) - cx) / s, dy: (float64(c.Y) - cy) / s}, true
}

func (b boxFit) box(l *measure.Landmarks) image.Rectangle {
	cx, cy, s := extent(l)
	side := b.k * s
	x0 := cx + b.dx*s - side/2
	y0 := cy + b.dy*s - side/2
	return image.Rect(int(math.Round(x0)), int(math.Round(y0)), int(math.Round(x0+side)), int(math.Round(y0+side)))
}

// track finds the face on this frame: the detector every DetectEvery frames
// (or when there is no track), else the box carried from the previous
// frame's landmarks; then the landmarks in the box. A carried box that
// jumps in size or leaves the frame drops the track, and the detector runs
// on the same frame.
func (a *Analyzer) track(bgr gocv.Mat, f *measure.Frame) bool {
	frame := image.Rect(0, 0, f.Size.X, f.Size.Y)
	minW := max(16, int(a.o.MinFaceFrac*float64(f.Size.X)))
	a.sinceDetect++
	if a.tracking && a.sinceDetect < a.o.DetectEvery {
		box := a.fit.box(&a.lm)
		ok := area(box.Intersect(frame)) >= area(box)*3/4 && box.Dx() >= minW
		if ok {
			r := float64(box.Dx()) / float64(a.lastBox.Dx())
			ok = r > 0.7 && r < 1.4
		}
		if ok {
			if l, lok := a.landmarks(box, f.Size); lok {
				a.lm, a.lastBox = l, box
				f.Box, f.Tracked, f.Faces, f.DetectScore = box, true, a.faces, a.score
				return true
			}
		}
	}
	a.sinceDetect = 0
	a.tracking = false
	f.FullSearch = true
	ds := a.detectFaces(bgr, minW)
	a.faces = len(ds)
	f.Faces = len(ds)
	if len(ds) == 0 {
		return false
	}
	d := largest(ds)
	l, ok := a.landmarks(d.box, f.Size)
	if !ok {
		return false
	}
	fit, ok := fitBox(d.box, &l)
	if !ok {
		return false
	}
	a.tracking, a.fit, a.lm, a.lastBox, a.score = true, fit, l, d.box, d.score
	f.Box, f.DetectScore = d.box, d.score
	return true
}
