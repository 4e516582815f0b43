package face

import (
	"fmt"
	"hash/maphash"
	"image"
	"math"
	"path/filepath"
	"sort"
	"time"

	"gocv.io/x/gocv"

	"eidkiosk/kiosk/face/measure"
)

// AnalyzerOptions tunes detection. Zero values take the defaults.
type AnalyzerOptions struct {
	// DetectWidth is the width of the grey image the face is searched in
	// (default 320). Larger frames are down-scaled to it.
	DetectWidth int
	// MinFaceFrac is the smallest face searched for on a full search, as a
	// fraction of the frame width (default 0.1).
	MinFaceFrac float64
	// RecountEvery: a full search (to count faces while tracking) every
	// this many frames (default 30).
	RecountEvery int
	// RepeatWindow: how many earlier frame hashes are kept to find replayed
	// frames (default 1000).
	RepeatWindow int
}

func (o *AnalyzerOptions) defaults() {
	if o.DetectWidth <= 0 {
		o.DetectWidth = 320
	}
	if o.MinFaceFrac <= 0 {
		o.MinFaceFrac = 0.1
	}
	if o.RecountEvery <= 0 {
		o.RecountEvery = 30
	}
	if o.RepeatWindow <= 0 {
		o.RepeatWindow = 1000
	}
}

// Cascade file names under the cascade directory (opencv-data).
const (
	cascadeFace    = "haarcascades/haarcascade_frontalface_default.xml"
	cascadeEye     = "haarcascades/haarcascade_eye.xml"
	cascadeProfile = "haarcascades/haarcascade_profileface.xml"
	cascadeLBP     = "lbpcascades/lbpcascade_frontalface_improved.xml"
)

const (
	eyeW   = 110 // upper-face crop width for the eye cascade (eyes ≈ 25 px)
	normW  = 128 // face crop width for the statistics
	flowW  = 96  // face crop width for the non-rigid motion fit
	fbMax  = 0.3 // forward-backward tracking error (crop pixels) above which a point is dropped
	moireN = 64  // side of the native-resolution patch for the spectrum
)

// Analyzer measures frames: it finds and tracks the face and fills a
// measure.Frame. It owns all its Mats (reused between frames) and is used by
// one goroutine. Close it.
type Analyzer struct {
	o                  AnalyzerOptions
	faceC, eyeC, profC gocv.CascadeClassifier
	lbpC               gocv.CascadeClassifier
	lkTerm             gocv.TermCriteria
	// eye cascade results of the last frame it ran on (it runs on every
	// other frame; positions are kept relative to the face box)
	eyeTurn             bool
	eyeN                int
	eyeRel              [4]float64
	eyeRoll, eyeYaw     float64
	grey, small, tmp    gocv.Mat
	norm, eyeCrop       gocv.Mat
	prevFlow, curFlow   gocv.Mat
	lap, mean, std      gocv.Mat
	patch, patchF, spec gocv.Mat
	hann                []float32
	last                image.Rectangle // last face, frame coordinates
	faces               int             // faces at the last full search
	sinceFull           int
	prevBox             image.Rectangle
	hasPrev             bool
	seed                maphash.Seed
	prevHash            uint64
	hashes              map[uint64]int // hash → frame index
	ring                []uint64
	n                   int
	lk                  lkBufs
	lastProfile         int
	openHist            []float64 // recent eye openness of the track
}

type lkBufs struct{ pts, next, back, status, status2, errs, mask gocv.Mat }

// NewAnalyzer loads the cascades from dir (e.g. /usr/share/opencv4).
func NewAnalyzer(dir string, o AnalyzerOptions) (*Analyzer, error) {
	o.defaults()
	a := &Analyzer{o: o, seed: maphash.MakeSeed(), hashes: map[uint64]int{},
		lkTerm: gocv.NewTermCriteria(gocv.Count+gocv.EPS, 20, 0.03)}
	a.faceC, a.eyeC, a.profC = gocv.NewCascadeClassifier(), gocv.NewCascadeClassifier(), gocv.NewCascadeClassifier()
	a.lbpC = gocv.NewCascadeClassifier()
	for _, c := range []struct {
		cc   *gocv.CascadeClassifier
		name string
	}{{&a.faceC, cascadeFace}, {&a.eyeC, cascadeEye}, {&a.profC, cascadeProfile}, {&a.lbpC, cascadeLBP}} {
		if !c.cc.Load(filepath.Join(dir, c.name)) {
			a.faceC.Close()
			a.eyeC.Close()
			a.profC.Close()
			a.lbpC.Close()
			return nil, fmt.Errorf("face: cannot load cascade %s from %s (is opencv-data installed?)", filepath.Base(c.name), dir)
		}
	}
	for _, m := range []*gocv.Mat{&a.grey, &a.small, &a.tmp, &a.norm, &a.eyeCrop, &a.prevFlow, &a.curFlow,
		&a.lap, &a.mean, &a.std, &a.patch, &a.patchF, &a.spec,
		&a.lk.pts, &a.lk.next, &a.lk.back, &a.lk.status, &a.lk.status2, &a.lk.errs, &a.lk.mask} {
		*m = gocv.NewMat()
	}
	a.hann = make([]float32, moireN*moireN)
	for y := 0; y < moireN; y++ {
		wy := 0.5 - 0.5*math.Cos(2*math.Pi*float64(y)/float64(moireN-1))
		for x := 0; x < moireN; x++ {
			wx := 0.5 - 0.5*math.Cos(2*math.Pi*float64(x)/float64(moireN-1))
			a.hann[y*moireN+x] = float32(wx * wy)
		}
	}
	return a, nil
}

// Close frees the cascades and buffers.
func (a *Analyzer) Close() error {
	a.lbpC.Close()
	a.faceC.Close()
	a.eyeC.Close()
	a.profC.Close()
	for _, m := range []*gocv.Mat{&a.grey, &a.small, &a.tmp, &a.norm, &a.eyeCrop, &a.prevFlow, &a.curFlow,
		&a.lap, &a.mean, &a.std, &a.patch, &a.patchF, &a.spec,
		&a.lk.pts, &a.lk.next, &a.lk.back, &a.lk.status, &a.lk.status2, &a.lk.errs, &a.lk.mask} {
		m.Close()
	}
	return nil
}

// Reset forgets the track and the frame history (a new visit).
func (a *Analyzer) Reset() {
	a.last = image.Rectangle{}
	a.faces = 0
	a.sinceFull = 0
	a.hasPrev = false
	a.prevHash = 0
	clear(a.hashes)
	a.ring = a.ring[:0]
	a.n = 0
	a.openHist = a.openHist[:0]
	a.eyeN = 0
}

// Wipe zeroes the buffers that hold face pixels (grey frame, crops) and
// forgets the track; the capturer calls it at the end of every capture.
func (a *Analyzer) Wipe() {
	for _, m := range []*gocv.Mat{&a.grey, &a.small, &a.tmp, &a.norm, &a.eyeCrop, &a.prevFlow, &a.curFlow, &a.patch, &a.patchF} {
		if !m.Empty() {
			m.SetTo(gocv.NewScalar(0, 0, 0, 0))
		}
	}
	a.Reset()
}

// Analyze measures one BGR frame taken at t.
func (a *Analyzer) Analyze(bgr gocv.Mat, t time.Time) measure.Frame {
	start := time.Now()
	f := measure.Frame{T: t, Size: image.Pt(bgr.Cols(), bgr.Rows()), NonRigid: -1}
	if bgr.Empty() || bgr.Channels() != 3 {
		return f
	}
	a.hashFrame(bgr, &f)
	gocv.CvtColor(bgr, &a.grey, gocv.ColorBGRToGray)
	box, faces, full := a.detect(f.Size)
	f.DetectMS = msSince(start)
	f.FullSearch = full
	f.Faces = faces
	if box.Empty() {
		a.hasPrev = false
		f.TotalMS = msSince(start)
		return f
	}
	f.Box = box
	f.Tracked = !full
	a.eyes(&f)
	a.stats(&f)
	a.motion(&f)
	a.moire(&f)
	f.TotalMS = msSince(start)
	return f
}

func medianOf(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }

// hashFrame marks bit-identical frames: the same as the previous one
// (frozen) or as an earlier one in the window (a replayed loop).
func (a *Analyzer) hashFrame(bgr gocv.Mat, f *measure.Frame) {
	b, err := bgr.DataPtrUint8()
	if err != nil {
		return
	}
	h := maphash.Bytes(a.seed, b)
	if a.n > 0 && h == a.prevHash {
		f.Identical = true
	} else if _, seen := a.hashes[h]; seen {
		f.Repeat = true
	}
	if h != a.prevHash {
		a.hashes[h] = a.n
		a.ring = append(a.ring, h)
		if len(a.ring) > a.o.RepeatWindow {
			old := a.ring[0]
			a.ring = a.ring[1:]
			if a.hashes[old] <= a.n-a.o.RepeatWindow {
				delete(a.hashes, old)
			}
		}
	}
	a.prevHash = h
	a.n++
}

// trackFace is the face width (pixels) the tracking search runs at: the
// region around the last face is scaled so the face is this wide, which
// keeps the cost the same at any camera resolution.
const trackFace = 64

// trackScale is the cascade scale step inside the tracked region and the
// eye crop: coarser than the default 1.1 (which costs three times as much
// there) while box sizes stay within a few per cent between frames.
const trackScale = 1.15

// detect finds the face: in the region around the last face when there is
// one, else (or every RecountEvery frames, to count faces) on the whole
// down-scaled image.
func (a *Analyzer) detect(size image.Point) (box image.Rectangle, faces int, full bool) {
	a.lastProfile = 0
	a.sinceFull++
	if !a.last.Empty() {
		if box, ok := a.track(size); ok {
			if a.sinceFull >= a.o.RecountEvery {
				a.sinceFull = 0
				a.faces = a.recount(size, box)
			}
			return box, max(a.faces, 1), false
		}
	}
	// Full search on the down-scaled image.
	s := 1.0
	if size.X > a.o.DetectWidth {
		s = float64(a.o.DetectWidth) / float64(size.X)
		gocv.Resize(a.grey, &a.small, image.Pt(a.o.DetectWidth, int(math.Round(float64(size.Y)*s))), 0, 0, gocv.InterpolationArea)
	} else {
		a.grey.CopyTo(&a.small)
	}
	a.sinceFull = 0
	minW := max(24, int(a.o.MinFaceFrac*float64(a.small.Cols())))
	hits := a.faceC.DetectMultiScaleWithParams(a.small, 1.1, 3, 0, image.Pt(minW, minW), image.Point{})
	clusters := cluster(hits)
	if len(clusters) > 1 {
		// Several candidates: keep those a stricter search confirms at a
		// higher resolution (Haar false positives rarely survive it).
		var kept [][]image.Rectangle
		for _, c := range clusters {
			if a.confirm(scaleRect(c[0], 1/s), size) {
				kept = append(kept, c)
			}
		}
		if len(kept) > 0 {
			clusters = kept
		}
	}
	a.faces = len(clusters)
	if len(clusters) == 0 {
		a.last = image.Rectangle{}
		return image.Rectangle{}, 0, true
	}
	var pick image.Rectangle
	ok := false
	if !a.last.Empty() {
		pick, ok = nearest(flattenSmallest(clusters), scaleRect(a.last, s))
	}
	if !ok {
		// The largest face (the one at the kiosk); inside a cluster the
		// smallest box (Haar adds larger duplicates shifted up).
		best := 0
		for i, c := range clusters {
			if area(c[0]) > area(clusters[best][0]) {
				best = i
			}
		}
		pick = clusters[best][0]
	}
	box = scaleRect(pick, 1/s)
	a.last = box
	return box, len(clusters), true
}

// track searches the region around the last face, scaled so the face is
// trackFace pixels wide; the profile cascade takes over when the frontal
// one loses a turning head.
func (a *Analyzer) track(size image.Point) (image.Rectangle, bool) {
	lw := a.last.Dx()
	roiF := a.last.Inset(-lw * 3 / 10).Intersect(image.Rect(0, 0, size.X, size.Y))
	t := math.Min(1, float64(trackFace)/float64(lw))
	if roiF.Dx() < 24 || roiF.Dy() < 24 {
		return image.Rectangle{}, false
	}
	r := a.grey.Region(roiF)
	rs := image.Pt(int(float64(roiF.Dx())*t), int(float64(roiF.Dy())*t))
	gocv.Resize(r, &a.small, rs, 0, 0, gocv.InterpolationLinear)
	r.Close()
	last := scaleRect(a.last.Sub(roiF.Min), t)
	sw := last.Dx()
	hits := a.faceC.DetectMultiScaleWithParams(a.small, trackScale, 3, 0,
		image.Pt(sw*4/5, sw*4/5), image.Pt(sw*13/10, sw*13/10))
	if b, ok := nearest(hits, last); ok {
		a.last = scaleRect(b, 1/t).Add(roiF.Min)
		return a.last, true
	}
	if p := a.profile(last, t); !p.Empty() {
		a.last = p.Add(roiF.Min)
		return a.last, true
	}
	return image.Rectangle{}, false
}

// recount counts the faces while a face is tracked: the fast LBP cascade
// on the down-scaled frame, each candidate apart from the tracked face
// confirmed with Haar at a higher resolution.
func (a *Analyzer) recount(size image.Point, tracked image.Rectangle) int {
	s := 1.0
	if size.X > a.o.DetectWidth {
		s = float64(a.o.DetectWidth) / float64(size.X)
		gocv.Resize(a.grey, &a.small, image.Pt(a.o.DetectWidth, int(math.Round(float64(size.Y)*s))), 0, 0, gocv.InterpolationArea)
	} else {
		a.grey.CopyTo(&a.small)
	}
	minW := max(24, int(a.o.MinFaceFrac*float64(a.small.Cols())))
	n := 1
	for _, c := range cluster(a.lbpC.DetectMultiScaleWithParams(a.small, 1.1, 3, 0, image.Pt(minW, minW), image.Point{})) {
		b := scaleRect(c[0], 1/s)
		if IoU(b, tracked) > 0.15 || centre(b).In(tracked) || centre(tracked).In(b) {
			continue
		}
		if a.confirm(b, size) {
			n++
		}
	}
	return n
}

// confirm re-detects a candidate face (frame coordinates) in its region
// scaled to a 96 px face, with minNeighbors 6.
func (a *Analyzer) confirm(b image.Rectangle, size image.Point) bool {
	roi := b.Inset(-b.Dx() / 4).Intersect(image.Rect(0, 0, size.X, size.Y))
	if roi.Dx() < 24 || roi.Dy() < 24 {
		return false
	}
	t := 96 / float64(b.Dx())
	r := a.grey.Region(roi)
	gocv.Resize(r, &a.tmp, image.Pt(int(float64(roi.Dx())*t), int(float64(roi.Dy())*t)), 0, 0, gocv.InterpolationLinear)
	r.Close()
	hits := a.faceC.DetectMultiScaleWithParams(a.tmp, 1.08, 6, 0, image.Pt(70, 70), image.Pt(130, 130))
	return len(hits) > 0
}

// profile looks for a turned face in a.small (the scaled tracking region,
// last is the previous face in it) with the profile cascade, as is and
// mirrored, and returns it in region coordinates at full resolution. The
// side is kept in a.lastProfile.
func (a *Analyzer) profile(last image.Rectangle, t float64) image.Rectangle {
	lw := last.Dx()
	minS, maxS := image.Pt(lw*3/5, lw*3/5), image.Pt(lw*3/2, lw*3/2)
	if b, ok := nearest(a.profC.DetectMultiScaleWithParams(a.small, 1.1, 3, 0, minS, maxS), last); ok {
		a.lastProfile = -1
		return scaleRect(b, 1/t)
	}
	gocv.Flip(a.small, &a.tmp, 1)
	w := a.small.Cols()
	mlast := image.Rect(w-last.Max.X, last.Min.Y, w-last.Min.X, last.Max.Y)
	if b, ok := nearest(a.profC.DetectMultiScaleWithParams(a.tmp, 1.1, 3, 0, minS, maxS), mlast); ok {
		a.lastProfile = 1
		return scaleRect(image.Rect(w-b.Max.X, b.Min.Y, w-b.Min.X, b.Max.Y), 1/t)
	}
	return image.Rectangle{}
}

// eyes runs the eye cascade in the upper face and estimates roll and yaw.
func (a *Analyzer) eyes(f *measure.Frame) {
	b := f.Box
	w, h := float64(b.Dx()), float64(b.Dy())
	// Geometric estimate for a Haar frontal box.
	f.LeftEye = image.Pt(b.Min.X+int(0.31*w), b.Min.Y+int(0.40*h))
	f.RightEye = image.Pt(b.Min.X+int(0.69*w), b.Min.Y+int(0.40*h))
	f.EyeDist = 0.38 * w
	f.Profile = a.lastProfile
	if f.Profile != 0 {
		f.Yaw = float64(f.Profile)
		return
	}
	a.eyeTurn = !a.eyeTurn
	if !a.eyeTurn && a.eyeN == 2 {
		// Every other frame: the eyes found last time, moved with the box.
		f.Eyes, f.Roll, f.Yaw = 2, a.eyeRoll, a.eyeYaw
		f.LeftEye = image.Pt(b.Min.X+int(a.eyeRel[0]*w), b.Min.Y+int(a.eyeRel[1]*h))
		f.RightEye = image.Pt(b.Min.X+int(a.eyeRel[2]*w), b.Min.Y+int(a.eyeRel[3]*h))
		f.EyeDist = math.Hypot(float64(f.RightEye.X-f.LeftEye.X), float64(f.RightEye.Y-f.LeftEye.Y))
		return
	}
	a.eyeN = 0
	up := image.Rect(b.Min.X, b.Min.Y+int(0.15*h), b.Max.X, b.Min.Y+int(0.62*h)).Intersect(image.Rect(0, 0, f.Size.X, f.Size.Y))
	if up.Dx() < 20 || up.Dy() < 10 {
		return
	}
	r := a.grey.Region(up)
	sc := 1.0
	if up.Dx() > eyeW {
		sc = eyeW / float64(up.Dx())
		gocv.Resize(r, &a.eyeCrop, image.Pt(eyeW, int(float64(up.Dy())*sc)), 0, 0, gocv.InterpolationArea)
	} else {
		r.CopyTo(&a.eyeCrop)
	}
	r.Close()
	cw := float64(a.eyeCrop.Cols())
	hits := a.eyeC.DetectMultiScaleWithParams(a.eyeCrop, trackScale, 3, 0,
		image.Pt(max(20, int(0.16*cw)), max(20, int(0.16*cw))), image.Pt(int(0.34*cw), int(0.34*cw)))
	var l, rr image.Rectangle
	el := image.Pt(int(0.31*cw), int(0.25*h*sc))
	er := image.Pt(int(0.69*cw), int(0.25*h*sc))
	for _, e := range hits {
		c := centre(e)
		if float64(c.X) < cw/2 {
			if l.Empty() || dist2(c, el) < dist2(centre(l), el) {
				l = e
			}
		} else if rr.Empty() || dist2(c, er) < dist2(centre(rr), er) {
			rr = e
		}
	}
	n := 0
	if !l.Empty() {
		n++
	}
	if !rr.Empty() {
		n++
	}
	f.Eyes = n
	if n < 2 {
		return
	}
	toFrame := func(p image.Point) image.Point {
		return image.Pt(up.Min.X+int(float64(p.X)/sc), up.Min.Y+int(float64(p.Y)/sc))
	}
	f.LeftEye, f.RightEye = toFrame(centre(l)), toFrame(centre(rr))
	dx := float64(f.RightEye.X - f.LeftEye.X)
	dy := float64(f.LeftEye.Y - f.RightEye.Y)
	f.EyeDist = math.Hypot(dx, dy)
	f.Roll = math.Atan2(dy, dx) * 180 / math.Pi
	mid := float64(f.LeftEye.X+f.RightEye.X) / 2
	cx := float64(b.Min.X+b.Max.X) / 2
	f.Yaw = clamp((mid-cx)/w*4, -1, 1)
	a.eyeN, a.eyeRoll, a.eyeYaw = 2, f.Roll, f.Yaw
	a.eyeRel = [4]float64{float64(f.LeftEye.X-b.Min.X) / w, float64(f.LeftEye.Y-b.Min.Y) / h,
		float64(f.RightEye.X-b.Min.X) / w, float64(f.RightEye.Y-b.Min.Y) / h}
}

// stats computes sharpness, exposure, uniformity, eye and mouth openness
// on the face resized to normW pixels wide.
func (a *Analyzer) stats(f *measure.Frame) {
	b := f.Box.Intersect(image.Rect(0, 0, f.Size.X, f.Size.Y))
	r := a.grey.Region(b)
	nh := int(float64(normW) * float64(b.Dy()) / float64(b.Dx()))
	gocv.Resize(r, &a.norm, image.Pt(normW, nh), 0, 0, gocv.InterpolationArea)
	r.Close()
	gocv.Laplacian(a.norm, &a.lap, gocv.MatTypeCV64F, 1, 1, 0, gocv.BorderDefault)
	gocv.MeanStdDev(a.lap, &a.mean, &a.std)
	sd := a.std.GetDoubleAt(0, 0)
	f.Sharpness = sd * sd
	px, err := a.norm.DataPtrUint8()
	if err != nil {
		return
	}
	W, H := a.norm.Cols(), a.norm.Rows()
	var sum, sumL, sumR float64
	var clipped, high int
	// Central face only (skin, eyes, mouth; not the hair or background at
	// the box's edges).
	x0, x1, y0, y1 := W/8, W-W/8, H/8, H-H/16
	for y := y0; y < y1; y++ {
		row := px[y*W : (y+1)*W]
		for x := x0; x < x1; x++ {
			v := float64(row[x])
			sum += v
			if x < W/2 {
				sumL += v
			} else {
				sumR += v
			}
			if row[x] <= 5 {
				clipped++
			} else if row[x] >= 250 {
				clipped++
				high++
			}
		}
	}
	n := float64((x1 - x0) * (y1 - y0))
	f.Brightness = sum / n
	f.Clipped = float64(clipped) / n
	f.ClippedHigh = float64(high) / n
	if sumL > 0 && sumR > 0 {
		f.Uniformity = math.Min(sumL, sumR) / math.Max(sumL, sumR)
	}
	// Eye patches around the (measured or estimated) eye centres, in the
	// normalised crop.
	pw, ph := int(0.22*float64(W)), int(0.11*float64(H))
	sx := float64(W) / float64(b.Dx())
	sy := float64(H) / float64(b.Dy())
	var open float64
	for _, e := range []image.Point{f.LeftEye, f.RightEye} {
		cx := int(float64(e.X-b.Min.X) * sx)
		cy := int(float64(e.Y-b.Min.Y) * sy)
		open += patchContrast(px, W, H, image.Rect(cx-pw/2, cy-ph/2, cx+pw/2, cy+ph/2))
	}
	f.EyeOpen = open / 2
	// Relative to the track's recent median: the absolute value depends on
	// the camera, the distance and the person; a closed eye is a drop.
	f.EyeOpenRel = 1
	if len(a.openHist) >= 3 {
		if m := medianOf(a.openHist); m > 0 {
			f.EyeOpenRel = f.EyeOpen / m
		}
	}
	a.openHist = append(a.openHist, f.EyeOpen)
	if len(a.openHist) > 30 {
		a.openHist = a.openHist[1:]
	}
	// Mouth: lower middle of the box; an open mouth is a dark cavity.
	mr := image.Rect(W*3/10, H*70/100, W*7/10, H*95/100)
	f.Mouth = darkFraction(px, W, H, mr)
}

// patchContrast is the eye-opening measure: the mean absolute vertical
// gradient of the patch (lid edges, iris and sclera) over its mean grey.
// A closed eye is a smooth lid with a single lash line.
func patchContrast(px []byte, W, H int, r image.Rectangle) float64 {
	r = r.Intersect(image.Rect(0, 0, W, H))
	if r.Dx() < 4 || r.Dy() < 3 {
		return 0
	}
	var g, s float64
	for y := r.Min.Y; y < r.Max.Y-1; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			v := float64(px[y*W+x])
			d := float64(px[(y+1)*W+x]) - v
			g += math.Abs(d)
			s += v
		}
	}
	if s == 0 {
		return 0
	}
	return g / s
}

// darkFraction is the fraction of pixels of r darker than 60 % of the
// median of the whole crop.
func darkFraction(px []byte, W, H int, r image.Rectangle) float64 {
	r = r.Intersect(image.Rect(0, 0, W, H))
	if r.Empty() {
		return 0
	}
	var hist [256]int
	for _, v := range px[:W*H] {
		hist[v]++
	}
	half, acc, med := W*H/2, 0, 0
	for i, c := range hist {
		acc += c
		if acc >= half {
			med = i
			break
		}
	}
	thr := byte(float64(med) * 0.6)
	dark := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if px[y*W+x] < thr {
				dark++
			}
		}
	}
	return float64(dark) / float64(r.Dx()*r.Dy())
}

// motion measures, in the region of the previous face, how much the face
// changed and how much of that change no single homography explains (a
// photo, flat, moves by a homography; a face that talks or blinks, or a
// head that turns in 3D, does not).
func (a *Analyzer) motion(f *measure.Frame) {
	full := image.Rect(0, 0, f.Size.X, f.Size.Y)
	defer func() {
		// Keep the current face crop for the next frame.
		r := a.grey.Region(f.Box.Intersect(full))
		gocv.Resize(r, &a.prevFlow, image.Pt(flowW, flowW), 0, 0, gocv.InterpolationArea)
		r.Close()
		a.prevBox = f.Box
		a.hasPrev = true
	}()
	if !a.hasPrev {
		return
	}
	pb := a.prevBox.Intersect(full)
	if pb.Dx() < 16 || pb.Dy() < 16 {
		return
	}
	r := a.grey.Region(pb)
	gocv.Resize(r, &a.curFlow, image.Pt(flowW, flowW), 0, 0, gocv.InterpolationArea)
	r.Close()
	gocv.AbsDiff(a.prevFlow, a.curFlow, &a.tmp)
	f.Motion = a.tmp.Mean().Val1
	gocv.GoodFeaturesToTrack(a.prevFlow, &a.lk.pts, 40, 0.01, 6)
	n := a.lk.pts.Rows()
	if n < 8 {
		return
	}
	gocv.CalcOpticalFlowPyrLKWithParams(a.prevFlow, a.curFlow, a.lk.pts, a.lk.next, &a.lk.status, &a.lk.errs,
		image.Pt(15, 15), 2, a.lkTerm, 0, 1e-4)
	// Track back from the new positions: a point that does not return to
	// where it started was tracked badly (forward-backward error), and
	// would pass for non-rigid motion.
	gocv.CalcOpticalFlowPyrLKWithParams(a.curFlow, a.prevFlow, a.lk.next, a.lk.back, &a.lk.status2, &a.lk.errs,
		image.Pt(15, 15), 2, a.lkTerm, 0, 1e-4)
	p0, err0 := a.lk.pts.DataPtrFloat32()
	p1, err1 := a.lk.next.DataPtrFloat32()
	pb0, err3 := a.lk.back.DataPtrFloat32()
	st, err2 := a.lk.status.DataPtrUint8()
	st2, err4 := a.lk.status2.DataPtrUint8()
	if err0 != nil || err1 != nil || err2 != nil || err3 != nil || err4 != nil || len(st) < n || len(st2) < n {
		return
	}
	for i := 0; i < n; i++ {
		if st2[i] == 0 || math.Hypot(float64(pb0[2*i]-p0[2*i]), float64(pb0[2*i+1]-p0[2*i+1])) > fbMax {
			st[i] = 0
		}
	}
	src := gocv.NewMatWithSize(n, 1, gocv.MatTypeCV32FC2)
	dst := gocv.NewMatWithSize(n, 1, gocv.MatTypeCV32FC2)
	defer src.Close()
	defer dst.Close()
	s, _ := src.DataPtrFloat32()
	d, _ := dst.DataPtrFloat32()
	k := 0
	for i := 0; i < n; i++ {
		if st[i] == 0 {
			continue
		}
		s[2*k], s[2*k+1] = p0[2*i], p0[2*i+1]
		d[2*k], d[2*k+1] = p1[2*i], p1[2*i+1]
		k++
	}
	if k < 8 {
		return
	}
	sv := src.RowRange(0, k)
	dv := dst.RowRange(0, k)
	defer sv.Close()
	defer dv.Close()
	H := gocv.FindHomography(sv, &dv, gocv.HomograpyMethodRANSAC, 1.0, &a.lk.mask, 200, 0.99)
	defer H.Close()
	if H.Empty() || H.Rows() != 3 || H.Cols() != 3 {
		return
	}
	var h [9]float64
	for i := 0; i < 9; i++ {
		h[i] = H.GetDoubleAt(i/3, i%3)
	}
	res := make([]float64, 0, k)
	for i := 0; i < k; i++ {
		x, y := float64(s[2*i]), float64(s[2*i+1])
		w := h[6]*x + h[7]*y + h[8]
		if w == 0 {
			continue
		}
		px := (h[0]*x + h[1]*y + h[2]) / w
		py := (h[3]*x + h[4]*y + h[5]) / w
		res = append(res, math.Hypot(px-float64(d[2*i]), py-float64(d[2*i+1])))
	}
	if len(res) < 8 {
		return
	}
	shifts := make([]float64, 0, k)
	for i := 0; i < k; i++ {
		shifts = append(shifts, math.Hypot(float64(d[2*i]-s[2*i]), float64(d[2*i+1]-s[2*i+1])))
	}
	sort.Float64s(shifts)
	f.Shift = shifts[len(shifts)/2] * float64(pb.Dx()) / flowW
	sort.Float64s(res)
	// In the frame's own pixels: sensor noise is about constant there,
	// whatever the face size.
	f.NonRigid = res[len(res)*9/10] * float64(pb.Dx()) / flowW
	f.Points = len(res)
}

// moire scores periodic high-frequency structure (a screen's pixel grid and
// the moiré it makes with the camera's sensor) in a moireN×moireN patch of
// the face at native resolution: the strongest spectral peak in the upper
// frequency band over the band's median magnitude.
func (a *Analyzer) moire(f *measure.Frame) {
	b := f.Box
	c := centre(b)
	side := min(b.Dx()*3/5, b.Dy()*3/5)
	if side < moireN/2 {
		return
	}
	side = min(side, moireN*2) // large faces: a 2:1 decimation keeps the patch small
	pr := image.Rect(c.X-side/2, c.Y-side/3, c.X-side/2+side, c.Y-side/3+side).Intersect(image.Rect(0, 0, f.Size.X, f.Size.Y))
	if pr.Dx() < moireN/2 || pr.Dy() < moireN/2 {
		return
	}
	r := a.grey.Region(pr)
	if pr.Dx() == moireN && pr.Dy() == moireN {
		r.ConvertTo(&a.patchF, gocv.MatTypeCV32F)
	} else {
		gocv.Resize(r, &a.patch, image.Pt(moireN, moireN), 0, 0, gocv.InterpolationNearestNeighbor)
		a.patch.ConvertTo(&a.patchF, gocv.MatTypeCV32F)
	}
	r.Close()
	p, err := a.patchF.DataPtrFloat32()
	if err != nil {
		return
	}
	var mean float32
	for _, v := range p {
		mean += v
	}
	mean /= float32(len(p))
	for i := range p {
		p[i] = (p[i] - mean) * a.hann[i]
	}
	gocv.DFT(a.patchF, &a.spec, gocv.DftComplexOutput)
	s, err := a.spec.DataPtrFloat32()
	if err != nil {
		return
	}
	mags := make([]float64, 0, moireN*moireN/2)
	var peak float64
	for v := 0; v < moireN; v++ {
		fv := v
		if fv > moireN/2 {
			fv -= moireN
		}
		for u := 0; u <= moireN/2; u++ {
			r2 := u*u + fv*fv
			if r2 < (moireN/6)*(moireN/6) || r2 > (moireN/2)*(moireN/2) {
				continue
			}
			i := (v*moireN + u) * 2
			m := math.Hypot(float64(s[i]), float64(s[i+1]))
			mags = append(mags, m)
			peak = math.Max(peak, m)
		}
	}
	if len(mags) == 0 {
		return
	}
	sort.Float64s(mags)
	med := mags[len(mags)/2]
	if med > 0 {
		f.Moire = peak / med
	}
}

// ---- geometry helpers ----

func scaleRect(r image.Rectangle, s float64) image.Rectangle {
	return image.Rect(int(math.Round(float64(r.Min.X)*s)), int(math.Round(float64(r.Min.Y)*s)),
		int(math.Round(float64(r.Max.X)*s)), int(math.Round(float64(r.Max.Y)*s)))
}

func area(r image.Rectangle) int { return r.Dx() * r.Dy() }

func centre(r image.Rectangle) image.Point {
	return image.Pt((r.Min.X+r.Max.X)/2, (r.Min.Y+r.Max.Y)/2)
}

func dist2(a, b image.Point) int {
	d := a.Sub(b)
	return d.X*d.X + d.Y*d.Y
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

// IoU is the intersection over union of two rectangles.
func IoU(a, b image.Rectangle) float64 {
	i := area(a.Intersect(b))
	u := area(a) + area(b) - i
	if u == 0 {
		return 0
	}
	return float64(i) / float64(u)
}

// nearest returns the hit overlapping ref most (IoU > 0.2).
func nearest(hits []image.Rectangle, ref image.Rectangle) (image.Rectangle, bool) {
	best, bi := 0.2, -1
	for i, h := range hits {
		if v := IoU(h, ref); v > best {
			best, bi = v, i
		}
	}
	if bi < 0 {
		return image.Rectangle{}, false
	}
	return hits[bi], true
}

// cluster groups detections of the same face: boxes that overlap or whose
// centre lies in the other. Each cluster is sorted smallest first.
func cluster(hits []image.Rectangle) [][]image.Rectangle {
	var out [][]image.Rectangle
	for _, h := range hits {
		placed := false
		for i, c := range out {
			for _, o := range c {
				if IoU(h, o) > 0.15 || centre(h).In(o) || centre(o).In(h) {
					out[i] = append(out[i], h)
					placed = true
					break
				}
			}
			if placed {
				break
			}
		}
		if !placed {
			out = append(out, []image.Rectangle{h})
		}
	}
	for _, c := range out {
		sort.Slice(c, func(i, j int) bool { return area(c[i]) < area(c[j]) })
	}
	return out
}

func flattenSmallest(cs [][]image.Rectangle) []image.Rectangle {
	var out []image.Rectangle
	for _, c := range cs {
		out = append(out, c...)
	}
	return out
}
