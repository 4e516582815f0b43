package ui

import (
	"image"

	"eidkiosk/ui/uitest"
)

// IsAttract reports whether a screenshot of the whole screen shows the
// attract screen of the default theme: the header band across the top and
// the large start button in the middle column. Smoke tests of the kiosk
// binary use it (see ui/uitest).
func IsAttract(img image.Image) bool {
	p := paletteDefault
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w < 640 || h < 400 {
		return false
	}
	if uitest.Share(img, image.Rect(b.Min.X, b.Min.Y+4, b.Max.X, b.Min.Y+80), p.header, 12) < 0.6 {
		return false
	}
	// A band of at least 60 rows in the middle column mostly in the primary
	// colour: the start button (other screens put their buttons bottom right).
	x0, x1 := b.Min.X+w/2-140, b.Min.X+w/2+140
	run := 0
	for y := b.Min.Y + 100; y < b.Max.Y; y++ {
		if uitest.Share(img, image.Rect(x0, y, x1, y+1), p.primary, 12) >= 0.45 {
			run++
			if run >= 60 {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}
