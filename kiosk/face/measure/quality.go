package measure

import (
	"math"

	"eidkiosk/kiosk/session"
)

// Guidance message keys the quality gate emits (the UI translates them).
const (
	GuideNoFace     = "face.none"          // no face in view: "look at the camera"
	GuideOneFace    = "face.only_one"      // more than one face: "only one person, please"
	GuideCloser     = "face.move_closer"   // face too small
	GuideBack       = "face.move_back"     // face too large
	GuideLeft       = "face.move_left"     // the citizen should step to their own left (face in the image's left part; the camera image is not mirrored)
	GuideRight      = "face.move_right"    // the citizen should step to their own right
	GuideUp         = "face.move_up"       // face too low
	GuideDown       = "face.move_down"     // face too high
	GuideStraight   = "face.look_straight" // yaw: turned
	GuideLevel      = "face.head_level"    // roll: head tilted
	GuideOpenEyes   = "face.open_eyes"     // eyes closed
	GuideHoldStill  = "face.hold_still"    // blurred
	GuideTooDark    = "face.too_dark"      // under-exposed
	GuideTooBright  = "face.too_bright"    // over-exposed / clipped
	GuideUnevenLite = "face.uneven_light"  // left/right illumination differ
)

// Measure names (session.Measure.Name).
const (
	MFaces      = "faces"
	MEyeDist    = "eye_distance_px"
	MCentreX    = "centre_offset_x"
	MCentreY    = "centre_offset_y"
	MRoll       = "roll_deg"
	MYaw        = "yaw_deg"
	MPitch      = "pitch_deg"
	MEyeClosed  = "eyes_closed_p"
	MSharpness  = "sharpness"
	MBrightness = "brightness"
	MClipped    = "clipped"
	MUniformity = "uniformity"
)

// Thresholds configures the gate. Zero values are not meaningful: start from
// DefaultThresholds.
type Thresholds struct {
	MinEyeDist    float64 // pixels between the eye centres (ICAO 9303 / ISO/IEC 19794-5: ≥ 90 in the portrait)
	MaxFaceFrac   float64 // face box width / frame width above which "move back"
	MaxCentre     float64 // |face centre − frame centre| / frame size, each axis
	MaxRoll       float64 // degrees (ISO/IEC 19794-5: ±8°)
	MaxYaw        float64 // degrees (ISO/IEC 19794-5: ±5°; wider for the estimator's per-person bias)
	MaxPitch      float64 // degrees (ISO/IEC 19794-5: ±5°; wider for the same reason and the camera's height)
	MaxEyeClosed  float64 // the eye model's p(closed) of the more open eye above which the eyes are closed
	MinSharpness  float64 // variance of the Laplacian
	MinBrightness float64 // mean grey
	MaxBrightness float64
	MaxClipped    float64 // fraction
	MinUniformity float64 // min/max of the half means
}

// The default thresholds, named for the documentation (docs/face.md).
const (
	// ICAOMinEyeDist is ICAO 9303 part 3's minimum of 90 pixels between the
	// eye centres in the stored portrait.
	ICAOMinEyeDist = 90
	// EyeClosedP: an eye pair is closed only when both eyes' p(closed) exceed
	// it (fr_eye; at 0.95 blur and downward glances pass for closures).
	EyeClosedP = 0.99
)

// DefaultThresholds suits a 1280×720 camera at arm's length.
func DefaultThresholds() Thresholds {
	return Thresholds{
		MinEyeDist: ICAOMinEyeDist, MaxFaceFrac: 0.6, MaxCentre: 0.18, MaxRoll: 8, MaxYaw: 15, MaxPitch: 25,
		MaxEyeClosed: EyeClosedP, MinSharpness: 60, MinBrightness: 70, MaxBrightness: 200,
		MaxClipped: 0.05, MinUniformity: 0.7,
	}
}

// Result is the gate's verdict on one frame.
type Result struct {
	Measures []session.Measure
	Guidance []string // keys, most important first; empty when Pass
	Pass     bool
	Score    float64 // higher is a better portrait among passing frames
}

// Check runs the gate on f.
func (t Thresholds) Check(f *Frame) Result {
	var r Result
	add := func(name string, v, thr float64, ok bool, guide string) {
		r.Measures = append(r.Measures, session.Measure{Name: name, Value: round(v), Threshold: thr, Pass: ok})
		if !ok && guide != "" {
			r.Guidance = append(r.Guidance, guide)
		}
	}
	switch {
	case f.Faces == 0 || !f.HasFace():
		add(MFaces, float64(f.Faces), 1, false, GuideNoFace)
		return r
	case f.Faces > 1:
		add(MFaces, float64(f.Faces), 1, false, GuideOneFace)
	default:
		add(MFaces, 1, 1, true, "")
	}
	w := float64(f.Size.X)
	h := float64(f.Size.Y)
	tooBig := float64(f.Box.Dx())/w > t.MaxFaceFrac
	guide := GuideCloser
	if tooBig {
		guide = GuideBack
	}
	add(MEyeDist, f.EyeDist, t.MinEyeDist, f.EyeDist >= t.MinEyeDist && !tooBig, guide)

	cx := (float64(f.Box.Min.X+f.Box.Max.X)/2 - w/2) / w
	cy := (float64(f.Box.Min.Y+f.Box.Max.Y)/2 - h/2) / h
	// The camera image is not mirrored: a face in the image's right part
	// is on the citizen's left, who must step to their right.
	gx := GuideLeft
	if cx > 0 {
		gx = GuideRight
	}
	gy := GuideDown
	if cy > 0 {
		gy = GuideUp
	}
	add(MCentreX, cx, t.MaxCentre, math.Abs(cx) <= t.MaxCentre, gx)
	add(MCentreY, cy, t.MaxCentre, math.Abs(cy) <= t.MaxCentre, gy)
	roll := f.Roll
	add(MRoll, roll, t.MaxRoll, math.Abs(roll) <= t.MaxRoll, GuideLevel)
	add(MYaw, f.Yaw, t.MaxYaw, math.Abs(f.Yaw) <= t.MaxYaw, GuideStraight)
	add(MPitch, f.Pitch, t.MaxPitch, math.Abs(f.Pitch) <= t.MaxPitch, GuideStraight)
	// Eyes too small for the eye model (EyeClosed < 0) are judged by the
	// eye distance check instead.
	add(MEyeClosed, f.EyeClosed, t.MaxEyeClosed, f.EyeClosed <= t.MaxEyeClosed, GuideOpenEyes)
	add(MSharpness, f.Sharpness, t.MinSharpness, f.Sharpness >= t.MinSharpness, GuideHoldStill)
	bg := GuideTooDark
	if f.Brightness > t.MaxBrightness {
		bg = GuideTooBright
	}
	add(MBrightness, f.Brightness, t.MinBrightness, f.Brightness >= t.MinBrightness && f.Brightness <= t.MaxBrightness, bg)
	cg := GuideTooDark
	if f.ClippedHigh*2 >= f.Clipped {
		cg = GuideTooBright
	}
	add(MClipped, f.Clipped, t.MaxClipped, f.Clipped <= t.MaxClipped, cg)
	add(MUniformity, f.Uniformity, t.MinUniformity, f.Uniformity >= t.MinUniformity, GuideUnevenLite)

	r.Pass = true
	for _, m := range r.Measures {
		r.Pass = r.Pass && m.Pass
	}
	r.Guidance = dedupe(r.Guidance)
	// Among passing frames prefer sharp, frontal, level, evenly lit ones.
	r.Score = math.Log1p(f.Sharpness) - 2*math.Abs(f.Yaw)/t.MaxYaw - math.Abs(f.Pitch)/t.MaxPitch - math.Abs(roll)/t.MaxRoll + f.Uniformity
	return r
}

// AllKeys lists every guidance key Check can emit.
func AllKeys() []string {
	return []string{GuideNoFace, GuideOneFace, GuideCloser, GuideBack, GuideLeft, GuideRight, GuideUp,
		GuideDown, GuideStraight, GuideLevel, GuideOpenEyes, GuideHoldStill, GuideTooDark, GuideTooBright, GuideUnevenLite}
}

func dedupe(s []string) []string {
	out := s[:0]
	seen := map[string]bool{}
	for _, k := range s {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

func round(v float64) float64 { return math.Round(v*1000) / 1000 }
