package shots

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// drawFace paints a synthetic portrait (no real person) into dst: a plain
// background, shoulders, a head moved by phase (0..1) to look alive.
func drawFace(dst *image.RGBA, phase float64) {
	b := dst.Bounds()
	w, h := float64(b.Dx()), float64(b.Dy())
	cx := w/2 + math.Sin(phase*2*math.Pi)*w*0.02
	cy := h * 0.45
	rx, ry := w*0.16, h*0.27
	if w < h { // portrait format
		rx, ry = w*0.3, h*0.27
	}
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			fx, fy := float64(x), float64(y)
			// background: soft vertical gradient
			g := uint8(200 - 40*fy/h)
			c := color.RGBA{g - 20, g - 10, g, 255}
			// shoulders
			if sy := fy - h*0.95; (fx-cx)*(fx-cx)/(w*w*0.16)+sy*sy/(h*h*0.09) < 1 {
				c = color.RGBA{40, 60, 90, 255}
			}
			dx, dy := (fx-cx)/rx, (fy-cy)/ry
			if dx*dx+dy*dy < 1 {
				c = color.RGBA{224, 180, 150, 255}
				// hair
				if dy < -0.55 {
					c = color.RGBA{40, 30, 25, 255}
				}
				// eyes
				for _, ex := range []float64{-0.38, 0.38} {
					ex2, ey2 := (dx-ex)/0.13, (dy+0.12)/0.07
					if ex2*ex2+ey2*ey2 < 1 {
						c = color.RGBA{30, 30, 30, 255}
					}
				}
				// mouth
				if mx, my := dx/0.35, (dy-0.45)/0.05; mx*mx+my*my < 1 {
					c = color.RGBA{150, 70, 70, 255}
				}
			}
			i := dst.PixOffset(b.Min.X+x, b.Min.Y+y)
			dst.Pix[i], dst.Pix[i+1], dst.Pix[i+2], dst.Pix[i+3] = c.R, c.G, c.B, c.A
		}
	}
}

// Portrait returns a synthetic 3:4 JPEG portrait.
func Portrait() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 360, 480))
	drawFace(img, 0)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85}); err != nil {
		panic(err) // encoding into memory does not fail
	}
	return buf.Bytes()
}

// CardPhoto returns a synthetic card photo (102×126, the chip photo's size).
func CardPhoto() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 102, 126))
	drawFace(img, 0)
	return img
}

// Synthetic is a ui.Preview of a synthetic camera at a fixed frame rate: a
// new frame every 1/FPS; Preview draws it into dst (the real camera helper
// copies and resizes its latest frame the same way).
type Synthetic struct {
	Size  image.Point
	FPS   int
	Start time.Time
	// Still always shows the first frame (deterministic screenshots).
	Still bool

	mu    sync.Mutex
	cache map[image.Point]*image.RGBA // pre-drawn frames per size and phase
	calls atomic.Uint64
}

// NewSynthetic returns a source of w×h frames at fps.
func NewSynthetic(w, h, fps int) *Synthetic {
	return &Synthetic{Size: image.Pt(w, h), FPS: fps, Start: time.Now()}
}

// PreviewSize implements ui.Preview.
func (s *Synthetic) PreviewSize() image.Point { return s.Size }

const phases = 8

// Preview implements ui.Preview: it copies the current frame into dst.
func (s *Synthetic) Preview(dst *image.RGBA) (uint64, bool) {
	s.calls.Add(1)
	seq := uint64(time.Since(s.Start) * time.Duration(s.FPS) / time.Second)
	phase := int(seq % phases)
	if s.Still {
		phase = 0
	}
	size := dst.Bounds().Size()
	s.mu.Lock()
	if s.cache == nil {
		s.cache = map[image.Point]*image.RGBA{}
	}
	strip := s.cache[size]
	if strip == nil {
		// Draw each phase once; afterwards a frame costs one copy, like the
		// real helper's resize-and-copy.
		strip = image.NewRGBA(image.Rect(0, 0, size.X, size.Y*phases))
		for p := 0; p < phases; p++ {
			drawFace(strip.SubImage(image.Rect(0, p*size.Y, size.X, (p+1)*size.Y)).(*image.RGBA), float64(p)/phases)
		}
		s.cache[size] = strip
	}
	s.mu.Unlock()
	n := size.X * size.Y * 4
	copy(dst.Pix[:n], strip.Pix[phase*n:(phase+1)*n])
	return seq + 1, true
}

// Calls counts Preview calls.
func (s *Synthetic) Calls() uint64 { return s.calls.Load() }
