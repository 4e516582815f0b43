package face

import (
	"image"
	"math"
	"sort"

	"gocv.io/x/gocv"

	"eidkiosk/kiosk/face/measure"
)

// stats computes sharpness, exposure and uniformity on the face resized
// to normW pixels wide.
func (a *Analyzer) stats(f *measure.Frame) {
	b := f.Box.Intersect(image.Rect(0, 0, f.Size.X, f.Size.Y))
	r := a.grey.Region(b)
	nh := int(float64(normW) * float64(b.Dy()) / float64(b.Dx()))
	gocv.Resize(r, &a.norm, image.Pt(normW, nh), 0, 0, gocv.InterpolationArea)
	r.Close()
	gocv.Laplacian(a.norm, &a.lap, gocv.MatTypeCV64F, 1, 1, 0, gocv.BorderDefault)
	gocv.MeanStdDev(a.lap, &a.mean, &a.std)
	sd := a.std.GetDoubleAt(0, 0)
	f.Sharpness = sd * sd
	px, err := a.norm.DataPtrUint8()
	if err != nil {
		return
	}
	W, H := a.norm.Cols(), a.norm.Rows()
	var sum, sumL, sumR float64
	var clipped, high int
	// Central face only (skin, eyes, mouth; not the hair or background at
	// the box's edges).
	x0, x1, y0, y1 := W/8, W-W/8, H/8, H-H/16
	for y := y0; y < y1; y++ {
		row := px[y*W : (y+1)*W]
		for x := x0; x < x1; x++ {
			v := float64(row[x])
			sum += v
			if x < W/2 {
				sumL += v
			} else {
				sumR += v
			}
			if row[x] <= 5 {
				clipped++
			} else if row[x] >= 250 {
				clipped++
				high++
			}
		}
	}
	n := float64((x1 - x0) * (y1 - y0))
	f.Brightness = sum / n
	f.Clipped = float64(clipped) / n
	f.ClippedHigh = float64(high) / n
	if sumL > 0 && sumR > 0 {
		f.Uniformity = math.Min(sumL, sumR) / math.Max(sumL, sumR)
	}
}

// moire scores periodic high-frequency structure (a screen's pixel grid and
// the moiré it makes with the camera's sensor) in a moireN×moireN patch of
// the face at native resolution: the strongest spectral peak in the upper
// frequency band over the band's median magnitude.
func (a *Analyzer) moire(f *measure.Frame) {
	b := f.Box
	c := centre(b)
	side := min(b.Dx()*3/5, b.Dy()*3/5)
	if side < moireN/2 {
		return
	}
	side = min(side, moireN*2) // large faces: a 2:1 decimation keeps the patch small
	pr := image.Rect(c.X-side/2, c.Y-side/3, c.X-side/2+side, c.Y-side/3+side).Intersect(image.Rect(0, 0, f.Size.X, f.Size.Y))
	if pr.Dx() < moireN/2 || pr.Dy() < moireN/2 {
		return
	}
	r := a.grey.Region(pr)
	if pr.Dx() == moireN && pr.Dy() == moireN {
		r.ConvertTo(&a.patchF, gocv.MatTypeCV32F)
	} else {
		gocv.Resize(r, &a.patch, image.Pt(moireN, moireN), 0, 0, gocv.InterpolationNearestNeighbor)
		a.patch.ConvertTo(&a.patchF, gocv.MatTypeCV32F)
	}
	r.Close()
	p, err := a.patchF.DataPtrFloat32()
	if err != nil {
		return
	}
	var mean float32
	for _, v := range p {
		mean += v
	}
	mean /= float32(len(p))
	for i := range p {
		p[i] = (p[i] - mean) * a.hann[i]
	}
	gocv.DFT(a.patchF, &a.spec, gocv.DftComplexOutput)
	s, err := a.spec.DataPtrFloat32()
	if err != nil {
		return
	}
	mags := make([]float64, 0, moireN*moireN/2)
	var peak float64
	for v := 0; v < moireN; v++ {
		fv := v
		if fv > moireN/2 {
			fv -= moireN
		}
		for u := 0; u <= moireN/2; u++ {
			r2 := u*u + fv*fv
			if r2 < (moireN/6)*(moireN/6) || r2 > (moireN/2)*(moireN/2) {
				continue
			}
			i := (v*moireN + u) * 2
			m := math.Hypot(float64(s[i]), float64(s[i+1]))
			mags = append(mags, m)
			peak = math.Max(peak, m)
		}
	}
	if len(mags) == 0 {
		return
	}
	sort.Float64s(mags)
	med := mags[len(mags)/2]
	if med > 0 {
		f.Moire = peak / med
	}
}
