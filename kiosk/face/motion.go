package face

import (
	"image"
	"math"
	"sort"

	"gocv.io/x/gocv"

	"eidkiosk/kiosk/face/measure"
)

// motion measures, in the region of the previous face, how much the face
// changed, and tracks the previous frame's landmark points into this frame
// (pyramidal Lucas–Kanade, forward and back) to see how much of their
// motion no single homography explains: a photo, flat, moves all its
// points by one homography; a face that talks or blinks, or a head that
// turns in 3D, does not.
func (a *Analyzer) motion(f *measure.Frame) {
	full := image.Rect(0, 0, f.Size.X, f.Size.Y)
	defer func() {
		// Keep the current face crop for the next frame.
		r := a.grey.Region(f.Box.Intersect(full))
		gocv.Resize(r, &a.prevFlow, image.Pt(flowW, flowW), 0, 0, gocv.InterpolationArea)
		r.Close()
		a.prevBox = f.Box
		a.prevLm = f.Landmarks
		a.hasPrev = true
	}()
	if !a.hasPrev {
		return
	}
	pb := a.prevBox.Intersect(full)
	if pb.Dx() < 16 || pb.Dy() < 16 {
		return
	}
	r := a.grey.Region(pb)
	gocv.Resize(r, &a.curFlow, image.Pt(flowW, flowW), 0, 0, gocv.InterpolationArea)
	r.Close()
	gocv.AbsDiff(a.prevFlow, a.curFlow, &a.tmp)
	f.Motion = a.tmp.Mean().Val1
	// The previous frame's landmarks, in the flow crop, are the points.
	n := len(a.prevLm)
	sc := float64(flowW) / float64(pb.Dx())
	pts := a.lk.pts
	if pts.Rows() != n {
		pts.Close()
		a.lk.pts = gocv.NewMatWithSize(n, 1, gocv.MatTypeCV32FC2)
		pts = a.lk.pts
	}
	pp, err := pts.DataPtrFloat32()
	if err != nil {
		return
	}
	for i, p := range a.prevLm {
		pp[2*i] = float32((p.X - float64(pb.Min.X)) * sc)
		pp[2*i+1] = float32((p.Y - float64(pb.Min.Y)) * sc)
	}
	gocv.CalcOpticalFlowPyrLKWithParams(a.prevFlow, a.curFlow, a.lk.pts, a.lk.next, &a.lk.status, &a.lk.errs,
		image.Pt(15, 15), 2, a.lkTerm, 0, 1e-4)
	// Track back from the new positions: a point that does not return to
	// where it started was tracked badly (forward-backward error), and
	// would pass for non-rigid motion.
	gocv.CalcOpticalFlowPyrLKWithParams(a.curFlow, a.prevFlow, a.lk.next, a.lk.back, &a.lk.status2, &a.lk.errs,
		image.Pt(15, 15), 2, a.lkTerm, 0, 1e-4)
	p0, err0 := a.lk.pts.DataPtrFloat32()
	p1, err1 := a.lk.next.DataPtrFloat32()
	pb0, err3 := a.lk.back.DataPtrFloat32()
	st, err2 := a.lk.status.DataPtrUint8()
	st2, err4 := a.lk.status2.DataPtrUint8()
	if err0 != nil || err1 != nil || err2 != nil || err3 != nil || err4 != nil || len(st) < n || len(st2) < n {
		return
	}
	for i := 0; i < n; i++ {
		if st2[i] == 0 || math.Hypot(float64(pb0[2*i]-p0[2*i]), float64(pb0[2*i+1]-p0[2*i+1])) > fbMax {
			st[i] = 0
		}
	}
	src := gocv.NewMatWithSize(n, 1, gocv.MatTypeCV32FC2)
	dst := gocv.NewMatWithSize(n, 1, gocv.MatTypeCV32FC2)
	defer src.Close()
	defer dst.Close()
	s, _ := src.DataPtrFloat32()
	d, _ := dst.DataPtrFloat32()
	k := 0
	for i := 0; i < n; i++ {
		if st[i] == 0 {
			continue
		}
		s[2*k], s[2*k+1] = p0[2*i], p0[2*i+1]
		d[2*k], d[2*k+1] = p1[2*i], p1[2*i+1]
		k++
	}
	if k < 8 {
		return
	}
	sv := src.RowRange(0, k)
	dv := dst.RowRange(0, k)
	defer sv.Close()
	defer dv.Close()
	H := gocv.FindHomography(sv, &dv, gocv.HomograpyMethodRANSAC, 1.0, &a.lk.mask, 200, 0.99)
	defer H.Close()
	if H.Empty() || H.Rows() != 3 || H.Cols() != 3 {
		return
	}
	var h [9]float64
	for i := 0; i < 9; i++ {
		h[i] = H.GetDoubleAt(i/3, i%3)
	}
	res := make([]float64, 0, k)
	for i := 0; i < k; i++ {
		x, y := float64(s[2*i]), float64(s[2*i+1])
		w := h[6]*x + h[7]*y + h[8]
		if w == 0 {
			continue
		}
		px := (h[0]*x + h[1]*y + h[2]) / w
		py := (h[3]*x + h[4]*y + h[5]) / w
		res = append(res, math.Hypot(px-float64(d[2*i]), py-float64(d[2*i+1])))
	}
	if len(res) < 8 {
		return
	}
	shifts := make([]float64, 0, k)
	for i := 0; i < k; i++ {
		shifts = append(shifts, math.Hypot(float64(d[2*i]-s[2*i]), float64(d[2*i+1]-s[2*i+1])))
	}
	sort.Float64s(shifts)
	f.Shift = shifts[len(shifts)/2] * float64(pb.Dx()) / flowW
	sort.Float64s(res)
	// In the frame's own pixels: sensor noise is about constant there,
	// whatever the face size.
	f.NonRigid = res[len(res)*9/10] * float64(pb.Dx()) / flowW
	f.Points = len(res)
}
