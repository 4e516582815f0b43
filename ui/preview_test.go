package ui

import (
	"image"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"eidkiosk/kiosk/session"
)

// countingPreview fills each frame with its sequence number.
type countingPreview struct {
	size  image.Point
	seq   atomic.Uint64
	calls atomic.Uint64
	block chan struct{} // when set, Preview waits on it (a stalled camera)
	mu    sync.Mutex
	dsts  map[*image.RGBA]bool
}

func (p *countingPreview) PreviewSize() image.Point { return p.size }

func (p *countingPreview) Preview(dst *image.RGBA) (uint64, bool) {
	p.calls.Add(1)
	if p.block != nil {
		<-p.block
	}
	p.mu.Lock()
	if p.dsts == nil {
		p.dsts = map[*image.RGBA]bool{}
	}
	p.dsts[dst] = true
	p.mu.Unlock()
	s := p.seq.Add(1)
	for i := range dst.Pix {
		dst.Pix[i] = byte(s)
	}
	return s, true
}

func TestPreviewReusesBuffersAndWipes(t *testing.T) {
	src := &countingPreview{size: image.Pt(1280, 720)}
	u, q := newOffline(t, Options{Preview: src, PreviewFPS: 60})
	if b := u.prev.bufs[0].Bounds().Size(); b != image.Pt(640, 360) {
		t.Fatalf("preview buffer %v, want 1280x720 fitted into 640x480 = 640x360", b)
	}
	u.Render(session.View{State: session.FaceCapture, Lang: "zh-CN",
		Face: session.FaceProgress{Frame: image.Pt(1280, 720), Box: image.Rect(640, 180, 960, 540)}})
	q.Drain()
	// The face box is mapped from frame coordinates onto the picture.
	u.Content().Refresh()
	pos := u.prev.raster.Position()
	sz := u.prev.raster.Size()
	bp := u.prev.box.Position()
	if want := pos.X + sz.Width/2; abs(bp.X-want) > 1 {
		t.Errorf("face box x %v, want %v (middle of the picture)", bp.X, want)
	}
	if want := pos.Y + sz.Height/4; abs(bp.Y-want) > 1 {
		t.Errorf("face box y %v, want %v", bp.Y, want)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.TotalAlloc
	const frames = 20
	if !q.DrainUntil(func() bool { return u.PreviewFrames() >= frames }, 20*time.Second) {
		t.Fatalf("only %d frames drawn", u.PreviewFrames())
	}
	runtime.ReadMemStats(&ms)
	perFrame := (ms.TotalAlloc - before) / frames
	// A new 640x360 image per frame would be 921600 bytes.
	if perFrame > 64<<10 {
		t.Errorf("%d bytes allocated per preview frame: buffers are not reused", perFrame)
	}
	src.mu.Lock()
	n, b0, b1 := len(src.dsts), src.dsts[u.prev.bufs[0]], src.dsts[u.prev.bufs[1]]
	src.mu.Unlock()
	if n != 2 || !b0 || !b1 {
		t.Errorf("Preview wrote into %d buffers, want the same two", n)
	}
	// The buffer on screen shows the latest frame drawn.
	if got := u.prev.bufs[u.prev.shown].Pix[0]; got == 0 {
		t.Error("picture on screen is blank")
	}
	// Leaving the capture stops the preview and wipes both buffers.
	u.Render(session.View{State: session.Review, Lang: "zh-CN"})
	wiped := func() bool {
		for _, b := range u.prev.bufs {
			for _, v := range b.Pix {
				if v != 0 {
					return false
				}
			}
		}
		return true
	}
	if !q.DrainUntil(wiped, 5*time.Second) {
		t.Fatal("preview buffers not wiped after the capture")
	}
	calls := src.calls.Load()
	time.Sleep(100 * time.Millisecond)
	q.Drain()
	if c := src.calls.Load(); c != calls {
		t.Errorf("Preview still called after the capture ended (%d → %d)", calls, c)
	}
}

func TestStalledCameraDoesNotBlockTheUI(t *testing.T) {
	src := &countingPreview{size: image.Pt(640, 480), block: make(chan struct{})}
	u, q := newOffline(t, Options{Preview: src})
	u.Render(session.View{State: session.FaceCapture, Lang: "en"})
	q.Drain()
	for src.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	// Preview is stuck; views still render.
	u.Render(session.View{State: session.FaceCapture, Lang: "en", Face: session.FaceProgress{Challenge: "challenge.smile"}})
	q.Drain()
	if u.face.instruction.Text != "Please smile" {
		t.Errorf("instruction %q while the camera stalls", u.face.instruction.Text)
	}
	u.Render(session.View{State: session.Attract, Lang: "en"})
	q.Drain()
	if u.State() != session.Attract {
		t.Error("UI blocked by a stalled camera")
	}
	close(src.block)
}

func TestKioskWindow(t *testing.T) {
	u, _ := newOffline(t, Options{})
	w := test.NewTempWindow(t, nil)
	u.Show(w, true)
	if !w.FullScreen() || w.MainMenu() != nil || w.Padded() {
		t.Errorf("fullscreen %v, menu %v, padded %v", w.FullScreen(), w.MainMenu(), w.Padded())
	}
}

func abs(f float32) float32 {
	if f < 0 {
		return -f
	}
	return f
}

// BenchmarkPreviewFrame: one preview frame through the UI's double buffer
// against the baseline of a new image per frame (what the issue warns
// about: ~80 MB of RSS growth).
func BenchmarkPreviewFrame(b *testing.B) {
	src := newSynthCam(640, 480)
	b.Run("reused-buffers", func(b *testing.B) {
		bufs := [2]*image.RGBA{image.NewRGBA(image.Rect(0, 0, 640, 480)), image.NewRGBA(image.Rect(0, 0, 640, 480))}
		shown := 0
		b.ReportAllocs()
		for b.Loop() {
			src.Preview(bufs[1-shown])
			shown = 1 - shown
		}
	})
	b.Run("baseline-new-image", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			dst := image.NewRGBA(image.Rect(0, 0, 640, 480))
			src.Preview(dst)
		}
	})
}
