// Package camframes feeds the kiosk's camera frame sources
// (drivers/camera.Source: a V4L2 device, a recording, a folder of images)
// to the e-ID verifier (kiosk/eidverify.Frames), and draws Scene, what a
// camera sees of a phone held up to it, for the demo and the benchmarks.
//
// It is the one OpenCV-linked part of the e-ID path; eidverify itself is
// pure Go.
package camframes

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"

	"gocv.io/x/gocv"
	xdraw "golang.org/x/image/draw"

	"eidkiosk/drivers/camera"
)

// Source adapts a camera source to eidverify.Frames.
type Source struct {
	Src camera.Source
	mat gocv.Mat
}

// New wraps src; Close frees the frame buffer (not src).
func New(src camera.Source) *Source { return &Source{Src: src, mat: gocv.NewMat()} }

// Frame reads the next frame as an image.
func (s *Source) Frame(ctx context.Context) (image.Image, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, err := s.Src.Read(&s.mat); err != nil {
		return nil, fmt.Errorf("camframes: %w", err)
	}
	img, err := s.mat.ToImage()
	if err != nil {
		return nil, fmt.Errorf("camframes: %w", err)
	}
	return img, nil
}

// Close frees the frame buffer.
func (s *Source) Close() error { return s.mat.Close() }

// Scene draws a size frame of a phone screen held up to the camera: a dark
// background, a white screen, and the QR code scaled to fill (fraction) of
// the frame's height, off-centre.
func Scene(qr image.Image, size image.Point, fraction float64) *image.RGBA {
	out := image.NewRGBA(image.Rectangle{Max: size})
	draw.Draw(out, out.Bounds(), image.NewUniform(color.RGBA{60, 55, 50, 255}), image.Point{}, draw.Src)
	side := int(float64(size.Y) * fraction)
	x0, y0 := size.X/2-side/2+size.X/12, size.Y/2-side/2
	screen := image.Rect(x0-side/12, y0-side/6, x0+side+side/12, y0+side+side/6).Intersect(out.Bounds())
	draw.Draw(out, screen, image.NewUniform(color.RGBA{235, 235, 230, 255}), image.Point{}, draw.Src)
	xdraw.ApproxBiLinear.Scale(out, image.Rect(x0, y0, x0+side, y0+side), qr, qr.Bounds(), draw.Over, nil)
	return out
}
