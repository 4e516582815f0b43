package outbox_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"eidkiosk/internal/atomicfile"
	"eidkiosk/kiosk/config"
	"eidkiosk/kiosk/outbox"
)

// BenchmarkEnqueue measures the latency of a durable Enqueue of a typical
// 70 KB package (SQLite WAL, synchronous=FULL: one fsync per commit), beside
// the baseline of writing the same bytes durably to a file of their own
// (temporary file, fsync, rename, fsync of the directory).
func BenchmarkEnqueue(b *testing.B) {
	ctx := context.Background()
	o, err := outbox.Open(ctx, b.TempDir(), config.Default().Outbox, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	files := b.TempDir()
	pkg := make([]byte, 70<<10)
	rand.Read(pkg)
	var tq, tf time.Duration
	i := 0
	for b.Loop() {
		id := fmt.Sprintf("id-%d", i)
		i++
		t0 := time.Now()
		if err := o.Enqueue(ctx, id, pkg); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := atomicfile.Write(filepath.Join(files, id), pkg, 0o600); err != nil {
			b.Fatal(err)
		}
		tf += time.Since(t1)
		tq += t1.Sub(t0)
	}
	b.ReportMetric(float64(tq.Microseconds())/float64(b.N), "enqueue-µs")
	b.ReportMetric(float64(tf.Microseconds())/float64(b.N), "baseline-file-µs")
	b.ReportMetric(float64(tq)/float64(tf), "enqueue/baseline")
}
