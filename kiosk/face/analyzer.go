package face

import (
	"hash/maphash"
	"image"
	"math"
	"time"

	"gocv.io/x/gocv"

	"eidkiosk/kiosk/face/measure"
)

// AnalyzerOptions tunes detection. Zero values take the defaults.
type AnalyzerOptions struct {
	// ModelsDir holds the face models; empty: the facemodel lookup
	// ($EIDKIOSK_MODELS, /usr/share/eidkiosk/models, <repo>/out/models).
	ModelsDir string
	// DetectEvery: the detector runs on every this many frames (default 5);
	// between, the box is carried from the previous frame's landmarks.
	DetectEvery int
	// MinFaceFrac is the smallest face counted, as a fraction of the frame
	// width (default 0.1): people passing far behind the citizen are not.
	MinFaceFrac float64
	// RepeatWindow: how many earlier frame hashes are kept to find replayed
	// frames (default 1000).
	RepeatWindow int
}

func (o *AnalyzerOptions) defaults() {
	if o.DetectEvery <= 0 {
		o.DetectEvery = 5
	}
	if o.MinFaceFrac <= 0 {
		o.MinFaceFrac = 0.1
	}
	if o.RepeatWindow <= 0 {
		o.RepeatWindow = 1000
	}
}

const (
	normW  = 128 // face crop width for the statistics
	flowW  = 96  // face crop width for the non-rigid motion fit
	fbMax  = 0.3 // forward-backward tracking error (crop pixels) above which a point is dropped
	moireN = 64  // side of the native-resolution patch for the spectrum
)

// Analyzer measures frames: it finds and tracks the face and fills a
// measure.Frame, stage by stage: replay (frame hashes, replay.go), detection
// and landmarks with tracking (detect.go), eye state (eyes.go), texture
// (sharpness, exposure, moiré; texture.go) and motion (the non-rigid fit;
// motion.go). It owns its models and Mats (reused between frames) and is
// used by one goroutine. Close it.
type Analyzer struct {
	o      AnalyzerOptions
	nets   *nets
	lkTerm gocv.TermCriteria

	grey, tmp           gocv.Mat
	detSmall, detIn     gocv.Mat
	lmOut               [136]float32 // the landmark model's output, copied out of OpenCV
	lmIn, eyeIn         gocv.Mat
	norm                gocv.Mat
	prevFlow, curFlow   gocv.Mat
	lap, mean, std      gocv.Mat
	patch, patchF, spec gocv.Mat
	hann                []float32
	lk                  lkBufs

	// detection and tracking
	tracking    bool
	sinceDetect int
	fit         boxFit
	lm          measure.Landmarks
	lastBox     image.Rectangle
	faces       int
	score       float64

	// motion
	prevBox image.Rectangle
	prevLm  measure.Landmarks
	hasPrev bool

	// replay
	seed     maphash.Seed
	prevHash uint64
	hashes   map[uint64]int // hash → frame index
	ring     []uint64
	n        int
}

type lkBufs struct{ pts, next, back, status, status2, errs, mask gocv.Mat }

// NewAnalyzer loads the face models (each verified against the manifest)
// from o.ModelsDir and returns an analyzer. A missing or altered model is
// an error wrapping facemodel.ErrUnavailable.
func NewAnalyzer(o AnalyzerOptions) (*Analyzer, error) {
	o.defaults()
	n, err := loadNets(o.ModelsDir)
	if err != nil {
		return nil, err
	}
	a := &Analyzer{o: o, nets: n, seed: maphash.MakeSeed(), hashes: map[uint64]int{},
		lkTerm: gocv.NewTermCriteria(gocv.Count+gocv.EPS, 20, 0.03)}
	for _, m := range a.mats() {
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

func (a *Analyzer) mats() []*gocv.Mat {
	return []*gocv.Mat{&a.grey, &a.tmp, &a.detSmall, &a.detIn, &a.lmIn, &a.eyeIn, &a.norm, &a.prevFlow, &a.curFlow,
		&a.lap, &a.mean, &a.std, &a.patch, &a.patchF, &a.spec,
		&a.lk.pts, &a.lk.next, &a.lk.back, &a.lk.status, &a.lk.status2, &a.lk.errs, &a.lk.mask}
}

// Close frees the models and buffers.
func (a *Analyzer) Close() error {
	a.nets.close()
	for _, m := range a.mats() {
		m.Close()
	}
	return nil
}

// Reset forgets the track and the frame history (a new visit).
func (a *Analyzer) Reset() {
	a.tracking = false
	a.sinceDetect = 0
	a.faces = 0
	a.hasPrev = false
	a.prevHash = 0
	clear(a.hashes)
	a.ring = a.ring[:0]
	a.n = 0
}

// Wipe zeroes the buffers that hold face pixels (grey frame, crops) and
// forgets the track and its landmarks; the capturer calls it at the end of
// every capture.
func (a *Analyzer) Wipe() {
	for _, m := range []*gocv.Mat{&a.grey, &a.tmp, &a.detSmall, &a.detIn, &a.lmIn, &a.eyeIn, &a.norm, &a.prevFlow, &a.curFlow, &a.patch, &a.patchF} {
		if !m.Empty() {
			m.SetTo(gocv.NewScalar(0, 0, 0, 0))
		}
	}
	a.lm, a.prevLm = measure.Landmarks{}, measure.Landmarks{}
	a.Reset()
}

// Analyze measures one BGR frame taken at t.
func (a *Analyzer) Analyze(bgr gocv.Mat, t time.Time) measure.Frame {
	start := time.Now()
	f := measure.Frame{T: t, Size: image.Pt(bgr.Cols(), bgr.Rows()), NonRigid: -1, EyeClosedL: -1, EyeClosedR: -1, EyeClosed: -1}
	if bgr.Empty() || bgr.Channels() != 3 {
		return f
	}
	a.hashFrame(bgr, &f)
	// Grey with the red and blue weights swapped: what the landmark and
	// eye models were fed by the package's JS (BGR-named conversions of
	// RGBA data).
	gocv.CvtColor(bgr, &a.grey, gocv.ColorRGBToGray)
	ok := a.track(bgr, &f)
	f.DetectMS = msSince(start)
	if !ok {
		f.Box = image.Rectangle{}
		a.hasPrev = false
		f.TotalMS = msSince(start)
		return f
	}
	f.Landmarks = a.lm
	a.geometry(&f)
	a.eyes(&f)
	a.stats(&f)
	a.motion(&f)
	a.moire(&f)
	f.TotalMS = msSince(start)
	return f
}

// geometry derives the eye centres and distance, head pose and the eye and
// mouth aspect ratios from the landmarks.
func (a *Analyzer) geometry(f *measure.Frame) {
	l := &f.Landmarks
	le, re := l.EyeCentres()
	f.LeftEye = image.Pt(int(math.Round(le.X)), int(math.Round(le.Y)))
	f.RightEye = image.Pt(int(math.Round(re.X)), int(math.Round(re.Y)))
	f.EyeDist = l.EyeDistance()
	f.Roll = l.Roll()
	f.Yaw, f.Pitch = l.HeadPose()
	f.EAR = l.EAR()
	f.Mouth = l.MAR()
}

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }

// ---- geometry helpers ----

func area(r image.Rectangle) int { return r.Dx() * r.Dy() }

func centre(r image.Rectangle) image.Point {
	return image.Pt((r.Min.X+r.Max.X)/2, (r.Min.Y+r.Max.Y)/2)
}

// IoU is the intersection over union of two rectangles.
func IoU(a, b image.Rectangle) float64 {
	i := area(a.Intersect(b))
	u := area(a) + area(b) - i
	if u == 0 {
		return 0
	}
	return float64(i) / float64(u)
}
