package metrics_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"eidkiosk/authority/metrics"
	"eidkiosk/authority/service"
	"eidkiosk/fleetproto"
)

// BenchmarkScrape measures one scrape of the authority's metrics over a
// store with 1,000 terminals (the fleet listing, the flags and the
// enrollment count are read from SQLite at each scrape). Side by side, the
// baseline is a scrape of the same registry's counters alone, without the
// store. Metrics: ns/scrape (one scrape of the store; ns/op counts both),
// baseline-ns, x-baseline, bytes/scrape.
func BenchmarkScrape(b *testing.B) {
	ctx := context.Background()
	svc, err := service.Open(ctx, service.Config{DataDir: b.TempDir(), Face: service.FaceConfig{Off: true}})
	if err != nil {
		b.Fatal(err)
	}
	defer svc.Close()
	for i := range 1000 {
		rep := fleetproto.Report{Healthy: i%10 != 0, OutboxDepth: i % 7, SentAt: time.Now()}
		if err := svc.Fleet.Record(ctx, fmt.Sprintf("DEV-%04d", i), "NS01", rep); err != nil {
			b.Fatal(err)
		}
	}
	bare := metrics.New(metrics.Options{})
	scrape := func(h http.Handler) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("scrape: %d", rec.Code)
		}
		return rec.Body.Len()
	}
	var baseline, measured time.Duration
	size := 0
	for b.Loop() {
		t0 := time.Now()
		scrape(bare.Handler())
		baseline += time.Since(t0)
		t1 := time.Now()
		size = scrape(svc.Metrics.Handler())
		measured += time.Since(t1)
	}
	b.ReportMetric(float64(measured.Nanoseconds())/float64(b.N), "ns/scrape")
	b.ReportMetric(float64(baseline.Nanoseconds())/float64(b.N), "baseline-ns")
	b.ReportMetric(float64(measured)/float64(baseline), "x-baseline")
	b.ReportMetric(float64(size), "bytes/scrape")
}
