package uitest

import (
	"image"
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// Colors is the part of a Fyne theme the screen matchers read (ui.Theme has it).
type Colors interface {
	Color(fyne.ThemeColorName, fyne.ThemeVariant) color.Color
}

// Attract returns a matcher for screenshots of the whole screen that show
// the attract screen in theme th: the header band across the top and the
// large start button in the middle column. Smoke tests of the kiosk binary
// and of the UI wait for it with StartProgram.
func Attract(th Colors) func(image.Image) bool {
	nrgba := func(n fyne.ThemeColorName) color.NRGBA {
		return color.NRGBAModel.Convert(th.Color(n, theme.VariantLight)).(color.NRGBA)
	}
	header, primary := nrgba(theme.ColorNameHeaderBackground), nrgba(theme.ColorNamePrimary)
	return func(img image.Image) bool {
		b := img.Bounds()
		w, h := b.Dx(), b.Dy()
		if w < 640 || h < 400 {
			return false
		}
		if Share(img, image.Rect(b.Min.X, b.Min.Y+4, b.Max.X, b.Min.Y+80), header, 12) < 0.6 {
			return false
		}
		// A band of at least 60 rows in the middle column mostly in the
		// primary colour: the start button (other screens put their buttons
		// bottom right).
		x0, x1 := b.Min.X+w/2-140, b.Min.X+w/2+140
		run := 0
		for y := b.Min.Y + 100; y < b.Max.Y; y++ {
			if Share(img, image.Rect(x0, y, x1, y+1), primary, 12) >= 0.45 {
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
}
