package ui

import (
	"context"
	"fmt"
	"image"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"eidkiosk/kiosk/session"
	"eidkiosk/ui/font"
	"eidkiosk/ui/uitest"
)

// The smoke test runs this test binary again as a real kiosk window
// (OpenGL through Mesa) under Xvfb: TestMain turns into helperMain on the
// main goroutine, which OpenGL needs.
const helperEnv = "EIDKIOSK_UI_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(helperMain())
	}
	os.Exit(m.Run())
}

// synthCam is a 30 fps synthetic camera: eight pre-drawn frames copied out
// in turn, as the face helper copies its latest frame.
type synthCam struct {
	frames [8]*image.RGBA
	start  time.Time
}

func newSynthCam(w, h int) *synthCam {
	c := &synthCam{start: time.Now()}
	for i := range c.frames {
		f := image.NewRGBA(image.Rect(0, 0, w, h))
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				o := f.PixOffset(x, y)
				f.Pix[o], f.Pix[o+1], f.Pix[o+2], f.Pix[o+3] = uint8(x+i*8), uint8(y), uint8(128+i*10), 255
			}
		}
		c.frames[i] = f
	}
	return c
}

func (c *synthCam) PreviewSize() image.Point { return c.frames[0].Rect.Size() }

func (c *synthCam) Preview(dst *image.RGBA) (uint64, bool) {
	seq := uint64(time.Since(c.start)*30/time.Second) + 1
	copy(dst.Pix, c.frames[seq%8].Pix)
	return seq, true
}

type helperEngine struct{ taps atomic.Int64 }

func (e *helperEngine) Send(session.Event) { e.taps.Add(1) }

// visitViews is one scripted visit through every screen of the citizen.
func visitViews(now time.Time) []session.View {
	card := &session.CardView{Name: "禤*", Number: "4401**********123X", Gender: "2", BirthYear: 1956}
	rec := &session.Receipt{Short: "NS01-7K3Q-9D", QR: "eid://bind/01JNV6Z8K3Q9D"}
	dl := now.Add(time.Minute)
	return []session.View{
		{State: session.Attract},
		{State: session.CardWait, Deadline: dl},
		{State: session.CardReading, Deadline: dl},
		{State: session.DataShown, Deadline: dl, Card: card},
		{State: session.Consent, Deadline: dl},
		{State: session.FaceCapture, Deadline: dl, Attempt: 1, Attempts: 3, Face: session.FaceProgress{Frame: image.Pt(640, 480), Box: image.Rect(200, 100, 400, 340), Challenge: "challenge.blink", Step: 1, Steps: 2}},
		{State: session.Review, Deadline: dl, Attempt: 1, Attempts: 3, Portrait: testPortrait()},
		{State: session.Sealing, Deadline: dl},
		{State: session.ReceiptShown, Deadline: dl, Receipt: rec},
		{State: session.Failed, Fault: session.FaultLiveness, Deadline: dl},
	}
}

// helperMain is the kiosk window of the smoke test. Signals: USR1 shows the
// face capture with the preview, USR2 prints counters, HUP cycles visits.
// EIDKIOSK_UI_CPUPROF=FILE profiles the CPU from USR1 to the next USR2;
// EIDKIOSK_UI_HEAPPROF=FILE writes a heap profile on each USR2.
func helperMain() int {
	t0 := time.Now()
	faces, err := font.Prepare(font.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	tFont := time.Now()
	th := NewTheme(faces, false)
	a := NewApp(th)
	eng := &helperEngine{}
	fps, _ := strconv.Atoi(os.Getenv("EIDKIOSK_UI_FPS")) // 0: the default 30
	u := New(Options{Engine: eng, Theme: th, Preview: newSynthCam(640, 480), PreviewFPS: fps, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	u.Render(session.View{State: session.Attract, Lang: "zh-CN", ReaderOK: true, CameraOK: true})
	fmt.Fprintf(os.Stderr, "helper: font %v, app and screens built %v after start\n", tFont.Sub(t0).Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	var visits atomic.Int64
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGHUP, syscall.SIGTERM)
	go func() {
		seq := uint64(1)
		for s := range sig {
			switch s {
			case syscall.SIGUSR1:
				if p := os.Getenv("EIDKIOSK_UI_CPUPROF"); p != "" {
					if f, err := os.Create(p); err == nil {
						pprof.StartCPUProfile(f)
						defer f.Close()
					}
				}
				seq++
				v := visitViews(time.Now())[5]
				v.Seq, v.Lang = seq, "zh-CN"
				u.Render(v)
			case syscall.SIGUSR2:
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				fmt.Printf("frames=%d visits=%d heap=%d sys=%d\n", u.PreviewFrames(), visits.Load(), ms.HeapInuse, ms.Sys)
				pprof.StopCPUProfile()
				if p := os.Getenv("EIDKIOSK_UI_HEAPPROF"); p != "" {
					if f, err := os.Create(p); err == nil {
						pprof.WriteHeapProfile(f)
						f.Close()
					}
				}
			case syscall.SIGHUP:
				go func() {
					for ctx.Err() == nil {
						for _, v := range visitViews(time.Now()) {
							seq++
							v.Seq, v.Lang = seq, []string{"zh-CN", "en"}[visits.Load()%2]
							u.Render(v)
							time.Sleep(40 * time.Millisecond)
						}
						visits.Add(1)
					}
				}()
			case syscall.SIGTERM:
				cancel()
				return
			}
		}
	}()
	u.Run(ctx, a, true)
	return 0
}

var countersRe = regexp.MustCompile(`frames=(\d+) visits=(\d+) heap=(\d+)`)

// counters asks the helper for its counters.
func counters(t *testing.T, s *uitest.Smoke) (frames, visits int64) {
	f, v, _ := countersHeap(t, s)
	return f, v
}

// countersHeap also returns the helper's Go heap in use.
func countersHeap(t *testing.T, s *uitest.Smoke) (frames, visits, heap int64) {
	t.Helper()
	before := s.Output.Len()
	s.Signal(syscall.SIGUSR2)
	for i := 0; i < 200; i++ {
		time.Sleep(10 * time.Millisecond)
		if m := countersRe.FindAllStringSubmatch(s.Output.String()[before:], -1); len(m) > 0 {
			f, _ := strconv.ParseInt(m[len(m)-1][1], 10, 64)
			v, _ := strconv.ParseInt(m[len(m)-1][2], 10, 64)
			h, _ := strconv.ParseInt(m[len(m)-1][3], 10, 64)
			return f, v, h
		}
	}
	t.Fatalf("helper did not report counters:\n%s", s.Output.String())
	return 0, 0, 0
}

// TestSmokeRealWindow starts the UI in a real full-screen window under
// Xvfb, checks the attract screen is shown, and measures start-up time,
// idle CPU and RSS, and CPU with the camera preview running. With
// EIDKIOSK_LONG=1 it also cycles visits for minutes and reports RSS.
func TestSmokeRealWindow(t *testing.T) {
	if testing.Short() {
		t.Skip("smoke test under Xvfb skipped in -short mode")
	}
	d := uitest.StartT(t, 1280, 800)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1") // EIDKIOSK_UI_FPS passes through
	s, err := uitest.StartProgram(ctx, d, cmd, uitest.Attract(NewTheme(font.Faces{}, false)))
	if s != nil && s.Shot != nil {
		p := filepath.Join(os.TempDir(), "eidkiosk-smoke-attract.png")
		if out := os.Getenv("EIDKIOSK_SMOKE_OUT"); out != "" {
			p = filepath.Join(out, "smoke-attract.png")
		}
		uitest.SavePNG(p, s.Shot)
		t.Logf("screenshot: %s", p)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	t.Logf("start to attract screen: %v (%s)", s.Ready.Round(time.Millisecond), regexp.MustCompile(`helper: [^\n]*`).FindString(s.Output.String()))

	time.Sleep(2 * time.Second)
	idle, err := s.Proc.CPUShare(ctx, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	rss, _ := s.Proc.RSS()
	t.Logf("idle on attract: CPU %.1f%% of a core, RSS %.1f MB", idle*100, float64(rss)/(1<<20))

	s.Signal(syscall.SIGUSR1)
	time.Sleep(time.Second)
	f0, _ := counters(t, s)
	t0 := time.Now()
	prev, err := s.Proc.CPUShare(ctx, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	f1, _ := counters(t, s)
	fps := float64(f1-f0) / time.Since(t0).Seconds()
	rss2, _ := s.Proc.RSS()
	t.Logf("face capture, 30 fps camera: %.1f preview fps drawn, CPU %.1f%% of a core, RSS %.1f MB", fps, prev*100, float64(rss2)/(1<<20))
	if f1 <= f0 {
		t.Errorf("no preview frames drawn in the real window (%d → %d)", f0, f1)
	}

	// Visits cycling through every screen in the real window. The short run
	// only reports (the first minute is warm-up: font glyphs, textures);
	// EIDKIOSK_LONG=1 runs 5 minutes and checks RSS is flat after the first.
	long := os.Getenv("EIDKIOSK_LONG") != ""
	dur, steps := 6*time.Second, 2
	if long {
		dur, steps = 5*time.Minute, 5
	}
	s.Signal(syscall.SIGHUP)
	time.Sleep(2 * time.Second)
	_, v0, h0 := countersHeap(t, s)
	r0, _ := s.Proc.RSS()
	var rFirst int64
	step := dur / time.Duration(steps)
	for i := 0; i < steps; i++ {
		time.Sleep(step)
		_, v, h := countersHeap(t, s)
		r, _ := s.Proc.RSS()
		if i == 0 {
			rFirst = r
		}
		t.Logf("  after %v: %d visits, RSS %.1f MB, Go heap %.1f MB", step*time.Duration(i+1), v-v0, float64(r)/(1<<20), float64(h)/(1<<20))
	}
	_, v1, h1 := countersHeap(t, s)
	r1, _ := s.Proc.RSS()
	t.Logf("real window soak: %d visits, RSS %.1f MB → %.1f MB, Go heap %.1f MB → %.1f MB", v1-v0, float64(r0)/(1<<20), float64(r1)/(1<<20), float64(h0)/(1<<20), float64(h1)/(1<<20))
	if v1 <= v0 {
		t.Error("no visits cycled")
	}
	// After the first minute RSS must stay flat: growth of more than 40 MB
	// over the next four is a leak (a frame or a texture per view).
	if long && r1-rFirst > 40<<20 {
		t.Errorf("RSS grew by %.1f MB after the first minute", float64(r1-rFirst)/(1<<20))
	}
	// Under -race the helper is race-instrumented too: its reports count.
	if out := s.Output.String(); strings.Contains(out, "WARNING: DATA RACE") {
		t.Errorf("data race in the real window:\n%s", out[strings.Index(out, "WARNING: DATA RACE"):])
	}
}
