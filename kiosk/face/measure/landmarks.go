package measure

import "math"

// Point is a sub-pixel position in frame coordinates.
type Point struct{ X, Y float64 }

// Landmarks are the 68 facial landmarks of the iBUG 300-W layout (0-based:
// jaw 0–16, brows 17–26, nose 27–35, eyes 36–41 and 42–47, mouth 48–67),
// in frame pixels. Index 36 is the outer corner of the eye on the image's
// left.
type Landmarks [68]Point

// Five is the 5-point layout face matchers align on: the eye centres (image
// left, image right), the nose tip and the mouth corners (image left, image
// right). The eye centres are the means of landmarks 37, 38, 40, 41 and
// 43, 44, 46, 47; the mouth corners the means of 48, 60 and 54, 64.
func (l *Landmarks) Five() [5]Point {
	return [5]Point{
		mean(l[37], l[38], l[40], l[41]),
		mean(l[43], l[44], l[46], l[47]),
		l[30],
		mean(l[48], l[60]),
		mean(l[54], l[64]),
	}
}

// EyeCentres are the centres of the image-left and image-right eye (as
// Five).
func (l *Landmarks) EyeCentres() (left, right Point) {
	return mean(l[37], l[38], l[40], l[41]), mean(l[43], l[44], l[46], l[47])
}

// EyeDistance is the distance in pixels between the eye centres (ICAO 9303's
// inter-eye distance).
func (l *Landmarks) EyeDistance() float64 {
	a, b := l.EyeCentres()
	return dist(a, b)
}

// EAR is the eye aspect ratio (Soukupová and Čech, 2016) averaged over both
// eyes: lid opening over eye width; about 0.25–0.35 open, below 0.15 closed.
func (l *Landmarks) EAR() float64 {
	ear := func(i int) float64 {
		w := dist(l[i], l[i+3])
		if w == 0 {
			return 0
		}
		return (dist(l[i+1], l[i+5]) + dist(l[i+2], l[i+4])) / (2 * w)
	}
	return (ear(36) + ear(42)) / 2
}

// MAR is the mouth aspect ratio: the mean opening between the inner lips
// (61–67, 62–66, 63–65) over the mouth's width (48–54); near 0 closed,
// above about 0.3 wide open.
func (l *Landmarks) MAR() float64 {
	w := dist(l[48], l[54])
	if w == 0 {
		return 0
	}
	return (dist(l[61], l[67]) + dist(l[62], l[66]) + dist(l[63], l[65])) / (3 * w)
}

// Roll is the angle of the eye line in degrees, positive when it rises to
// the image's right.
func (l *Landmarks) Roll() float64 {
	a, b := l.EyeCentres()
	return math.Atan2(a.Y-b.Y, b.X-a.X) * 180 / math.Pi
}

// poseModel is a generic head (millimetres; x to the image's right, y up, z
// towards the camera, origin at the nose tip) at six landmarks: nose tip,
// chin, outer eye corners, mouth corners.
var poseModel = [...]struct {
	i       int
	x, y, z float64
}{
	{30, 0, 0, 0},
	{8, 0, -63.6, -12.5},
	{36, -43.3, 32.7, -26},
	{45, 43.3, 32.7, -26},
	{48, -28.9, -28.9, -24.1},
	{54, 28.9, -28.9, -24.1},
}

// HeadPose estimates yaw and pitch in degrees by fitting the generic head
// to six landmarks under scaled orthographic projection (least squares, the
// first step of POSIT): yaw is positive when the face turns towards the
// image's right (the nose moves right; the citizen turns to their left in
// a camera image that is not mirrored), pitch positive when the face looks
// up. The generic model costs a few degrees of bias per person; challenges
// use changes from a baseline, the quality gate wide limits.
func (l *Landmarks) HeadPose() (yaw, pitch float64) {
	var mp [3]float64
	var mi [2]float64
	n := float64(len(poseModel))
	for _, m := range poseModel {
		mp[0] += m.x / n
		mp[1] += m.y / n
		mp[2] += m.z / n
		mi[0] += l[m.i].X / n
		mi[1] += -l[m.i].Y / n
	}
	// A = Σ P Pᵀ (3×3), B = Σ p Pᵀ (2×3); M = B A⁻¹.
	var A [3][3]float64
	var B [2][3]float64
	for _, m := range poseModel {
		P := [3]float64{m.x - mp[0], m.y - mp[1], m.z - mp[2]}
		p := [2]float64{l[m.i].X - mi[0], -l[m.i].Y - mi[1]}
		for r := 0; r < 3; r++ {
			for c := 0; c < 3; c++ {
				A[r][c] += P[r] * P[c]
			}
			B[0][r] += p[0] * P[r]
			B[1][r] += p[1] * P[r]
		}
	}
	Ai, ok := inv3(A)
	if !ok {
		return 0, 0
	}
	var M [2][3]float64
	for r := 0; r < 2; r++ {
		for c := 0; c < 3; c++ {
			for k := 0; k < 3; k++ {
				M[r][c] += B[r][k] * Ai[k][c]
			}
		}
	}
	r1, r2 := unit(M[0]), unit(M[1])
	r3 := unit(cross(r1, r2))
	r2 = cross(r3, r1)
	// The face's forward axis (model +z) in camera coordinates.
	nx, ny, nz := r1[2], r2[2], r3[2]
	yaw = math.Atan2(nx, nz) * 180 / math.Pi
	pitch = math.Atan2(ny, math.Hypot(nx, nz)) * 180 / math.Pi
	return yaw, pitch
}

func mean(ps ...Point) Point {
	var s Point
	for _, p := range ps {
		s.X += p.X
		s.Y += p.Y
	}
	return Point{s.X / float64(len(ps)), s.Y / float64(len(ps))}
}

func dist(a, b Point) float64 { return math.Hypot(a.X-b.X, a.Y-b.Y) }

func unit(v [3]float64) [3]float64 {
	n := math.Sqrt(v[0]*v[0] + v[1]*v[1] + v[2]*v[2])
	if n == 0 {
		return v
	}
	return [3]float64{v[0] / n, v[1] / n, v[2] / n}
}

func cross(a, b [3]float64) [3]float64 {
	return [3]float64{a[1]*b[2] - a[2]*b[1], a[2]*b[0] - a[0]*b[2], a[0]*b[1] - a[1]*b[0]}
}

func inv3(m [3][3]float64) ([3][3]float64, bool) {
	det := m[0][0]*(m[1][1]*m[2][2]-m[1][2]*m[2][1]) - m[0][1]*(m[1][0]*m[2][2]-m[1][2]*m[2][0]) + m[0][2]*(m[1][0]*m[2][1]-m[1][1]*m[2][0])
	if math.Abs(det) < 1e-12 {
		return m, false
	}
	var r [3][3]float64
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			a, b := (j+1)%3, (j+2)%3
			c, d := (i+1)%3, (i+2)%3
			r[i][j] = (m[a][c]*m[b][d] - m[a][d]*m[b][c]) / det
		}
	}
	return r, true
}
