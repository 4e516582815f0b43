package ui

import (
	"bytes"
	"image"
	"image/color"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"github.com/fyne-io/oksvg"
	"github.com/srwiley/rasterx"
)

// Large icons are rasterised once per size and colour and shown as plain
// images: a canvas.Image holding an SVG is re-rasterised on the CPU for every
// new object and size, which made start-up and each test slow.
type iconKey struct {
	name string
	px   int
	col  color.NRGBA
}

var iconCache sync.Map // iconKey → *image.NRGBA

// rasterIcon draws an SVG resource at px×px in col (the SVG's alpha kept).
func rasterIcon(res fyne.Resource, px int, col color.NRGBA) image.Image {
	k := iconKey{res.Name(), px, col}
	if img, ok := iconCache.Load(k); ok {
		return img.(image.Image)
	}
	icon, err := oksvg.ReadIconStream(bytes.NewReader(res.Content()), oksvg.IgnoreErrorMode)
	img := image.NewNRGBA(image.Rect(0, 0, px, px))
	if err == nil {
		w, h := icon.ViewBox.W, icon.ViewBox.H
		sx, sy := float64(px), float64(px)
		if w > 0 && h > 0 { // keep the aspect, centred
			if w > h {
				sy = float64(px) * h / w
			} else {
				sx = float64(px) * w / h
			}
		}
		icon.SetTarget((float64(px)-sx)/2, (float64(px)-sy)/2, sx, sy)
		rgba := image.NewRGBA(img.Rect)
		scanner := rasterx.NewScannerGV(px, px, rgba, rgba.Bounds())
		icon.Draw(rasterx.NewDasher(px, px, scanner), 1)
		for i := 0; i < len(rgba.Pix); i += 4 {
			a := rgba.Pix[i+3]
			img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = col.R, col.G, col.B, uint8(uint16(a)*uint16(col.A)/255)
		}
	}
	iconCache.Store(k, img)
	return img
}

// bigIcon is an icon drawn at size×size in the foreground colour.
func (u *UI) bigIcon(res fyne.Resource, size float32) *canvas.Image {
	img := canvas.NewImageFromImage(rasterIcon(res, int(size*2), u.th.palette().fg))
	img.FillMode = canvas.ImageFillContain
	img.ScaleMode = canvas.ImageScaleSmooth
	img.SetMinSize(fyne.NewSize(size, size))
	return img
}
