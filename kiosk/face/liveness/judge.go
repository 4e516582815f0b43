package liveness

import (
	"math"
	"slices"
	"sort"
	"time"

	"eidkiosk/kiosk/face/measure"
)

// Passive check names (Result.Scores keys and Result.Failed entries).
const (
	CheckNonRigid  = "passive.nonrigid"  // frames with non-rigid motion
	CheckIdentical = "passive.identical" // fraction of frames bit-identical to the previous
	CheckRepeat    = "passive.repeat"    // frames identical to an earlier one
	CheckMoire     = "passive.moire"     // 90th percentile moiré score
	CheckSizeJump  = "passive.size_jump" // largest face-width ratio between close frames
	CheckFrames    = "passive.frames"    // frames with a face
)

// Status is the judge's state after a frame, for the UI.
type Status struct {
	Step      int    // 1-based index of the current or next challenge; 0 when done
	Steps     int    // challenges in the plan
	Challenge string // the prompted challenge; "" during a pause or when done
	Deadline  time.Time
	Done      bool // every step passed or one failed
	Failed    bool // a step timed out
}

// Result is the verdict and its evidence.
type Result struct {
	Live       bool
	Challenges []string
	Passed     []bool
	Timings    []time.Duration // prompt to response; the window when it failed
	Scores     map[string]float64
	Failed     []string // names of failed checks and challenges
}

// Judge watches frames against a plan. Use one per capture; not safe for
// concurrent use.
type Judge struct {
	c    Config
	plan Plan

	t0      time.Time
	started bool
	step    int
	prompt  time.Time // current step's prompt time (zero: not yet)
	endPrev time.Time // when the previous step ended
	passed  []bool
	timings []time.Duration
	hist    []measure.Frame // recent frames with a face (BaselineSpan + a margin)
	base    baseline
	det     detector

	// passive aggregates
	n, faceN, nrN, nrHi, ident, repeat int
	moire                              []float64
	jump                               float64
	prevW                              float64
	prevT                              time.Time
}

type baseline struct {
	eye, mouth, width, roll, yaw float64
	ok                           bool
}

type detector struct {
	hold    int
	inDip   bool
	dipAt   time.Time
	dipBase float64
	dipMin  float64 // lowest openness / baseline in the dip
	dipN    int     // frames below BlinkDrop in the dip
}

// NewJudge starts judging plan with c.
func NewJudge(c Config, plan Plan) *Judge {
	return &Judge{c: c, plan: plan, passed: make([]bool, len(plan.Steps)), timings: make([]time.Duration, len(plan.Steps))}
}

// Observe takes the next frame and returns the status.
func (j *Judge) Observe(f *measure.Frame) Status {
	if !j.started {
		j.started, j.t0, j.endPrev = true, f.T, f.T
	}
	j.passive(f)
	if f.HasFace() {
		j.hist = append(j.hist, *f)
		cut := 0
		for cut < len(j.hist) && f.T.Sub(j.hist[cut].T) > 3*j.c.BaselineSpan {
			cut++
		}
		j.hist = j.hist[cut:]
	}
	if j.step >= len(j.plan.Steps) {
		return j.status()
	}
	st := j.plan.Steps[j.step]
	if j.prompt.IsZero() {
		at := j.endPrev.Add(st.Pause)
		if j.plan.Scripted {
			at = j.t0.Add(st.At)
		}
		if f.T.Before(at) {
			return j.status()
		}
		j.prompt = at
		j.base = j.baselineBefore(at)
		j.det = detector{}
	}
	deadline := j.prompt.Add(st.Window)
	if f.T.After(deadline) {
		j.timings[j.step] = st.Window
		j.step = len(j.plan.Steps) // one failed challenge ends the capture
		return j.status()
	}
	if f.T.Sub(j.prompt) >= j.c.MinReaction && j.detect(st.Challenge, f) {
		j.passed[j.step] = true
		j.timings[j.step] = f.T.Sub(j.prompt)
		j.step++
		j.endPrev = f.T
		j.prompt = time.Time{}
	}
	return j.status()
}

func (j *Judge) status() Status {
	s := Status{Steps: len(j.plan.Steps)}
	if j.step >= len(j.plan.Steps) {
		s.Done = true
		s.Failed = slices.Contains(j.passed, false)
		return s
	}
	s.Step = j.step + 1
	if !j.prompt.IsZero() {
		s.Challenge = j.plan.Steps[j.step].Challenge
		s.Deadline = j.prompt.Add(j.plan.Steps[j.step].Window)
	}
	return s
}

// baselineBefore is the median of the measures over BaselineSpan before t.
func (j *Judge) baselineBefore(t time.Time) baseline {
	var eye, mouth, width, roll, yaw []float64
	for _, h := range j.hist {
		if h.T.After(t) || t.Sub(h.T) > j.c.BaselineSpan {
			continue
		}
		eye = append(eye, h.EyeOpen)
		mouth = append(mouth, h.Mouth)
		width = append(width, float64(h.Box.Dx()))
		yaw = append(yaw, h.Yaw)
		if h.Eyes == 2 {
			roll = append(roll, h.Roll)
		}
	}
	if len(width) == 0 {
		return baseline{}
	}
	return baseline{eye: median(eye), mouth: median(mouth), width: median(width), roll: median(roll), yaw: median(yaw), ok: true}
}

// detect reports whether f completes challenge k.
func (j *Judge) detect(k string, f *measure.Frame) bool {
	if !f.HasFace() {
		j.det.hold = 0
		return false
	}
	if !j.base.ok {
		// No face before the prompt: take the first face after it.
		j.base = j.baselineBefore(f.T)
		return false
	}
	hold := func(ok bool) bool {
		if ok {
			j.det.hold++
		} else {
			j.det.hold = 0
		}
		return j.det.hold >= j.c.HoldFrames
	}
	b := j.base
	w := float64(f.Box.Dx())
	switch k {
	case Blink:
		return j.blink(f)
	case TiltLeft, TiltRight:
		if f.Eyes < 2 {
			return hold(false)
		}
		// Tilting towards the right shoulder raises the eye line to the
		// image's right (positive roll) in a non-mirrored camera image.
		d := f.Roll - b.roll
		if k == TiltLeft {
			d = -d
		}
		return hold(d >= j.c.TiltDeg)
	case TurnLeft, TurnRight:
		// Turning to the citizen's left moves the nose to the image's
		// right (positive yaw; the profile cascade mirrored).
		y := f.Yaw - b.yaw
		want := 1.0
		if k == TurnRight {
			want = -1
		}
		return hold(y*want >= j.c.TurnYaw || f.Profile == int(want))
	case MoveCloser:
		return hold(w >= j.c.CloserRatio*b.width)
	case MoveBack:
		return hold(w <= j.c.BackRatio*b.width)
	case OpenMouth:
		return hold(f.Mouth >= j.c.MouthRatio*b.mouth && f.Mouth >= b.mouth+j.c.MouthAbs)
	}
	return false
}

// blink looks for a short dip of the eye openness below a running
// baseline and its recovery. The baseline is the median over the
// BaselineSpan before the frame, so a slow change (leaning back) is not a
// blink, and a closure longer than BlinkMaxDur is not one either.
func (j *Judge) blink(f *measure.Frame) bool {
	var vals []float64
	for _, h := range j.hist {
		if d := f.T.Sub(h.T); d > 150*time.Millisecond && d <= j.c.BaselineSpan+150*time.Millisecond {
			vals = append(vals, h.EyeOpen)
		}
	}
	if len(vals) < 3 {
		return false
	}
	base := median(vals)
	v := f.EyeOpen
	if !j.det.inDip {
		if v <= j.c.BlinkDrop*base {
			j.det = detector{inDip: true, dipAt: f.T, dipBase: base, dipMin: v / base, dipN: 1}
		}
		return false
	}
	if f.T.Sub(j.det.dipAt) > j.c.BlinkMaxDur {
		j.det.inDip = false
		return false
	}
	rel := v / j.det.dipBase
	if rel <= j.c.BlinkDrop {
		j.det.dipN++
		j.det.dipMin = math.Min(j.det.dipMin, rel)
		return false
	}
	if rel < j.c.BlinkRecover {
		return false
	}
	// Reopened: a blink when the closure was deep and lasted long enough
	// (sensor noise on a photo makes single shallow dips).
	ok := j.det.dipN >= j.c.BlinkFrames && j.det.dipMin <= j.c.BlinkDeep
	j.det.inDip = false
	return ok
}

func (j *Judge) passive(f *measure.Frame) {
	j.n++
	if f.Identical {
		j.ident++
	}
	if f.Repeat {
		j.repeat++
	}
	if !f.HasFace() {
		j.prevW = 0
		return
	}
	j.faceN++
	if f.NonRigid >= 0 {
		j.nrN++
		if f.NonRigid > j.c.NonRigidPx+j.c.NonRigidShift*f.Shift {
			j.nrHi++
		}
	}
	if f.Moire > 0 {
		j.moire = append(j.moire, f.Moire)
	}
	w := float64(f.Box.Dx())
	if j.prevW > 0 && f.T.Sub(j.prevT) <= 250*time.Millisecond {
		j.jump = math.Max(j.jump, math.Max(w/j.prevW, j.prevW/w))
	}
	j.prevW, j.prevT = w, f.T
}

// Result is the verdict so far (call it when Observe reports Done, or when
// the capture ends).
func (j *Judge) Result() Result {
	r := Result{Scores: map[string]float64{}}
	for i, s := range j.plan.Steps {
		r.Challenges = append(r.Challenges, s.Challenge)
		r.Passed = append(r.Passed, j.passed[i])
		r.Timings = append(r.Timings, j.timings[i])
		v := 0.0
		if j.passed[i] {
			v = 1
		} else {
			r.Failed = append(r.Failed, s.Challenge)
		}
		r.Scores[s.Challenge] = v
	}
	ident := 0.0
	if j.n > 1 {
		ident = float64(j.ident) / float64(j.n-1)
	}
	moire := percentile(j.moire, 0.9)
	r.Scores[CheckNonRigid] = float64(j.nrHi)
	r.Scores[CheckIdentical] = round3(ident)
	r.Scores[CheckRepeat] = float64(j.repeat)
	r.Scores[CheckMoire] = round3(moire)
	r.Scores[CheckSizeJump] = round3(j.jump)
	r.Scores[CheckFrames] = float64(j.faceN)
	fail := func(name string, bad bool) {
		if bad {
			r.Failed = append(r.Failed, name)
		}
	}
	fail(CheckFrames, j.faceN < j.c.MinFaceFrames)
	fail(CheckNonRigid, j.nrHi < j.c.MinNonRigid)
	fail(CheckIdentical, ident > j.c.MaxIdentical)
	fail(CheckRepeat, j.repeat > j.c.MaxRepeat)
	fail(CheckMoire, moire > j.c.MaxMoire)
	fail(CheckSizeJump, j.jump > j.c.MaxSizeJump)
	r.Live = len(r.Failed) == 0 && j.step >= len(j.plan.Steps)
	return r
}

func median(v []float64) float64 { return percentile(v, 0.5) }

func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	sort.Float64s(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
