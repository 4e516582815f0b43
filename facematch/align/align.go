// Package align computes the similarity transform that puts a face's five
// landmarks (eye centres, nose tip, mouth corners) onto the reference points
// of a 112×112 embedding crop: the least-squares fit of rotation, uniform
// scale and translation of Umeyama (1991), "Least-squares estimation of
// transformation parameters between two point patterns", IEEE TPAMI 13(4).
//
// It is pure Go and knows nothing of images: facematch warps the picture with
// the matrix it returns. It does not estimate shear or perspective on
// purpose: an exact 6-parameter affine fit through three of the points (what
// the model package's own JavaScript does) turns landmark noise into shear,
// and cross-session matching fails with it.
package align

import (
	"errors"
	"fmt"
	"math"
)

// Point is a position in pixels.
type Point struct{ X, Y float64 }

// Reference112 are the five points' positions in the 112×112 crop the
// embedding model (MobileFaceNet-shaped fr_feature) was trained on: eye 1,
// eye 2, nose tip, mouth corner 1, mouth corner 2 (image left to right).
var Reference112 = [5]Point{
	{38.29459953, 51.69630051},
	{73.53179932, 51.50139999},
	{56.02519989, 71.73660278},
	{41.54930115, 92.3655014},
	{70.72990036, 92.20410156},
}

// ErrDegenerate is returned when the source points do not span a plane
// region (all equal, or too few).
var ErrDegenerate = errors.New("align: degenerate points")

// Similarity maps (x, y) to (A·x − B·y + Tx, B·x + A·y + Ty): a rotation by
// atan2(B, A), a scale of hypot(A, B) and a translation.
type Similarity struct{ A, B, Tx, Ty float64 }

// Apply maps p.
func (s Similarity) Apply(p Point) Point {
	return Point{s.A*p.X - s.B*p.Y + s.Tx, s.B*p.X + s.A*p.Y + s.Ty}
}

// Scale is the uniform scale factor.
func (s Similarity) Scale() float64 { return math.Hypot(s.A, s.B) }

// Matrix is the 2×3 row-major affine matrix (as cv::warpAffine takes it).
func (s Similarity) Matrix() [6]float64 {
	return [6]float64{s.A, -s.B, s.Tx, s.B, s.A, s.Ty}
}

// Fit returns the similarity that maps src onto dst with the least sum of
// squared distances (Umeyama's closed form, without reflection). src and dst
// must have the same length, at least 2.
func Fit(src, dst []Point) (Similarity, error) {
	n := len(src)
	if n != len(dst) || n < 2 {
		return Similarity{}, fmt.Errorf("%w: %d source and %d destination points", ErrDegenerate, len(src), len(dst))
	}
	var ms, md Point
	for i := range src {
		ms.X += src[i].X
		ms.Y += src[i].Y
		md.X += dst[i].X
		md.Y += dst[i].Y
	}
	fn := float64(n)
	ms = Point{ms.X / fn, ms.Y / fn}
	md = Point{md.X / fn, md.Y / fn}
	// In the plane the optimal rotation and scale reduce to two sums: with
	// centred points s and d, a = Σ(s·d)/Σ|s|², b = Σ(s×d)/Σ|s|² (the 2-D
	// case of Umeyama's SVD, where the covariance is a scaled rotation plus
	// a reflection part that the optimum discards).
	var dot, cross, varS float64
	for i := range src {
		sx, sy := src[i].X-ms.X, src[i].Y-ms.Y
		dx, dy := dst[i].X-md.X, dst[i].Y-md.Y
		dot += sx*dx + sy*dy
		cross += sx*dy - sy*dx
		varS += sx*sx + sy*sy
	}
	if varS < 1e-9 {
		return Similarity{}, fmt.Errorf("%w: the source points coincide", ErrDegenerate)
	}
	a, b := dot/varS, cross/varS
	return Similarity{A: a, B: b, Tx: md.X - (a*ms.X - b*ms.Y), Ty: md.Y - (b*ms.X + a*ms.Y)}, nil
}

// RMS is the root-mean-square distance between s(src) and dst, in dst's
// units: how far the face's points are from a rigid, uniformly scaled copy
// of the reference (large for a badly placed landmark set).
func RMS(s Similarity, src, dst []Point) float64 {
	if len(src) == 0 || len(src) != len(dst) {
		return math.Inf(1)
	}
	var sum float64
	for i := range src {
		p := s.Apply(src[i])
		sum += (p.X-dst[i].X)*(p.X-dst[i].X) + (p.Y-dst[i].Y)*(p.Y-dst[i].Y)
	}
	return math.Sqrt(sum / float64(len(src)))
}

// FivePoints reduces the 68-point (iBUG 300-W) landmark set to the five
// alignment points, 0-based: eye 1 is the mean of 37, 38, 40, 41, eye 2 of
// 43, 44, 46, 47 (the eyelid points, not the corners), the nose tip is 30,
// mouth corner 1 the mean of 48 and 60, mouth corner 2 of 54 and 64.
func FivePoints(lm []Point) ([5]Point, error) {
	if len(lm) != 68 {
		return [5]Point{}, fmt.Errorf("align: %d landmarks, want 68", len(lm))
	}
	mean := func(idx ...int) Point {
		var p Point
		for _, i := range idx {
			p.X += lm[i].X
			p.Y += lm[i].Y
		}
		return Point{p.X / float64(len(idx)), p.Y / float64(len(idx))}
	}
	return [5]Point{
		mean(37, 38, 40, 41),
		mean(43, 44, 46, 47),
		lm[30],
		mean(48, 60),
		mean(54, 64),
	}, nil
}
