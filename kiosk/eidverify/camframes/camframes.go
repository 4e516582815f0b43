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
	"errors"
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
	Src       camera.Source
	mat, gray gocv.Mat
}

// New wraps src; Close frees the frame buffers (not src).
func New(src camera.Source) *Source {
	return &Source{Src: src, mat: gocv.NewMat(), gray: gocv.NewMat()}
}

// Frame reads the next frame as a grey image (all the QR decoder looks at).
func (s *Source) Frame(ctx context.Context) (image.Image, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, err := s.Src.Read(&s.mat); err != nil {
		return nil, fmt.Errorf("camframes: %w", err)
	}
	return Gray(s.mat, &s.gray)
}

// Gray converts a BGR frame to a grey image in OpenCV, using tmp as the
// grey Mat.
func Gray(bgr gocv.Mat, tmp *gocv.Mat) (*image.Gray, error) {
	if bgr.Empty() {
		return nil, fmt.Errorf("camframes: empty frame")
	}
	gocv.CvtColor(bgr, tmp, gocv.ColorBGRToGray)
	pix, err := tmp.DataPtrUint8()
	if err != nil {
		return nil, fmt.Errorf("camframes: %w", err)
	}
	w, h := tmp.Cols(), tmp.Rows()
	if len(pix) < w*h {
		return nil, fmt.Errorf("camframes: grey frame of %d bytes for %d×%d", len(pix), w, h)
	}
	return &image.Gray{Pix: append([]byte(nil), pix[:w*h]...), Stride: w, Rect: image.Rect(0, 0, w, h)}, nil
}

// Close frees the frame buffers.
func (s *Source) Close() error { return errors.Join(s.mat.Close(), s.gray.Close()) }

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
