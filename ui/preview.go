package ui

import (
	"context"
	"image"
	"image/color"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"eidkiosk/internal/pii"
)

// previewView is the live camera picture with the face box drawn over it.
// Two image buffers are allocated once and reused for every frame: the
// preview goroutine fills the hidden one from Preview, then the Fyne thread
// swaps them. The goroutine waits for the swap before it writes again, so the
// buffer on screen is never written; the face pipeline is never waited on
// (Preview is a copy of its latest frame).
type previewView struct {
	src    Preview
	fps    int
	root   *fyne.Container
	raster *canvas.Raster
	frame  *canvas.Rectangle // border of the picture
	box    *canvas.Rectangle // face box, outer stroke
	inner  *canvas.Rectangle // face box, inner stroke: visible on any background
	none   *widget.Label
	lay    *previewLayout

	bufs  [2]*image.RGBA
	shown int // index of the buffer on screen; Fyne thread

	cancel context.CancelFunc
	done   chan struct{}
	gen    uint64 // counts captures; swaps of an ended capture are dropped. Fyne thread.

	// writeMu is held while Preview writes a buffer: a capture that just
	// ended may still be inside Preview when the next one starts.
	writeMu sync.Mutex

	frames atomic.Uint64 // frames swapped onto the screen
	doFn   func(func())
}

func newPreviewView(u *UI) *previewView {
	p := &previewView{src: u.o.Preview, fps: u.o.PreviewFPS, doFn: u.do}
	size := image.Pt(640, 480)
	if p.src != nil {
		if s := p.src.PreviewSize(); s.X > 0 && s.Y > 0 {
			size = fit(s, u.o.PreviewMax)
		}
	}
	for i := range p.bufs {
		p.bufs[i] = image.NewRGBA(image.Rectangle{Max: size})
	}
	p.raster = canvas.NewRaster(func(w, h int) image.Image { return p.bufs[p.shown] })
	p.raster.ScaleMode = canvas.ImageScaleFastest
	pal := u.th.palette()
	p.frame = canvas.NewRectangle(rgb(0x000000))
	p.frame.StrokeColor = pal.border
	p.frame.StrokeWidth = 2
	p.box = canvas.NewRectangle(color.Transparent)
	p.box.StrokeColor = pal.primary
	p.box.StrokeWidth = 8
	p.inner = canvas.NewRectangle(color.Transparent)
	p.inner.StrokeColor = rgb(0xFFFFFF)
	p.inner.StrokeWidth = 3
	p.none = newLabel("", true, true)
	p.none.Alignment = fyne.TextAlignCenter
	p.lay = &previewLayout{p: p, aspect: float32(size.X) / float32(size.Y), min: fyne.NewSize(640, 480)}
	p.root = container.New(p.lay, p.frame, p.raster, p.box, p.inner, container.NewCenter(p.none))
	p.box.Hide()
	p.inner.Hide()
	if p.src != nil {
		p.none.Hide()
	}
	return p
}

// fit scales s down to fit in max, keeping the aspect.
func fit(s, max image.Point) image.Point {
	if s.X <= max.X && s.Y <= max.Y {
		return s
	}
	w, h := max.X, s.Y*max.X/s.X
	if h > max.Y {
		h, w = max.Y, s.X*max.Y/s.Y
	}
	return image.Pt(w, h)
}

func (p *previewView) setLabels(u *UI) { setLabel(p.none, u.t("face.no_preview")) }

// setBox places the face box, given in frame coordinates. Fyne thread.
func (p *previewView) setBox(b image.Rectangle, frame image.Point) {
	if b.Empty() || frame.X <= 0 || frame.Y <= 0 {
		showIf(p.box, false)
		showIf(p.inner, false)
		p.lay.boxOn = false
		return
	}
	p.lay.face, p.lay.frameSize, p.lay.boxOn = b, frame, true
	showIf(p.box, true)
	showIf(p.inner, true)
	p.root.Refresh()
}

// start runs the preview goroutine. Fyne thread.
func (p *previewView) start(u *UI) {
	p.stop()
	if p.src == nil {
		return
	}
	ctx, cancel := context.WithCancel(u.ctx)
	p.cancel = cancel
	done := make(chan struct{})
	p.done = done
	p.gen++
	go p.loop(ctx, u.do, done, p.shown, p.gen)
}

// stop ends the preview goroutine and then, on the Fyne thread, blanks both
// buffers: the citizen's picture does not stay in memory after the capture.
func (p *previewView) stop() {
	if p.cancel == nil {
		return
	}
	p.cancel()
	p.cancel = nil
	done := p.done
	do := p.doFn
	go func() {
		<-done
		if do != nil {
			do(p.wipe)
		}
	}()
}

// shutdown stops the preview for good (UI.Close): it waits for the loop
// to return and zeroes the frame buffers itself, since no Fyne call may be
// queued any more.
func (p *previewView) shutdown() {
	done := p.done
	if p.cancel != nil {
		p.cancel()
		p.cancel = nil
	}
	if done != nil {
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
	}
	p.writeMu.Lock()
	for _, b := range p.bufs {
		pii.Zero(b.Pix)
	}
	p.writeMu.Unlock()
}

func (p *previewView) wipe() {
	if p.cancel != nil {
		return // a new capture started meanwhile; its frames overwrite the buffers
	}
	for _, b := range p.bufs {
		pii.Zero(b.Pix)
	}
	p.raster.Refresh()
}

func (p *previewView) loop(ctx context.Context, do func(func()), done chan struct{}, shown int, gen uint64) {
	defer close(done)
	t := time.NewTicker(time.Second / time.Duration(p.fps))
	defer t.Stop()
	swapped := make(chan struct{}, 1)
	// shown mirrors p.shown: only this goroutine's swaps change it while it runs.
	var last uint64
	have := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		back := 1 - shown
		p.writeMu.Lock()
		if ctx.Err() != nil {
			p.writeMu.Unlock()
			return
		}
		seq, ok := p.src.Preview(p.bufs[back])
		p.writeMu.Unlock()
		if !ok || (have && seq == last) {
			continue // no new frame: nothing to redraw
		}
		last, have = seq, true
		do(func() {
			if p.gen == gen {
				p.shown = back
				p.raster.Refresh()
				p.frames.Add(1)
			}
			swapped <- struct{}{}
		})
		select {
		case <-swapped:
			shown = back
		case <-ctx.Done():
			return
		}
	}
}

// previewLayout fits the picture into the area keeping its aspect, and maps
// the face box from frame coordinates onto it.
type previewLayout struct {
	p         *previewView
	aspect    float32
	min       fyne.Size
	face      image.Rectangle
	frameSize image.Point
	boxOn     bool
}

func (l *previewLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	w, h := size.Width, size.Width/l.aspect
	if h > size.Height {
		h, w = size.Height, size.Height*l.aspect
	}
	pos := fyne.NewPos((size.Width-w)/2, (size.Height-h)/2)
	for _, o := range []fyne.CanvasObject{l.p.frame, l.p.raster} {
		o.Move(pos)
		o.Resize(fyne.NewSize(w, h))
	}
	objs[len(objs)-1].Move(pos)
	objs[len(objs)-1].Resize(fyne.NewSize(w, h))
	if l.boxOn {
		sx, sy := w/float32(l.frameSize.X), h/float32(l.frameSize.Y)
		bp := pos.Add(fyne.NewPos(float32(l.face.Min.X)*sx, float32(l.face.Min.Y)*sy))
		bs := fyne.NewSize(float32(l.face.Dx())*sx, float32(l.face.Dy())*sy)
		l.p.box.Move(bp)
		l.p.box.Resize(bs)
		l.p.inner.Move(bp.Add(fyne.NewPos(5, 5)))
		l.p.inner.Resize(bs.SubtractWidthHeight(10, 10))
	}
}

func (l *previewLayout) MinSize([]fyne.CanvasObject) fyne.Size { return l.min }
