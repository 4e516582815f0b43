package ui

import (
	"image"
	"os"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"eidkiosk/kiosk/session"
	"eidkiosk/ui/uitest"
)

// TestSoakVisits runs whole visits through the real engine and the real UI
// code (Fyne's test driver, preview running, receipt QR drawn) and checks
// that the heap and RSS stay flat: widgets are reused, images are dropped.
// EIDKIOSK_LONG=1 runs 1000 visits instead of 40.
func TestSoakVisits(t *testing.T) {
	n, warm := 40, 10
	if raceOn {
		n, warm = 15, 5
	}
	if os.Getenv("EIDKIOSK_LONG") != "" {
		n, warm = 1000, 50
	}
	h := newHarness(t)
	h.u.prev.src = &countingPreview{size: image.Pt(640, 480)}
	me := uitest.Proc{Pid: os.Getpid()}
	var heap0, rss0 uint64
	measure := func() (uint64, uint64) {
		runtime.GC()
		debug.FreeOSMemory()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		rss, _ := me.RSS()
		return ms.HeapInuse, uint64(rss)
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		if i == warm {
			heap0, rss0 = measure()
		}
		fc := h.toFace()
		fc.report(session.FaceProgress{Frame: image.Pt(640, 480), Box: image.Rect(200, 100, 400, 340), Challenge: "challenge.blink", Step: 1, Steps: 1})
		if !h.q.DrainUntil(func() bool { return h.u.PreviewFrames() > uint64(i) }, 5*time.Second) {
			t.Fatal("no preview frame")
		}
		fc.reply <- faceReply{res: session.FaceResult{Portrait: testPortrait()}}
		h.waitState(session.Review)
		h.tap(h.u.review.keep)
		h.waitState(session.ReceiptShown)
		if i%2 == 1 {
			h.tap(h.u.langBtn)
			h.settle()
		}
		h.tap(h.u.receipt.done)
		h.waitState(session.Attract)
		if i%10 == 0 {
			h.w.Canvas().Capture() // draw now and then, like a real screen
		}
	}
	heap1, rss1 := measure()
	t.Logf("%d visits in %v; after %d warm-up visits: Go heap %.1f → %.1f MB, RSS %.1f → %.1f MB",
		n, time.Since(start).Round(time.Millisecond), warm, mb(heap0), mb(heap1), mb(rss0), mb(rss1))
	if h.sub.n != n {
		t.Errorf("%d enrollments submitted, want %d", h.sub.n, n)
	}
	// A leak of one portrait, QR code or preview frame per visit would show
	// as several MB here.
	if heap1 > heap0+8<<20 {
		t.Errorf("Go heap grew %.1f MB over %d visits", mb(heap1-heap0), n-warm)
	}
}

func mb(b uint64) float64 { return float64(b) / (1 << 20) }
