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
	mouth, eyeDist, roll, yaw, pitch float64
	ok                               bool
}

type detector struct {
	hold    int
	wasOpen bool      // eyes seen open since the prompt (or the last closure)
	inDip   bool      // eyes closed now
	dipAt   time.Time // when they closed
	dipN    int       // closed frames
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
	var mouth, eyeDist, roll, yaw, pitch []float64
	for _, h := range j.hist {
		if h.T.After(t) || t.Sub(h.T) > j.c.BaselineSpan {
			continue
		}
		mouth = append(mouth, h.Mouth)
		eyeDist = append(eyeDist, h.EyeDist)
		roll = append(roll, h.Roll)
		yaw = append(yaw, h.Yaw)
		pitch = append(pitch, h.Pitch)
	}
	if len(eyeDist) == 0 {
		return baseline{}
	}
	return baseline{mouth: median(mouth), eyeDist: median(eyeDist), roll: median(roll), yaw: median(yaw), pitch: median(pitch), ok: true}
}

// detect reports whether f completes challenge k. Poses are judged as
// changes from the baseline before the prompt, so a person's resting pose
// (and the generic head model's bias for them) does not count.
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
	switch k {
	case Blink:
		return j.blink(f)
	case TiltLeft, TiltRight:
		// Tilting towards the right shoulder raises the eye line to the
		// image's right (positive roll) in a non-mirrored camera image.
		d := f.Roll - b.roll
		if k == TiltLeft {
			d = -d
		}
		return hold(d >= j.c.TiltDeg)
	case TurnLeft, TurnRight:
		// Turning to the citizen's left moves the nose to the image's
		// right (positive yaw).
		d := f.Yaw - b.yaw
		if k == TurnRight {
			d = -d
		}
		return hold(d >= j.c.TurnDeg)
	case LookUp, LookDown:
		d := f.Pitch - b.pitch
		if k == LookDown {
			d = -d
		}
		return hold(d >= j.c.LookDeg)
	case MoveCloser:
		return hold(f.EyeDist >= j.c.CloserRatio*b.eyeDist)
	case MoveBack:
		return hold(f.EyeDist <= j.c.BackRatio*b.eyeDist)
	case OpenMouth:
		return hold(f.Mouth >= b.mouth+j.c.MouthAbs)
	}
	return false
}

// blink looks for open eyes, then both eyes closed (the eye model's
// p(closed) above BlinkClosed on both) for at least BlinkFrames frames and
// at most BlinkMaxDur, then open eyes again. Frames whose eyes are too
// small to judge break the sequence.
func (j *Judge) blink(f *measure.Frame) bool {
	p := f.EyeClosed
	switch {
	case p < 0:
		j.det = detector{}
		return false
	case p > j.c.BlinkClosed:
		if !j.det.wasOpen {
			return false
		}
		if !j.det.inDip {
			j.det.inDip, j.det.dipAt, j.det.dipN = true, f.T, 0
		}
		j.det.dipN++
		if f.T.Sub(j.det.dipAt) > j.c.BlinkMaxDur {
			// Eyes kept closed: not a blink; wait for them to open again.
			j.det = detector{}
		}
		return false
	case p < j.c.BlinkOpen:
		if j.det.inDip {
			ok := j.det.dipN >= j.c.BlinkFrames && f.T.Sub(j.det.dipAt) <= j.c.BlinkMaxDur
			j.det = detector{wasOpen: true}
			return ok
		}
		j.det.wasOpen = true
	}
	return false
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
