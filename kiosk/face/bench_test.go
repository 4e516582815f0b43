package face

import (
	"fmt"
	"image"
	"path/filepath"
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
			a, err := NewAnalyzer("", AnalyzerOptions{})
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
			var tp, tn time.Duration
			found := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				m := frames[i%len(frames)]
				t0 := time.Now()
				f := a.Analyze(m, t0)
				t1 := time.Now()
				gocv.CvtColor(m, &grey, gocv.ColorBGRToGray)
				hits := naive.DetectMultiScale(grey)
				t2 := time.Now()
				tp += t1.Sub(t0)
				tn += t2.Sub(t1)
				if f.HasFace() && len(hits) > 0 {
					found++
				}
			}
			b.StopTimer()
			pm := float64(tp.Microseconds()) / 1000 / float64(b.N)
			nm := float64(tn.Microseconds()) / 1000 / float64(b.N)
			b.ReportMetric(pm, "pipeline-ms/frame")
			b.ReportMetric(nm, "naive-ms/frame")
			b.ReportMetric(100*pm/nm, "pipeline-%-of-naive")
			b.ReportMetric(float64(found)/float64(b.N), "both-found")
		})
	}
}
