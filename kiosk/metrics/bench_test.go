package metrics

import (
	"sync"
	"testing"
	"time"

	"eidkiosk/internal/clock"
	"eidkiosk/kiosk/session"
)

// BenchmarkObserve measures the Recorder's cost per engine view, on the
// engine's goroutine: one visit's worth of views (most of them face
// progress, the same state again, as a capture publishes one per frame).
// Side by side, the baseline is the least any view observer does: keep the
// view under a mutex. Metrics: ns/view, baseline-ns/view, x-baseline (ns/op
// is one visit of both).
func BenchmarkObserve(b *testing.B) {
	clk := clock.NewFake(time.Unix(1_800_000_000, 0))
	r := New(Sources{Clock: clk}).Visits
	visit := []session.State{session.Attract, session.CardReading, session.DataShown, session.Consent}
	for range 150 { // 5 s of capture at 30 frames/s
		visit = append(visit, session.FaceCapture)
	}
	visit = append(visit, session.Review, session.Sealing, session.ReceiptShown, session.Attract)
	views := make([]session.View, len(visit))
	for i, s := range visit {
		views[i] = session.View{State: s, Seq: uint64(i)}
	}
	var mu sync.Mutex
	var kept session.View
	keep := func(v session.View) {
		mu.Lock()
		kept = v
		mu.Unlock()
	}
	var baseline, measured time.Duration
	n := 0
	for b.Loop() {
		t0 := time.Now()
		for _, v := range views {
			keep(v)
		}
		baseline += time.Since(t0)
		t1 := time.Now()
		for _, v := range views {
			r.Observe(v)
		}
		measured += time.Since(t1)
		n += len(views)
	}
	_ = kept
	b.ReportMetric(float64(measured.Nanoseconds())/float64(n), "ns/view")
	b.ReportMetric(float64(baseline.Nanoseconds())/float64(n), "baseline-ns/view")
	b.ReportMetric(float64(measured)/float64(baseline), "x-baseline")
}
