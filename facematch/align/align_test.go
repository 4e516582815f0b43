package align

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// A known similarity applied to the reference points is recovered exactly.
func TestFitRecoversKnownTransform(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 100; i++ {
		angle := (r.Float64() - 0.5) * math.Pi
		scale := 0.2 + r.Float64()*5
		want := Similarity{A: scale * math.Cos(angle), B: scale * math.Sin(angle), Tx: r.Float64()*400 - 200, Ty: r.Float64()*400 - 200}
		src := Reference112[:]
		dst := make([]Point, len(src))
		for j, p := range src {
			dst[j] = want.Apply(p)
		}
		got, err := Fit(src, dst)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range []float64{got.A - want.A, got.B - want.B, got.Tx - want.Tx, got.Ty - want.Ty} {
			if math.Abs(d) > 1e-9*math.Max(1, scale*200) {
				t.Fatalf("fit %+v, want %+v", got, want)
			}
		}
		if rms := RMS(got, src, dst); rms > 1e-9 {
			t.Fatalf("rms %g on exact points", rms)
		}
	}
}

// With noisy points the fit is the least-squares one: no nearby similarity
// has a smaller residual, and the inverse direction is consistent.
func TestFitIsLeastSquares(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	src := make([]Point, 5)
	for i, p := range Reference112 {
		src[i] = Point{p.X*2.1 + 100 + r.NormFloat64()*2, p.Y*2.1 + 50 + r.NormFloat64()*2}
	}
	dst := Reference112[:]
	s, err := Fit(src, dst)
	if err != nil {
		t.Fatal(err)
	}
	best := RMS(s, src, dst)
	if best <= 0 {
		t.Fatalf("noisy points fit exactly: rms %g", best)
	}
	for i := 0; i < 2000; i++ {
		p := s
		p.A += r.NormFloat64() * 1e-3
		p.B += r.NormFloat64() * 1e-3
		p.Tx += r.NormFloat64() * 0.1
		p.Ty += r.NormFloat64() * 0.1
		if RMS(p, src, dst) < best-1e-12 {
			t.Fatalf("perturbed %+v has rms %g < fit's %g", p, RMS(p, src, dst), best)
		}
	}
	if sc := s.Scale(); math.Abs(sc-1/2.1) > 0.02 {
		t.Fatalf("scale %g, want about %g", sc, 1/2.1)
	}
}

// A mirrored face is not fitted by a reflection: the residual shows it.
func TestFitNoReflection(t *testing.T) {
	src := make([]Point, 5)
	for i, p := range Reference112 {
		src[i] = Point{112 - p.X, p.Y}
	}
	// Swap left/right so that the labels follow the mirror, as a mirrored
	// detector would not: the geometry itself is a reflection.
	s, err := Fit(src, Reference112[:])
	if err != nil {
		t.Fatal(err)
	}
	if RMS(s, src, Reference112[:]) < 5 {
		t.Fatalf("a reflection fitted as a similarity: %+v", s)
	}
}

func TestFitDegenerate(t *testing.T) {
	same := []Point{{1, 1}, {1, 1}, {1, 1}}
	if _, err := Fit(same, Reference112[:3]); !errors.Is(err, ErrDegenerate) {
		t.Fatalf("coincident points: %v", err)
	}
	if _, err := Fit(Reference112[:2], Reference112[:3]); !errors.Is(err, ErrDegenerate) {
		t.Fatalf("length mismatch: %v", err)
	}
}

func TestFivePoints(t *testing.T) {
	lm := make([]Point, 68)
	for i := range lm {
		lm[i] = Point{float64(i), float64(2 * i)}
	}
	p, err := FivePoints(lm)
	if err != nil {
		t.Fatal(err)
	}
	want := [5]Point{{39, 78}, {45, 90}, {30, 60}, {54, 108}, {59, 118}}
	if p != want {
		t.Fatalf("five points %v, want %v", p, want)
	}
	if _, err := FivePoints(lm[:5]); err == nil {
		t.Fatal("5 landmarks accepted")
	}
}

func TestMatrix(t *testing.T) {
	s := Similarity{A: 0.5, B: 0.25, Tx: 3, Ty: -4}
	m := s.Matrix()
	p := Point{7, 11}
	x := m[0]*p.X + m[1]*p.Y + m[2]
	y := m[3]*p.X + m[4]*p.Y + m[5]
	if q := s.Apply(p); math.Abs(q.X-x) > 1e-12 || math.Abs(q.Y-y) > 1e-12 {
		t.Fatalf("matrix maps to %v,%v, Apply to %v", x, y, q)
	}
}
