package score

import (
	"errors"
	"math"
	"testing"
)

func TestCosine(t *testing.T) {
	a := []float32{1, 2, 3}
	if c := Cosine(a, a); math.Abs(c-1) > 1e-9 {
		t.Fatalf("self cosine %g", c)
	}
	if c := Cosine(a, []float32{-1, -2, -3}); math.Abs(c+1) > 1e-9 {
		t.Fatalf("opposite cosine %g", c)
	}
	if c := Cosine([]float32{1, 0}, []float32{0, 5}); c != 0 {
		t.Fatalf("orthogonal cosine %g", c)
	}
	if c := Cosine(a, []float32{0, 0, 0}); c != 0 {
		t.Fatalf("zero vector cosine %g", c)
	}
	if c := Cosine(a, a[:2]); c != 0 {
		t.Fatalf("length mismatch cosine %g", c)
	}
	// The model package's matchFeature subtracts the pair mean, which makes
	// f1' = −f2' and the score −1 for any pair; plain cosine does not.
	b := []float32{1, 2, 4}
	if c := Cosine(a, b); c < 0.99 {
		t.Fatalf("near vectors cosine %g", c)
	}
}

// The median template ignores one outlier frame that would drag a mean.
func TestTemplateMedian(t *testing.T) {
	good := Normalize([]float32{1, 0, 0, 0})
	var frames []Embedding
	for i := 0; i < 4; i++ {
		frames = append(frames, Normalize([]float32{1, 0.05 * float32(i), 0, 0}))
	}
	frames = append(frames, Normalize([]float32{0, 0, 0, 1})) // a bad frame
	tpl, err := Template(frames, MinFrames)
	if err != nil {
		t.Fatal(err)
	}
	if c := Cosine(tpl, good); c < 0.99 {
		t.Fatalf("template moved by one bad frame: cosine %g", c)
	}
	var mean [4]float32
	for _, f := range frames {
		for i := range f {
			mean[i] += f[i]
		}
	}
	if Cosine(mean[:], good) > Cosine(tpl, good) {
		t.Fatal("the mean resisted the outlier better than the median")
	}
	if _, err := Template(frames[:4], MinFrames); !errors.Is(err, ErrTooFewFrames) {
		t.Fatalf("4 frames: %v", err)
	}
	if tpl, err := Template(frames[:1], 1); err != nil || Cosine(tpl, frames[0]) < 0.9999 {
		t.Fatalf("one-frame reference: %v", err)
	}
	if _, err := Template([]Embedding{{1, 0}, {1, 0, 0}}, 1); err == nil {
		t.Fatal("mixed lengths accepted")
	}
}

func TestDecide(t *testing.T) {
	th := Thresholds{Match: 0.4, Refer: 0.3}
	for s, want := range map[float64]Decision{0.9: Match, 0.4: Match, 0.3999: Refer, 0.3: Refer, 0.2999: NoMatch, -0.5: NoMatch} {
		if got := th.Decide(s); got != want {
			t.Errorf("Decide(%g) = %s, want %s", s, got, want)
		}
	}
	if err := (Thresholds{Match: 0.3, Refer: 0.4}).Validate(); err == nil {
		t.Fatal("refer above match accepted")
	}
	if err := Default.Validate(); err != nil {
		t.Fatal(err)
	}
}
