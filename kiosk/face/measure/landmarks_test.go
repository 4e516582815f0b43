package measure

import (
	"math"
	"testing"
)

// project places the generic head rolled, then rotated by yaw (about the vertical axis,
// nose towards image right when positive), pitch (nose up) and roll into
// an image at 3 px/mm around (320, 240), y down.
func project(yaw, pitch, roll float64) Landmarks {
	var l Landmarks
	ry, rp, rr := yaw*math.Pi/180, pitch*math.Pi/180, roll*math.Pi/180
	for _, m := range poseModel {
		x, y, z := m.x, m.y, m.z
		x, y = x*math.Cos(rr)-y*math.Sin(rr), x*math.Sin(rr)+y*math.Cos(rr)  // roll about the face's own axis
		x, z = x*math.Cos(ry)+z*math.Sin(ry), -x*math.Sin(ry)+z*math.Cos(ry) // yaw: +z towards +x
		y, z = y*math.Cos(rp)+z*math.Sin(rp), -y*math.Sin(rp)+z*math.Cos(rp) // pitch: +z towards +y (up)
		l[m.i] = Point{320 + 3*x, 240 - 3*y}
	}
	return l
}

func TestHeadPoseRecoversKnownRotations(t *testing.T) {
	for _, c := range []struct{ yaw, pitch float64 }{{0, 0}, {20, 0}, {-20, 0}, {0, 15}, {0, -15}, {25, -10}, {-10, 20}} {
		l := project(c.yaw, c.pitch, 0)
		y, p := l.HeadPose()
		if math.Abs(y-c.yaw) > 1.5 || math.Abs(p-c.pitch) > 1.5 {
			t.Errorf("yaw %v pitch %v: estimated %.1f %.1f", c.yaw, c.pitch, y, p)
		}
	}
	// Roll of the head about its own axis leaves yaw and pitch alone.
	l := project(15, 0, 10)
	if y, p := l.HeadPose(); math.Abs(y-15) > 2 || math.Abs(p) > 2 {
		t.Errorf("rolled: yaw %.1f pitch %.1f", y, p)
	}
}

func TestEyeAndMouthRatios(t *testing.T) {
	var l Landmarks
	// An eye 30 px wide, lids 9 px apart: EAR 0.3; closed: 0.
	eye := func(i int, x0, open float64) {
		l[i] = Point{x0, 100}
		l[i+1], l[i+2] = Point{x0 + 10, 100 - open/2}, Point{x0 + 20, 100 - open/2}
		l[i+3] = Point{x0 + 30, 100}
		l[i+4], l[i+5] = Point{x0 + 20, 100 + open/2}, Point{x0 + 10, 100 + open/2}
	}
	eye(36, 100, 9)
	eye(42, 160, 9)
	if ear := l.EAR(); math.Abs(ear-0.3) > 1e-9 {
		t.Errorf("open EAR %v", ear)
	}
	if d := l.EyeDistance(); math.Abs(d-60) > 1e-9 {
		t.Errorf("eye distance %v", d)
	}
	if r := l.Roll(); math.Abs(r) > 1e-9 {
		t.Errorf("level roll %v", r)
	}
	eye(36, 100, 0)
	eye(42, 160, 0)
	if ear := l.EAR(); ear != 0 {
		t.Errorf("closed EAR %v", ear)
	}
	// Mouth 60 px wide, inner lips 24 px apart: MAR 0.4.
	l[48], l[54] = Point{100, 200}, Point{160, 200}
	for i, x := range []float64{115, 130, 145} {
		l[61+i] = Point{x, 188}
		l[67-i] = Point{x, 212}
	}
	if m := l.MAR(); math.Abs(m-0.4) > 1e-9 {
		t.Errorf("MAR %v", m)
	}
	f := l.Five()
	if f[0] != (Point{115, 100}) || f[1] != (Point{175, 100}) {
		t.Errorf("five-point eyes %v %v", f[0], f[1])
	}
}
