package liveness

import (
	"image"
	"slices"
	"testing"
	"time"

	"eidkiosk/kiosk/face/measure"
)

func TestPlanIsDrawnFromTheNonce(t *testing.T) {
	c := DefaultConfig()
	a, err := NewPlan([]byte("nonce-aaaaaaaa"), c)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewPlan([]byte("nonce-aaaaaaaa"), c)
	if !slices.Equal(steps(a), steps(b)) {
		t.Fatal("same nonce, different plans")
	}
	seen := map[string]bool{}
	for i := 0; i < 64; i++ {
		p, err := NewPlan([]byte{byte(i), 1, 2, 3, 4, 5, 6, 7}, c)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Steps) != c.Count {
			t.Fatalf("%d steps", len(p.Steps))
		}
		if p.Steps[0].Challenge == p.Steps[1].Challenge {
			t.Fatal("a challenge repeated within a plan")
		}
		for _, s := range p.Steps {
			seen[s.Challenge] = true
			if s.Window < c.MinWindow || s.Window > c.MaxWindow || s.Pause < c.MinPause || s.Pause > c.MaxPause {
				t.Fatalf("step %+v outside the configured ranges", s)
			}
		}
	}
	if len(seen) != len(c.Challenges) {
		t.Fatalf("64 nonces drew only %d of %d challenges", len(seen), len(c.Challenges))
	}
	if _, err := NewPlan([]byte("short"), c); err == nil {
		t.Fatal("a 5-byte nonce accepted")
	}
	bad := c
	bad.Challenges = []string{"challenge.juggle"}
	bad.Count = 1
	if _, err := NewPlan([]byte("nonce-aaaaaaaa"), bad); err == nil {
		t.Fatal("unknown challenge accepted")
	}
}

func steps(p Plan) []Step { return p.Steps }

var t0 = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)

// person synthesizes frames of a live face at 25 fps: the eye openness
// and mouth come from fns of the frame index; motion is non-rigid.
type person struct {
	i      int
	closed func(i int) float64 // the eye model's p(closed) of the more open eye
	mouth  func(i int) float64
	width  func(i int) int // face box width; the eye distance is 0.36 of it
	roll   func(i int) float64
	yaw    func(i int) float64
	pitch  func(i int) float64
	rigid  bool // a photo: no non-rigid motion
	same   bool // bit-identical frames
}

func (p *person) next() *measure.Frame {
	i := p.i
	p.i++
	w := 120
	if p.width != nil {
		w = p.width(i)
	}
	f := &measure.Frame{
		T: t0.Add(time.Duration(i) * 40 * time.Millisecond), Size: image.Pt(400, 300), Faces: 1,
		Box: image.Rect(140, 100, 140+w, 100+w), EyeDist: 0.36 * float64(w), EyeClosed: 0.02, Mouth: 0.02,
		Yaw: 4, Pitch: 20, NonRigid: 0.6, Shift: 0.2, Points: 30, Moire: 18, Identical: p.same,
	}
	if p.rigid {
		f.NonRigid = 0.05
	}
	if p.closed != nil {
		f.EyeClosed = p.closed(i)
	}
	if p.yaw != nil {
		f.Yaw = p.yaw(i)
	}
	if p.pitch != nil {
		f.Pitch = p.pitch(i)
	}
	if p.mouth != nil {
		f.Mouth = p.mouth(i)
	}
	if p.roll != nil {
		f.Roll = p.roll(i)
	}
	return f
}

func scripted(k string, from, to float64) Plan {
	return Plan{Scripted: true, Nonce: []byte("test"), Steps: []Step{{Challenge: k, At: sec(from), Window: sec(to - from)}}}
}

func sec(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func run(c Config, p Plan, src *person, n int) Result {
	j := NewJudge(c, p)
	for i := 0; i < n; i++ {
		j.Observe(src.next())
	}
	return j.Result()
}

func TestBlinkIsAClosureBetweenOpenEyes(t *testing.T) {
	c := DefaultConfig()
	blink := func(i int) float64 {
		if i >= 60 && i <= 62 {
			return 0.999
		}
		return 0.3
	}
	if r := run(c, scripted(Blink, 1, 4), &person{closed: blink}, 100); !r.Live {
		t.Fatalf("a blink at 2.4 s not seen: %+v", r)
	}
	// Eyes closed and kept closed is not a blink.
	closed := func(i int) float64 {
		if i >= 60 {
			return 0.999
		}
		return 0.3
	}
	if r := run(c, scripted(Blink, 1, 4), &person{closed: closed}, 100); r.Live || r.Passed[0] {
		t.Fatalf("a closure that never reopens passed: %+v", r)
	}
	// A closure longer than BlinkMaxDur (eyes shut for a second) is not one.
	long := func(i int) float64 {
		if i >= 50 && i < 75 {
			return 0.999
		}
		return 0.3
	}
	if r := run(c, scripted(Blink, 1, 4), &person{closed: long}, 100); r.Live {
		t.Fatal("a one-second closure counted as a blink")
	}
	// Squinting (p(closed) 0.9–0.98, below the strict closed threshold) is
	// not a blink.
	squint := func(i int) float64 {
		if i%9 == 0 {
			return 0.98
		}
		return 0.3
	}
	if r := run(c, scripted(Blink, 1, 4), &person{closed: squint}, 100); r.Live {
		t.Fatal("near-closures counted as a blink")
	}
	// Eyes too small to judge (−1) break a closure.
	small := func(i int) float64 {
		switch {
		case i == 61:
			return -1
		case i >= 60 && i <= 62:
			return 0.999
		}
		return 0.3
	}
	if r := run(c, scripted(Blink, 1, 4), &person{closed: small}, 100); r.Live {
		t.Fatal("a closure interrupted by unjudged eyes counted")
	}
	// A blink before the prompt does not answer it.
	early := func(i int) float64 {
		if i >= 30 && i <= 32 {
			return 0.999
		}
		return 0.3
	}
	if r := run(c, scripted(Blink, 2, 4), &person{closed: early}, 100); r.Live {
		t.Fatal("a blink before the prompt counted")
	}
}

func TestPoseChallenges(t *testing.T) {
	c := DefaultConfig()
	ramp := func(i int, at int, v float64) float64 {
		if i >= at {
			return v
		}
		return 0
	}
	cases := []struct {
		k  string
		p  person
		ok bool
	}{
		{TiltRight, person{roll: func(i int) float64 { return ramp(i, 50, 9) }}, true},
		{TiltLeft, person{roll: func(i int) float64 { return ramp(i, 50, 9) }}, false},
		{TiltLeft, person{roll: func(i int) float64 { return ramp(i, 50, -9) }}, true},
		{MoveCloser, person{width: func(i int) int { return 120 + min(40, 2*int(ramp(i, 40, float64(i-40)))) }}, true},
		{MoveBack, person{width: func(i int) int { return 120 + min(40, 2*int(ramp(i, 40, float64(i-40)))) }}, false},
		{MoveBack, person{width: func(i int) int { return 120 - min(30, 2*int(ramp(i, 40, float64(i-40)))) }}, true},
		{OpenMouth, person{mouth: func(i int) float64 { return 0.02 + ramp(i, 50, 0.2) }}, true},
		{OpenMouth, person{mouth: func(i int) float64 { return 0.02 + ramp(i, 50, 0.05) }}, false},
		// Head pose: changes from the resting pose (yaw 4°, pitch 20°).
		{TurnLeft, person{yaw: func(i int) float64 { return 4 + ramp(i, 50, 20) }}, true},
		{TurnRight, person{yaw: func(i int) float64 { return 4 + ramp(i, 50, 20) }}, false},
		{TurnRight, person{yaw: func(i int) float64 { return 4 - ramp(i, 50, 20) }}, true},
		{TurnLeft, person{yaw: func(i int) float64 { return 4 + ramp(i, 50, 10) }}, false},
		{LookUp, person{pitch: func(i int) float64 { return 20 + ramp(i, 50, 14) }}, true},
		{LookDown, person{pitch: func(i int) float64 { return 20 + ramp(i, 50, 14) }}, false},
		{LookDown, person{pitch: func(i int) float64 { return 20 - ramp(i, 50, 14) }}, true},
		{LookUp, person{pitch: func(i int) float64 { return 20 + ramp(i, 50, 6) }}, false},
	}
	for _, cs := range cases {
		p := cs.p
		r := run(c, scripted(cs.k, 1, 3.5), &p, 100)
		if r.Live != cs.ok {
			t.Errorf("%s: live=%v want %v (%v)", cs.k, r.Live, cs.ok, r.Failed)
		}
	}
}

func TestPassiveChecksRejectPhotosAndReplays(t *testing.T) {
	c := DefaultConfig()
	none := Plan{Scripted: true, Nonce: []byte("passive")}
	if r := run(c, none, &person{}, 50); !r.Live {
		t.Fatalf("a live face with no challenge failed: %v", r.Failed)
	}
	if r := run(c, none, &person{rigid: true}, 50); r.Live || !slices.Contains(r.Failed, CheckNonRigid) {
		t.Fatalf("rigid motion passed: %v", r.Failed)
	}
	if r := run(c, none, &person{same: true}, 50); r.Live || !slices.Contains(r.Failed, CheckIdentical) {
		t.Fatalf("identical frames passed: %v", r.Failed)
	}
	jump := func(i int) int {
		if i == 30 {
			return 200
		}
		return 120
	}
	if r := run(c, none, &person{width: jump}, 50); r.Live || !slices.Contains(r.Failed, CheckSizeJump) {
		t.Fatalf("a face that jumps in size passed: %v", r.Failed)
	}
	if r := run(c, none, &person{}, 5); r.Live || !slices.Contains(r.Failed, CheckFrames) {
		t.Fatalf("5 frames were enough: %v", r.Failed)
	}
}

func TestLivePlanPromptsAfterPausesAndTimesOut(t *testing.T) {
	c := DefaultConfig()
	c.Challenges, c.Count = []string{Blink}, 1
	p, err := NewPlan([]byte("nonce-bbbbbbbb"), c)
	if err != nil {
		t.Fatal(err)
	}
	j := NewJudge(c, p)
	src := &person{}
	var prompted time.Time
	var st Status
	for i := 0; i < 400 && !st.Done; i++ {
		f := src.next()
		st = j.Observe(f)
		if st.Challenge != "" && prompted.IsZero() {
			prompted = f.T
			if d := f.T.Sub(t0); d < c.MinPause || d > c.MaxPause+40*time.Millisecond {
				t.Fatalf("prompted after %v", d)
			}
			if st.Deadline != t0.Add(p.Steps[0].Pause+p.Steps[0].Window) {
				t.Fatalf("deadline %v after the start", st.Deadline.Sub(t0))
			}
		}
	}
	if !st.Done || !st.Failed {
		t.Fatalf("no blink: status %+v", st)
	}
	r := j.Result()
	if r.Live || r.Timings[0] != p.Steps[0].Window {
		t.Fatalf("result %+v", r)
	}
}
