// Package liveness decides whether the face in front of the kiosk is a live
// person, from per-frame measurements (measure.Frame) alone: it draws a
// randomized sequence of active challenges from a per-visit nonce, watches
// for each response within its window, and runs passive checks against a
// photo or a screen held up to the camera (no non-rigid micro-motion,
// bit-identical frames, moiré/screen patterns, impossible jumps in face
// size). The result is a verdict with per-check scores and timings; the
// authority receives them with a few evidence frames and decides.
//
// The approach follows the presentation-attack-detection vocabulary of
// ISO/IEC 30107-1 (https://www.iso.org/standard/83828.html): bona fide
// presentation, attack species, APCER/BPCER (package eval). It is pure Go
// and deterministic: the same nonce and the same frames give the same
// verdict. It does not touch images or OpenCV (kiosk/face measures the
// frames), and it is not a certified PAD subsystem: see docs/face.md for
// what it has and has not been tested against.
package liveness

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// Challenge keys (also the UI's message keys).
const (
	Blink      = "challenge.blink"
	TurnLeft   = "challenge.turn_left"  // turn the head to the citizen's left
	TurnRight  = "challenge.turn_right" // to the citizen's right
	TiltLeft   = "challenge.tilt_left"  // tilt the head towards the left shoulder
	TiltRight  = "challenge.tilt_right" // towards the right shoulder
	MoveCloser = "challenge.move_closer"
	MoveBack   = "challenge.move_back"
	OpenMouth  = "challenge.open_mouth"
	LookUp     = "challenge.look_up"
	LookDown   = "challenge.look_down"
)

// All lists every challenge the package can detect.
var All = []string{Blink, TurnLeft, TurnRight, TiltLeft, TiltRight, MoveCloser, MoveBack, OpenMouth, LookUp, LookDown}

// Config holds the challenge set, the windows and every threshold.
type Config struct {
	Challenges []string // the set challenges are drawn from
	Count      int      // challenges per visit

	MinPause, MaxPause   time.Duration // randomized pause before each prompt
	MinWindow, MaxWindow time.Duration // randomized time allowed for each response
	MinReaction          time.Duration // responses sooner than this after the prompt do not count

	BlinkClosed   float64       // eyes closed: the eye model's p(closed) of both eyes above this
	BlinkOpen     float64       // eyes open: p(closed) of the more open eye below this (before and after)
	BlinkMaxDur   time.Duration // a longer closure is not a blink
	BlinkFrames   int           // closed frames a blink needs
	TiltDeg       float64       // roll change needed for a tilt (degrees)
	TurnDeg       float64       // yaw change needed for a turn (degrees)
	LookDeg       float64       // pitch change needed to look up or down (degrees)
	CloserRatio   float64       // eye distance ≥ ratio × baseline
	BackRatio     float64       // eye distance ≤ ratio × baseline
	MouthAbs      float64       // mouth aspect ratio ≥ baseline + abs
	HoldFrames    int           // frames a pose must hold (tilt, turn, distance, mouth)
	BaselineSpan  time.Duration // history the baselines are taken over
	NonRigidPx    float64       // a frame "moves non-rigidly" when its residual exceeds NonRigidPx ...
	NonRigidShift float64       // ... plus this times its rigid shift (tracking error grows with motion)
	MinNonRigid   int           // frames that must move non-rigidly
	MaxIdentical  float64       // fraction of bit-identical consecutive frames allowed
	MaxRepeat     int           // frames identical to an earlier one allowed
	MaxMoire      float64       // 90th percentile of the moiré score allowed
	MaxSizeJump   float64       // largest face-width ratio between frames ≤ 250 ms apart
	MinFaceFrames int           // frames with a face needed for the passive checks
}

// DefaultConfig is the kiosk's configuration for a 1280×720 camera.
func DefaultConfig() Config {
	return Config{
		Challenges: []string{Blink, TurnLeft, TurnRight, MoveCloser, OpenMouth, TiltLeft, TiltRight, LookUp, LookDown},
		Count:      2,
		MinPause:   500 * time.Millisecond, MaxPause: 1500 * time.Millisecond,
		MinWindow: 6 * time.Second, MaxWindow: 9 * time.Second,
		MinReaction: 200 * time.Millisecond,
		BlinkClosed: 0.99, BlinkOpen: 0.95, BlinkMaxDur: 700 * time.Millisecond, BlinkFrames: 1,
		TiltDeg: 6, TurnDeg: 15, LookDeg: 10, CloserRatio: 1.2, BackRatio: 0.83, MouthAbs: 0.15,
		HoldFrames: 2, BaselineSpan: time.Second,
		NonRigidPx: 0.3, NonRigidShift: 0.35, MinNonRigid: 3, MaxIdentical: 0.05, MaxRepeat: 0, MaxMoire: 40,
		MaxSizeJump: 1.3, MinFaceFrames: 15,
	}
}

// Validate reports a configuration that cannot work.
func (c *Config) Validate() error {
	if len(c.Challenges) == 0 || c.Count < 1 {
		return errors.New("liveness: no challenges configured")
	}
	if c.Count > len(c.Challenges) {
		return fmt.Errorf("liveness: %d challenges asked from a set of %d", c.Count, len(c.Challenges))
	}
	for _, k := range c.Challenges {
		if !slices.Contains(All, k) {
			return fmt.Errorf("liveness: unknown challenge %q", k)
		}
	}
	if c.MinWindow <= 0 || c.MaxWindow < c.MinWindow || c.MaxPause < c.MinPause {
		return errors.New("liveness: windows and pauses must be positive ranges")
	}
	return nil
}

// Step is one challenge of a plan.
type Step struct {
	Challenge string
	Pause     time.Duration // before the prompt (live plans)
	At        time.Duration // prompt offset from the first frame (scripted plans)
	Window    time.Duration // time allowed for the response
}

// Plan is the challenge sequence of one visit.
type Plan struct {
	Nonce []byte
	Steps []Step
	// Scripted plans prompt each step at its At offset (recordings whose
	// answers are known, for evaluation); live plans prompt each step a
	// Pause after the previous one ended.
	Scripted bool
}

// NewPlan draws the visit's challenge sequence from nonce: the same nonce
// gives the same plan, a fresh nonce an unpredictable one (the nonce comes
// from a CSPRNG per visit; the draw is ChaCha8 keyed with SHA-256 of it).
func NewPlan(nonce []byte, c Config) (Plan, error) {
	if err := c.Validate(); err != nil {
		return Plan{}, err
	}
	if len(nonce) < 8 {
		return Plan{}, errors.New("liveness: nonce shorter than 8 bytes")
	}
	seed := sha256.Sum256(append([]byte("eidkiosk liveness plan v1\x00"), nonce...))
	r := rand.New(rand.NewChaCha8(seed))
	set := slices.Clone(c.Challenges)
	r.Shuffle(len(set), func(i, j int) { set[i], set[j] = set[j], set[i] })
	p := Plan{Nonce: slices.Clone(nonce)}
	for _, k := range set[:c.Count] {
		p.Steps = append(p.Steps, Step{
			Challenge: k,
			Pause:     between(r, c.MinPause, c.MaxPause),
			Window:    between(r, c.MinWindow, c.MaxWindow),
		})
	}
	return p, nil
}

func between(r *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(r.Int64N(int64(hi-lo)+1))
}
