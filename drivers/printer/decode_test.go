package printer

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func sample(t testing.TB, raster bool) []byte {
	p := New(nil, Options{RasterQR: raster, Location: time.UTC})
	b, err := p.Render(Receipt{Station: "南沙区公安分局", Number: "NS01-7K3Q-9D", QR: "eidbind:v1:01JD2X7K3Q9D:Zk3q",
		At: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecoderAnySplit(t *testing.T) {
	for _, raster := range []bool{false, true} {
		b := sample(t, raster)
		whole := NewDecoder()
		if _, err := whole.Write(b); err != nil || whole.Close() != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("%+v", whole.Document())
		for _, size := range []int{1, 2, 3, 7, 64} {
			d := NewDecoder()
			for i := 0; i < len(b); i += size {
				if _, err := d.Write(b[i:min(i+size, len(b))]); err != nil {
					t.Fatalf("chunk %d at %d: %v", size, i, err)
				}
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprintf("%+v", d.Document()); got != want {
				t.Fatalf("chunks of %d parse differently", size)
			}
		}
	}
}

func TestDecoderRefusesUnknownAndTruncated(t *testing.T) {
	d := NewDecoder()
	if _, err := d.Write([]byte{esc, '@', 'h', 'i', esc, 'Z'}); err == nil {
		t.Fatal("unknown ESC Z accepted")
	}
	b := sample(t, false)
	d = NewDecoder()
	_, _ = d.Write(b[:len(b)-2]) // inside GS V
	if err := d.Close(); !errors.Is(err, ErrShort) {
		t.Fatalf("truncated stream: %v", err)
	}
}

func FuzzDecoder(f *testing.F) {
	f.Add(sample(f, false))
	f.Add(sample(f, true))
	f.Add([]byte{gs, '(', 'k', 0xff, 0xff, 49, 80, 48})
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewDecoder()
		_, _ = d.Write(b)
		_ = d.Close()
	})
}

// BenchmarkRender compares the two ways of printing the QR code: the
// native command (baseline) sends the payload, the raster sends an image.
func BenchmarkRender(b *testing.B) {
	for _, c := range []struct {
		name   string
		raster bool
	}{{"native", false}, {"raster", true}} {
		b.Run(c.name, func(b *testing.B) {
			var n int
			for i := 0; i < b.N; i++ {
				n = len(sample(b, c.raster))
			}
			b.ReportMetric(float64(n), "bytes/receipt")
			b.ReportMetric(float64(n)*10/9600, "s@9600baud")
		})
	}
}
