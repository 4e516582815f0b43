// Package score holds the pure-Go half of 1:1 face matching: embeddings and
// their cosine similarity, the capture template (element-wise median of the
// frames' embeddings) and the three-way decision with its thresholds
// (docs/matching.md has the score distributions that justify the defaults).
//
// It runs no model and imports no OpenCV, so the visit's state machine
// (kiosk/session) and the authority's intake can use the decision without
// linking cgo. The models live in facematch.
package score

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Embedding is a face descriptor, L2-normalised.
type Embedding []float32

// Normalize returns e scaled to unit length (a copy; e is unchanged). The
// zero vector stays zero.
func Normalize(e []float32) Embedding {
	var n float64
	for _, v := range e {
		n += float64(v) * float64(v)
	}
	out := make(Embedding, len(e))
	if n == 0 {
		return out
	}
	inv := 1 / math.Sqrt(n)
	for i, v := range e {
		out[i] = float32(float64(v) * inv)
	}
	return out
}

// Cosine is the cosine similarity of a and b in [−1, 1] (0 when either is
// zero or their lengths differ). Plain cosine: the model package's own
// matchFeature subtracts the pair's mean and always answers −1.
func Cosine(a, b []float32) float64 {
	if len(a) != len(b) || len(a) == 0 {
		return 0
	}
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}

// MinFrames is the fewest frames a live template is made from.
const MinFrames = 5

// ErrTooFewFrames is returned by Template for fewer than MinFrames frames.
var ErrTooFewFrames = errors.New("score: too few usable frames for a template")

// Template is the element-wise median of the frames' normalised
// embeddings, normalised again: a frame with a blink, motion blur or a bad
// landmark moves it less than it moves a mean. It needs at least min frames
// (MinFrames for a live capture; 1 for a still reference).
func Template(frames []Embedding, min int) (Embedding, error) {
	if len(frames) < min || len(frames) == 0 {
		return nil, fmt.Errorf("%w: %d, want %d", ErrTooFewFrames, len(frames), min)
	}
	dim := len(frames[0])
	for _, f := range frames {
		if len(f) != dim {
			return nil, fmt.Errorf("score: embeddings of %d and %d values", dim, len(f))
		}
	}
	col := make([]float32, len(frames))
	out := make([]float32, dim)
	for i := 0; i < dim; i++ {
		for j, f := range frames {
			col[j] = f[i]
		}
		slices.Sort(col)
		k := len(col) / 2
		if len(col)%2 == 1 {
			out[i] = col[k]
		} else {
			out[i] = (col[k-1] + col[k]) / 2
		}
	}
	return Normalize(out), nil
}

// Decision is the outcome of a 1:1 comparison. The citizen is told only
// the decision, never the score (GB/T 38671: return the decision).
type Decision string

const (
	Match   Decision = "match"    // the same person
	Refer   Decision = "refer"    // an officer must look
	NoMatch Decision = "no_match" // not the card holder
)

// Thresholds split scores into decisions: Match and above is a match,
// Refer up to Match is refer, below Refer no match.
type Thresholds struct {
	Match float64 `toml:"match"`
	Refer float64 `toml:"refer"`
}

// Default are the thresholds calibrated on the shared faces (docs/matching.md,
// TestCalibration): every same-person capture scores ≥ 0.526 against the
// reference as taken and ≥ 0.446 against a 1 KB chip-like copy; every
// different-person capture ≤ 0.241. Ten identities: recalibrate on real
// chip-versus-live pairs before production.
var Default = Thresholds{Match: 0.40, Refer: 0.30}

// Validate refuses thresholds out of order or out of range.
func (t Thresholds) Validate() error {
	if t.Refer <= -1 || t.Match > 1 || t.Refer > t.Match {
		return fmt.Errorf("score: thresholds refer %.3f, match %.3f: want −1 < refer ≤ match ≤ 1", t.Refer, t.Match)
	}
	return nil
}

// Decide maps a score to a decision.
func (t Thresholds) Decide(s float64) Decision {
	switch {
	case s >= t.Match:
		return Match
	case s >= t.Refer:
		return Refer
	}
	return NoMatch
}
