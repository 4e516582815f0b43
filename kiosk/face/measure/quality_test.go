package measure

import (
	"image"
	"slices"
	"testing"
)

func good() Frame {
	return Frame{
		Size: image.Pt(1280, 720), Faces: 1, Box: image.Rect(520, 200, 760, 440),
		EyeDist: 100, EyeClosed: 0.2, Sharpness: 150, Brightness: 120, Uniformity: 0.9,
	}
}

func TestGoodFramePasses(t *testing.T) {
	f := good()
	r := DefaultThresholds().Check(&f)
	if !r.Pass || len(r.Guidance) != 0 || len(r.Measures) != 12 {
		t.Fatalf("%+v", r)
	}
}

func TestGuidanceNamesTheFix(t *testing.T) {
	th := DefaultThresholds()
	cases := []struct {
		name  string
		mod   func(f *Frame)
		guide string
	}{
		{"no face", func(f *Frame) { f.Faces, f.Box = 0, image.Rectangle{} }, GuideNoFace},
		{"two faces", func(f *Frame) { f.Faces = 2 }, GuideOneFace},
		{"small", func(f *Frame) { f.EyeDist = 60 }, GuideCloser},
		{"huge", func(f *Frame) { f.Box = image.Rect(200, 0, 1080, 720) }, GuideBack},
		// The image is not mirrored: a face in the image's right part is on
		// the citizen's left; they step to their right.
		{"image right", func(f *Frame) { f.Box = f.Box.Add(image.Pt(400, 0)) }, GuideRight},
		{"image left", func(f *Frame) { f.Box = f.Box.Sub(image.Pt(400, 0)) }, GuideLeft},
		{"low", func(f *Frame) { f.Box = f.Box.Add(image.Pt(0, 250)) }, GuideUp},
		{"high", func(f *Frame) { f.Box = f.Box.Sub(image.Pt(0, 190)) }, GuideDown},
		{"turned", func(f *Frame) { f.Yaw = 20 }, GuideStraight},
		{"looking down", func(f *Frame) { f.Pitch = -35 }, GuideStraight},
		{"tilted", func(f *Frame) { f.Roll = -12 }, GuideLevel},
		{"eyes closed", func(f *Frame) { f.EyeClosed = 0.995 }, GuideOpenEyes},
		{"blurred", func(f *Frame) { f.Sharpness = 20 }, GuideHoldStill},
		{"dark", func(f *Frame) { f.Brightness = 40 }, GuideTooDark},
		{"bright", func(f *Frame) { f.Brightness = 230 }, GuideTooBright},
		{"clipped", func(f *Frame) { f.Clipped, f.ClippedHigh = 0.2, 0.2 }, GuideTooBright},
		{"crushed", func(f *Frame) { f.Clipped = 0.2 }, GuideTooDark},
		{"uneven", func(f *Frame) { f.Uniformity = 0.5 }, GuideUnevenLite},
	}
	for _, c := range cases {
		f := good()
		c.mod(&f)
		r := th.Check(&f)
		if r.Pass || !slices.Contains(r.Guidance, c.guide) {
			t.Errorf("%s: pass=%v guidance %v, want %s", c.name, r.Pass, r.Guidance, c.guide)
		}
		for _, g := range r.Guidance {
			if !slices.Contains(AllKeys(), g) {
				t.Errorf("%s: key %q missing from AllKeys", c.name, g)
			}
		}
	}
	// One eye closed (a wink, a droopy lid) is not "eyes closed": the more
	// open eye decides.
	f := good()
	f.EyeClosedL, f.EyeClosedR, f.EyeClosed = 0.999, 0.3, 0.3
	if r := th.Check(&f); !r.Pass {
		t.Fatalf("one closed eye failed: %v", r.Guidance)
	}
}
