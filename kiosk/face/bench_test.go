package face

import (
	"fmt"
	"image"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"eidkiosk/drivers/camera"
)

// benchFrames decodes n frames of the shared webcam video, scaled (aspect
// kept, letterboxed) to size, as a camera at that resolution would give them.
func benchFrames(b *testing.B, size image.Point, n int) []gocv.Mat {
	b.Helper()
	vc, err := gocv.VideoCaptureFile(filepath.Join(sharedFaces(b), WebcamVideo))
	if err != nil {
		b.Fatal(err)
	}
	defer vc.Close()
	m := gocv.NewMat()
	defer m.Close()
	var out []gocv.Mat
	for len(out) < n && vc.Read(&m) {
		s := min(float64(size.X)/float64(m.Cols()), float64(size.Y)/float64(m.Rows()))
		w, h := int(float64(m.Cols())*s), int(float64(m.Rows())*s)
		scaled := gocv.NewMat()
		gocv.Resize(m, &scaled, image.Pt(w, h), 0, 0, gocv.InterpolationLinear)
		f := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(0, 0, 0, 0), size.Y, size.X, gocv.MatTypeCV8UC3)
		r := f.Region(image.Rect((size.X-w)/2, (size.Y-h)/2, (size.X-w)/2+w, (size.Y-h)/2+h))
		scaled.CopyTo(&r)
		r.Close()
		scaled.Close()
		out = append(out, f)
	}
	b.Cleanup(func() {
		for _, f := range out {
			f.Close()
		}
	})
	return out
}

// BenchmarkPipeline: the whole per-frame pipeline (DNN detection every
// DetectEvery frames, landmarks on every frame, eye model, quality
// statistics, motion fit, spectrum) beside naive full-resolution Haar
// DetectMultiScale with default parameters (the pipeline this one
// replaced started from it), on one OpenCV thread, same frames, same
// benchmark.
func BenchmarkPipeline(b *testing.B) {
	camera.SetNumThreads(1)
	defer camera.SetNumThreads(-1)
	for _, size := range []image.Point{{640, 480}, {1280, 720}} {
		b.Run(fmt.Sprintf("%dx%d", size.X, size.Y), func(b *testing.B) {
			frames := benchFrames(b, size, 60)
			a, err := NewAnalyzer(AnalyzerOptions{})
			if err != nil {
				b.Fatal(err)
			}
			defer a.Close()
			naive := gocv.NewCascadeClassifier()
			defer naive.Close()
			if !naive.Load(filepath.Join(DefaultCascadeDir, "haarcascades/haarcascade_frontalface_default.xml")) {
				b.Fatal("cascade")
			}
			grey := gocv.NewMat()
			defer grey.Close()
			// OpenCV runs on this goroutine's thread (one thread): the
			// thread's CPU time is the cost whatever else shares the
			// machine; wall time is reported beside it.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var tp, tn, cp, cn time.Duration
			found := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				m := frames[i%len(frames)]
				c0, t0 := threadCPU(), time.Now()
				f := a.Analyze(m, t0)
				c1, t1 := threadCPU(), time.Now()
				gocv.CvtColor(m, &grey, gocv.ColorBGRToGray)
				hits := naive.DetectMultiScale(grey)
				c2, t2 := threadCPU(), time.Now()
				tp += t1.Sub(t0)
				tn += t2.Sub(t1)
				cp += c1 - c0
				cn += c2 - c1
				if f.HasFace() && len(hits) > 0 {
					found++
				}
			}
			b.StopTimer()
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
			b.ReportMetric(ms(tp), "pipeline-ms/frame")
			b.ReportMetric(ms(tn), "naive-ms/frame")
			b.ReportMetric(100*ms(tp)/ms(tn), "pipeline-%-of-naive")
			b.ReportMetric(ms(cp), "pipeline-cpu-ms/frame")
			b.ReportMetric(ms(cn), "naive-cpu-ms/frame")
			b.ReportMetric(100*ms(cp)/ms(cn), "pipeline-cpu-%-of-naive")
			b.ReportMetric(float64(found)/float64(b.N), "both-found")
		})
	}
}

// threadCPU is the calling thread's CPU time (user + system).
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLoadModels times loading the analyzer's models (detector,
// landmarks, eye state: read, hash-checked, parsed by OpenCV) and reports
// the resident memory the first loaded set adds once it has run on a frame.
func BenchmarkLoadModels(b *testing.B) {
	frames := benchFrames(b, image.Pt(640, 480), 1)
	runtime.GC()
	before := vmRSS(b)
	first, err := NewAnalyzer(AnalyzerOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer first.Close()
	first.Analyze(frames[0], time.Now())
	rss := float64(vmRSS(b)-before) / (1 << 20)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a, err := NewAnalyzer(AnalyzerOptions{})
		if err != nil {
			b.Fatal(err)
		}
		a.Close()
	}
	b.ReportMetric(rss, "models-rss-MB")
}

// vmRSS is this process's resident set size in bytes (Linux).
func vmRSS(b *testing.B) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			var kb int64
			fmt.Sscanf(strings.TrimPrefix(line, "VmRSS:"), "%d", &kb)
			return kb << 10
		}
	}
	b.Skip("no VmRSS")
	return 0
}
