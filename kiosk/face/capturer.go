package face

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"time"

	"gocv.io/x/gocv"

	"eidkiosk/drivers/camera"
	"eidkiosk/internal/clock"
	"eidkiosk/kiosk/face/liveness"
	"eidkiosk/kiosk/face/measure"
	"eidkiosk/kiosk/session"
)

// Frames is what the capturer needs from a camera (camera.Camera).
type Frames interface {
	Next(ctx context.Context, after uint64, dst *gocv.Mat) (camera.Info, error)
	Preview(dst *image.RGBA) (seq uint64, ok bool)
	PreviewSize() image.Point
}

// Rewinder is implemented by cameras that can start a recording again
// (camera.Camera.Restart); the capturer rewinds at the start of each
// capture when Settings.Rewind is set.
type Rewinder interface{ Restart() uint64 }

// Settings is everything a capture is judged by. Presets return complete
// Settings (Kiosk, Demo).
type Settings struct {
	Analyzer AnalyzerOptions
	Quality  measure.Thresholds
	Liveness liveness.Config

	// MaxDuration bounds one capture (frame time); past it the capture
	// ends with ErrNoPortrait or ErrLivenessFailed.
	MaxDuration time.Duration
	// PortraitGrace: after the last challenge, how long to keep looking
	// for a frame that passes the quality gate if none has yet.
	PortraitGrace time.Duration
	// FaultGrace: a camera fault lasting longer ends the capture with
	// session.ErrCameraFault.
	FaultGrace time.Duration
	// Rewind starts a recording again at each capture (demo: the real
	// video's answers come at known times).
	Rewind bool

	// Samples: how many quality-passing frames (the best of each 400 ms)
	// a live capture hands to Options.OnSamples (default 5; the matcher's
	// template is their median).
	Samples int

	PortraitMaxBytes int // ≤ 60 KB
	PortraitWidth    int // output width unless that would bring the eye distance under Quality.MinEyeDist
	EvidenceFrames   int // down-scaled frames kept for the authority
	EvidenceWidth    int
}

// Options configures NewCapturer.
type Options struct {
	Camera   Frames
	Settings Settings
	Clock    clock.Clock // for fault waits; default clock.Real{}
	// OnSamples, when set, receives Settings.Samples quality-passing
	// frames with their landmarks at the end of each live capture (fewer
	// when the capture had fewer), before they are wiped: 1:1 matching
	// against the card photo runs there. Its error ends the capture.
	OnSamples SamplesFunc
}

// Capturer is the kiosk's session.FaceCapturer, and the UI's live preview.
// Capture is not re-entrant (one visit at a time); Preview and PreviewSize
// may be called from any goroutine at any time.
type Capturer struct {
	o   Options
	s   Settings
	a   *Analyzer
	clk clock.Clock
	mu  chan struct{} // one capture at a time
}

var _ session.FaceCapturer = (*Capturer)(nil)

// NewCapturer loads the face models and returns a capturer. Close it. A
// missing or altered model is an error wrapping facemodel.ErrUnavailable.
func NewCapturer(o Options) (*Capturer, error) {
	if o.Camera == nil {
		return nil, errors.New("face: Options.Camera is required")
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if err := o.Settings.Liveness.Validate(); err != nil {
		return nil, fmt.Errorf("face: %w", err)
	}
	a, err := NewAnalyzer(o.Settings.Analyzer)
	if err != nil {
		return nil, err
	}
	c := &Capturer{o: o, s: o.Settings, a: a, clk: o.Clock, mu: make(chan struct{}, 1)}
	return c, nil
}

// Close frees the analyzer (the camera is the caller's).
func (c *Capturer) Close() error {
	c.mu <- struct{}{}
	defer func() { <-c.mu }()
	return c.a.Close()
}

// Preview copies the latest camera frame, resized to dst, into dst (RGBA);
// see camera.Camera.Preview. It never waits for the face pipeline.
func (c *Capturer) Preview(dst *image.RGBA) (seq uint64, ok bool) { return c.o.Camera.Preview(dst) }

// PreviewSize is the camera's native frame size (its aspect).
func (c *Capturer) PreviewSize() image.Point { return c.o.Camera.PreviewSize() }

// Capture runs one capture: liveness challenges drawn from nonce, the
// quality gate on every frame, the best passing frame as the portrait.
// Errors: session.ErrCameraFault, session.ErrLivenessFailed (the result
// then carries the liveness evidence), session.ErrNoPortrait, ctx's error.
func (c *Capturer) Capture(ctx context.Context, nonce []byte, report func(session.FaceProgress)) (session.FaceResult, error) {
	select {
	case c.mu <- struct{}{}:
	case <-ctx.Done():
		return session.FaceResult{}, ctx.Err()
	}
	defer func() { <-c.mu }()
	if report == nil {
		report = func(session.FaceProgress) {}
	}
	plan, err := liveness.NewPlan(nonce, c.s.Liveness)
	if err != nil {
		return session.FaceResult{}, fmt.Errorf("face: %w", err)
	}
	n := c.s.Samples
	if n <= 0 {
		n = 5
	}
	if c.o.OnSamples == nil {
		n = 0
	}
	run := &capture{c: c, plan: plan, judge: liveness.NewJudge(c.s.Liveness, plan), report: report, samples: samples{max: n}}
	defer run.close()
	res, err := run.loop(ctx)
	if err == nil && c.o.OnSamples != nil {
		if serr := c.o.OnSamples(ctx, run.samples.sorted()); serr != nil {
			return res, fmt.Errorf("face: samples: %w", serr)
		}
	}
	return res, err
}

type capture struct {
	c      *Capturer
	plan   liveness.Plan
	judge  *liveness.Judge
	report func(session.FaceProgress)

	samples   samples
	frame     gocv.Mat
	best      gocv.Mat // portrait crop of the best passing frame
	bestScore float64
	bestQ     []session.Measure
	bestEye   float64
	hasBest   bool
	evidence  [][]byte
	lastStep  int
	start     time.Time
	doneAt    time.Time
}

// close zeroes and frees the capture's frames (face pixels do not outlive
// the visit in this process's heap) and wipes the analyzer's face buffers.
func (r *capture) close() {
	for _, m := range []*gocv.Mat{&r.frame, &r.best} {
		if m.Ptr() != nil && !m.Empty() {
			m.SetTo(gocv.NewScalar(0, 0, 0, 0))
		}
		m.Close()
	}
	r.samples.wipe()
	r.c.a.Wipe()
}

func (r *capture) loop(ctx context.Context) (session.FaceResult, error) {
	c := r.c
	r.frame, r.best = gocv.NewMat(), gocv.NewMat()
	c.a.Reset()
	var minEpoch uint64
	if rw, ok := c.o.Camera.(Rewinder); ok && c.s.Rewind {
		minEpoch = rw.Restart()
	}
	var seq uint64
	var faultSince time.Time
	r.lastStep = 1
	for {
		if err := ctx.Err(); err != nil {
			return session.FaceResult{}, err
		}
		info, err := r.next(ctx, seq)
		switch {
		case err == nil:
			faultSince = time.Time{}
		case ctx.Err() != nil:
			return session.FaceResult{}, ctx.Err()
		default:
			now := c.clk.Now()
			if faultSince.IsZero() {
				faultSince = now
			}
			if now.Sub(faultSince) >= c.s.FaultGrace {
				return session.FaceResult{}, fmt.Errorf("face: %w: %v", session.ErrCameraFault, err)
			}
			if !sleepCtx(ctx, c.clk, 100*time.Millisecond) {
				return session.FaceResult{}, ctx.Err()
			}
			continue
		}
		seq = info.Seq
		if info.Epoch < minEpoch {
			continue
		}
		if r.start.IsZero() {
			r.start = info.Time
		}
		f := c.a.Analyze(r.frame, info.Time)
		q := c.s.Quality.Check(&f)
		st := r.judge.Observe(&f)
		if q.Pass && (!r.hasBest || q.Score > r.bestScore) {
			r.keepBest(&f, q)
		}
		if q.Pass {
			r.samples.offer(r.frame, &f, q.Score)
		}
		r.evidenceAt(&f, st)
		r.progress(&f, q, st)
		if st.Done {
			if r.doneAt.IsZero() {
				r.doneAt = info.Time
			}
			if st.Failed {
				return r.result(session.ErrLivenessFailed)
			}
			if r.hasBest {
				return r.result(nil)
			}
			if info.Time.Sub(r.doneAt) > c.s.PortraitGrace {
				return r.result(session.ErrNoPortrait)
			}
		}
		if info.Time.Sub(r.start) > c.s.MaxDuration {
			if !st.Done {
				return r.result(session.ErrLivenessFailed)
			}
			return r.result(session.ErrNoPortrait)
		}
	}
}

// next waits for the next frame, at most FaultGrace.
func (r *capture) next(ctx context.Context, after uint64) (camera.Info, error) {
	cctx, cancel := context.WithTimeout(ctx, r.c.s.FaultGrace)
	defer cancel()
	info, err := r.c.o.Camera.Next(cctx, after, &r.frame)
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("no frame for %v", r.c.s.FaultGrace)
	}
	return info, err
}

func (r *capture) progress(f *measure.Frame, q measure.Result, st liveness.Status) {
	p := session.FaceProgress{Box: f.Box, Frame: f.Size, Step: st.Step, Steps: st.Steps, Challenge: st.Challenge, Deadline: st.Deadline}
	if st.Done {
		p.Step = st.Steps
	}
	switch {
	case !f.HasFace() || f.Faces > 1:
		p.Guidance = q.Guidance
	case st.Challenge != "":
		// During a challenge only the guidance the response does not
		// contradict (a turn fails "look straight", a step closer
		// "move back").
	default:
		p.Guidance = q.Guidance
	}
	r.report(p)
}

// keepBest crops the portrait of a passing frame.
func (r *capture) keepBest(f *measure.Frame, q measure.Result) {
	crop := PortraitRect(f.Box, f.Size)
	if crop.Empty() {
		return
	}
	reg := r.frame.Region(crop)
	reg.CopyTo(&r.best)
	reg.Close()
	r.hasBest, r.bestScore, r.bestQ = true, q.Score, q.Measures
	r.bestEye = f.EyeDist
}

// evidenceAt keeps a down-scaled frame at the first face and at each
// challenge response.
func (r *capture) evidenceAt(f *measure.Frame, st liveness.Status) {
	want := false
	if len(r.evidence) == 0 && f.HasFace() {
		want = true
	}
	if st.Step != r.lastStep || (st.Done && r.lastStep != 0) {
		want = true
		r.lastStep = st.Step
		if st.Done {
			r.lastStep = 0
		}
	}
	if !want || len(r.evidence) >= r.c.s.EvidenceFrames {
		return
	}
	if b, err := encodeScaled(r.frame, r.c.s.EvidenceWidth, 70); err == nil {
		r.evidence = append(r.evidence, b)
	}
}

func (r *capture) result(fail error) (session.FaceResult, error) {
	res := r.judge.Result()
	out := session.FaceResult{
		Quality: r.bestQ,
		Liveness: session.Liveness{
			Live: res.Live, Challenges: res.Challenges, Passed: res.Passed, Scores: res.Scores,
			Evidence: r.evidence, Timings: res.Timings, Nonce: r.plan.Nonce,
		},
	}
	if fail == nil && !res.Live {
		fail = session.ErrLivenessFailed
	}
	if fail != nil {
		if errors.Is(fail, session.ErrLivenessFailed) {
			return out, fmt.Errorf("face: %w (failed: %v)", fail, res.Failed)
		}
		return out, fmt.Errorf("face: %w", fail)
	}
	jpg, err := EncodePortrait(r.best, r.bestEye, r.c.s.Quality.MinEyeDist, r.c.s.PortraitWidth, r.c.s.PortraitMaxBytes)
	if err != nil {
		return out, fmt.Errorf("face: portrait: %w: %v", session.ErrNoPortrait, err)
	}
	out.Portrait = jpg
	return out, nil
}

// PortraitRect is the 3:4 crop around a face box, after the ICAO 9303
// head-and-shoulders layout: the head (≈1.25 box widths) about 60 % of the
// image width, the eye line about 42 % from the top, moved inside the
// frame and shrunk if the frame is too small.
func PortraitRect(box image.Rectangle, frame image.Point) image.Rectangle {
	if box.Empty() {
		return image.Rectangle{}
	}
	w := float64(box.Dx()) * 2.0
	h := w * 4 / 3
	if h > float64(frame.Y) {
		h = float64(frame.Y)
		w = h * 3 / 4
	}
	if w > float64(frame.X) {
		w = float64(frame.X)
		h = w * 4 / 3
	}
	cx := float64(box.Min.X+box.Max.X) / 2
	eyeY := float64(box.Min.Y) + 0.4*float64(box.Dy())
	x0 := cx - w/2
	y0 := eyeY - 0.42*h
	x0 = math.Max(0, math.Min(x0, float64(frame.X)-w))
	y0 = math.Max(0, math.Min(y0, float64(frame.Y)-h))
	W := int(w) / 3 * 3
	H := W * 4 / 3
	return image.Rect(int(x0), int(y0), int(x0)+W, int(y0)+H).Intersect(image.Rect(0, 0, frame.X, frame.Y))
}

// EncodePortrait scales the crop to width (never below what keeps
// minEye pixels between eyes eyeDist apart, never up) and encodes it as
// JPEG at the highest quality that fits maxBytes.
func EncodePortrait(crop gocv.Mat, eyeDist, minEye float64, width, maxBytes int) ([]byte, error) {
	if crop.Empty() {
		return nil, errors.New("no portrait frame")
	}
	cw := crop.Cols()
	w := min(cw, width)
	if eyeDist > 0 && minEye > 0 {
		need := int(math.Ceil(float64(cw) * minEye / eyeDist))
		w = min(cw, max(w, need))
	}
	for try := 0; try < 6; try++ {
		for q := 92; q >= 50; q -= 7 {
			b, err := encodeScaled(crop, w, q)
			if err != nil {
				return nil, err
			}
			if len(b) <= maxBytes {
				return b, nil
			}
		}
		w = w * 85 / 100
	}
	return nil, fmt.Errorf("portrait does not fit %d bytes", maxBytes)
}

// encodeScaled resizes m to width w (3:4 or the source aspect) and
// encodes a JPEG.
func encodeScaled(m gocv.Mat, w, quality int) ([]byte, error) {
	src := m
	if w > 0 && w < m.Cols() {
		h := int(math.Round(float64(m.Rows()) * float64(w) / float64(m.Cols())))
		small := gocv.NewMat()
		defer small.Close()
		gocv.Resize(m, &small, image.Pt(w, h), 0, 0, gocv.InterpolationArea)
		src = small
	}
	buf, err := gocv.IMEncodeWithParams(gocv.JPEGFileExt, src, []int{gocv.IMWriteJpegQuality, quality})
	if err != nil {
		return nil, err
	}
	defer buf.Close()
	return append([]byte(nil), buf.GetBytes()...), nil
}

func sleepCtx(ctx context.Context, clk clock.Clock, d time.Duration) bool {
	ch := make(chan struct{})
	t := clk.AfterFunc(d, func() { close(ch) })
	select {
	case <-ch:
		return true
	case <-ctx.Done():
		t.Stop()
		return false
	}
}
