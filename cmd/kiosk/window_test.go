package main

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"eidkiosk/kiosk/config"
	"eidkiosk/provisioning/techpin"
	"eidkiosk/sim/simstack"
	"eidkiosk/ui"
	"eidkiosk/ui/font"
	"eidkiosk/ui/shots"
	"eidkiosk/ui/uitest"
)

// techPIN is the technician PIN the tests set in the provisioned state.
const techPIN = "739146"

// kioskRun is the real kiosk binary running in a real window under Xvfb on
// the simulated surroundings (sim/simstack), driven with xdotool.
type kioskRun struct {
	t      *testing.T
	d      *uitest.Display
	st     *simstack.Stack
	cmd    *exec.Cmd
	out    *uitest.Buffer
	waited chan struct{}
	err    error // cmd.Wait's result once waited is closed
}

// startKiosk provisions a simulated stack with a technician PIN, starts the
// binary on d and waits for the attract screen.
func startKiosk(t *testing.T, ctx context.Context, bin string, d *uitest.Display) *kioskRun {
	t.Helper()
	st, err := simstack.Start(ctx, simstack.Options{Dir: filepath.Join(t.TempDir(), "sim")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := st.Config(config.Default())
	if err := techpin.Set(cfg.State.Dir, techPIN); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(st.Dir, "kiosk.toml")
	f, err := os.Create(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := toml.NewEncoder(f).Encode(cfg); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	k := &kioskRun{t: t, d: d, st: st, out: &uitest.Buffer{}, waited: make(chan struct{})}
	k.cmd = exec.Command(bin, "--config", cfgPath, "--windowed")
	k.cmd.Env = d.Env(append(os.Environ(), "LANG=zh_CN.UTF-8", "EIDKIOSK_TEST=1"))
	k.cmd.Stdout, k.cmd.Stderr = k.out, k.out
	if err := k.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { k.err = k.cmd.Wait(); close(k.waited) }()
	t.Cleanup(func() {
		select {
		case <-k.waited:
		default:
			k.cmd.Process.Kill()
			<-k.waited
		}
	})
	k.waitScreen(ctx, "the attract screen", uitest.Attract(ui.NewTheme(font.Faces{}, false)))
	return k
}

// waitScreen waits until a screenshot matches or the kiosk exits.
func (k *kioskRun) waitScreen(ctx context.Context, what string, match func(image.Image) bool) image.Image {
	k.t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	go func() {
		select {
		case <-k.waited:
			cancel()
		case <-wctx.Done():
		}
	}()
	img, _, err := k.d.WaitFor(wctx, match)
	if err != nil {
		if img != nil {
			p := filepath.Join(os.TempDir(), "eidkiosk-"+strings.ReplaceAll(k.t.Name(), "/", "-")+".png")
			uitest.SavePNG(p, img)
			k.t.Logf("last screenshot: %s", p)
		}
		k.t.Fatalf("waiting for %s: %v\nkiosk output:\n%s", what, err, tailOf(k.out.String(), 3000))
	}
	return img
}

// tap clicks the left button at (x, y) of the screen with xdotool: real X
// input events, which Fyne receives like a touch screen's.
// (No --sync: xdotool waits for a move that never comes when the pointer
// is already there.)
func (k *kioskRun) tap(x, y int) { k.taps(x, y, 1) }

// taps clicks n times at (x, y) in one xdotool run, 150 ms apart (five
// taps must fall within 3 s; on a loaded machine five xdotool starts may
// not).
func (k *kioskRun) taps(x, y, n int) {
	k.t.Helper()
	cmd := exec.Command("xdotool", "mousemove", fmt.Sprint(x), fmt.Sprint(y), "click", "--repeat", fmt.Sprint(n), "--delay", "150", "1")
	cmd.Env = k.d.Env(os.Environ())
	if out, err := cmd.CombinedOutput(); err != nil {
		k.t.Fatalf("xdotool: %v\n%s", err, out)
	}
	time.Sleep(150 * time.Millisecond) // a finger lifts between taps
}

// stop sends SIGTERM, as systemctl stop does, and asserts a clean exit:
// status 0 and no panic or Fyne error on stderr.
func (k *kioskRun) stop(state string) {
	k.t.Helper()
	if err := k.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		k.t.Fatal(err)
	}
	select {
	case <-k.waited:
	case <-time.After(30 * time.Second):
		k.cmd.Process.Kill()
		<-k.waited
		k.t.Fatalf("%s: the kiosk did not stop within 30 s of SIGTERM\n%s", state, tailOf(k.out.String(), 3000))
	}
	out := k.out.String()
	var ee *exec.ExitError
	if errors.As(k.err, &ee) || k.err != nil {
		k.t.Errorf("%s: SIGTERM: %v, want exit status 0\n%s", state, k.err, tailOf(out, 3000))
	}
	for _, bad := range []string{"panic:", "goroutine ", "Error in Fyne call thread", "GLFW library is not initialized"} {
		if strings.Contains(out, bad) {
			k.t.Errorf("%s: stderr after SIGTERM holds %q:\n%s", state, bad, tailOf(out, 3000))
			break
		}
	}
}

func tailOf(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// TestWindow builds the real kiosk binary and runs it in a real window
// under Xvfb on the simulated surroundings, driven with xdotool: the
// technician screen (see technicianScreen) and SIGTERM in each state (see
// stopCleanly).
func TestWindow(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the whole kiosk")
	}
	if _, err := exec.LookPath("xdotool"); err != nil {
		t.Skip("xdotool not installed (make deps)")
	}
	bin := filepath.Join(t.TempDir(), "kiosk")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	d := uitest.StartT(t, 1280, 800)
	ref := renderReference(t)
	t.Run("Technician", func(t *testing.T) { technicianScreen(t, bin, d, ref) })
	t.Run("Stop", func(t *testing.T) { stopCleanly(t, bin, d, ref) })
}

// stopCleanly: SIGTERM to the real kiosk with its window, in each state.
func stopCleanly(t *testing.T, bin string, d *uitest.Display, ref reference) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	t.Run("Attract", func(t *testing.T) {
		k := startKiosk(t, ctx, bin, d)
		k.stop("attract")
	})
	t.Run("MidVisit", func(t *testing.T) {
		k := startKiosk(t, ctx, bin, d)
		if err := k.st.Reader.Place(0); err != nil {
			t.Fatal(err)
		}
		isAttract := uitest.Attract(ui.NewTheme(font.Faces{}, false))
		k.waitScreen(ctx, "the card's data", func(img image.Image) bool { return !isAttract(img) })
		k.stop("mid-visit")
	})
	t.Run("Technician", func(t *testing.T) {
		k := startKiosk(t, ctx, bin, d)
		k.enterTechnician(ctx, ref)
		k.tap(runSelfTest.X, runSelfTest.Y) // stop while the self-test runs
		k.stop("technician")
	})
	t.Run("Sealing", func(t *testing.T) {
		// A whole visit by taps: the card's data, the notice, the face
		// (the webcam recording through OpenCV), the photo accepted; the
		// stop comes as the sealing starts.
		k := startKiosk(t, ctx, bin, d)
		if err := k.st.Reader.Place(0); err != nil {
			t.Fatal(err)
		}
		k.waitScreen(ctx, "the card's data", regionLike(ref.data, primaryLabel))
		k.tap(primary.X, primary.Y) // 是我本人
		k.waitScreen(ctx, "the privacy notice", regionLike(ref.consent, primaryLabel))
		k.tap(primary.X, primary.Y) // 同意并继续
		k.waitScreen(ctx, "the photo to confirm", regionLike(ref.review, primaryLabel))
		k.tap(primary.X, primary.Y) // 使用这张照片
		k.stop("sealing")
	})
}

// technicianScreen drives the real kiosk to technician mode with real
// input events (five taps on the corner, the PIN on the keypad) and reads
// the screen against the UI's own rendering of it: every check of the
// self-test has its row, before and after "run self-test" (which leaves no
// check untested), and the log lines read "HH:MM:SS level message".
func technicianScreen(t *testing.T, bin string, d *uitest.Display, ref reference) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	k := startKiosk(t, ctx, bin, d)
	k.enterTechnician(ctx, ref)
	rows := func(img image.Image) []string {
		var kinds []string
		for i := 0; i < checkCount+1; i++ {
			kinds = append(kinds, iconKind(img, ref.tech, i))
		}
		return kinds
	}
	allRows := func(img image.Image) bool {
		kinds := rows(img)
		for _, k := range kinds[:checkCount] {
			if k == "" {
				return false
			}
		}
		// Eight rows and not nine: the log tile's heading sits below the eighth.
		return kinds[checkCount] == "" && sameShare(img, ref.tech, techLogHead, 48) >= 0.95
	}
	img := k.waitScreen(ctx, "eight check rows", allRows)
	t.Logf("before the self-test: %v", rows(img)[:checkCount])
	k.tap(runSelfTest.X, runSelfTest.Y)
	img = k.waitScreen(ctx, "the self-test's results in all eight rows", func(img image.Image) bool {
		if !allRows(img) {
			return false
		}
		for _, k := range rows(img)[:checkCount] {
			if k == "untested" {
				return false
			}
		}
		return true
	})
	t.Logf("after the self-test: %v", rows(img)[:checkCount])
	readable := 0
	for i := 0; i < logLines; i++ {
		if readableLogLine(img, ref.tech, i) {
			readable++
		} else if ink(img, timeColumn.Add(image.Pt(0, logRow0+i*rowPitch))) > 0 {
			p := filepath.Join(t.TempDir(), "technician.png")
			uitest.SavePNG(p, img)
			t.Errorf("log line %d does not read \"HH:MM:SS level message\" (screenshot %s)", i, p)
		}
	}
	if readable < 3 {
		t.Errorf("%d readable log lines, want at least 3", readable)
	}
	if p := os.Getenv("EIDKIOSK_SMOKE_SHOT"); p != "" {
		uitest.SavePNG(strings.TrimSuffix(p, ".png")+"-technician.png", img)
	}
	k.stop("technician, after the self-test")
}

// Where the PIN keypad's keys are on the 1280×800 screen (the shot
// 01-attract-keypad shows the same layout).
var keypadKeys = map[byte]image.Point{
	'1': {488, 303}, '2': {640, 303}, '3': {792, 303},
	'4': {488, 399}, '5': {640, 399}, '6': {792, 399},
	'7': {488, 495}, '8': {640, 495}, '9': {792, 495},
	'0': {640, 591},
}

// Places on the 1280×800 screen. The regions are the same in the real
// window and in the UI's own rendering of the same screen (ui/shots,
// Fyne's software driver): Fyne rasterises text in software in both
// drivers, with the same font.
var (
	keypadTitle  = image.Rect(500, 95, 780, 150)   // "请输入维护密码"
	techTitle    = image.Rect(40, 140, 330, 220)   // the gear and "技术维护"
	techLogHead  = image.Rect(52, 588, 140, 616)   // "最近日志", below eight check rows
	runSelfTest  = image.Pt(853, 740)              // the "重新自检" button
	enterKey     = image.Pt(754, 686)              // the keypad's "进入"
	primary      = image.Pt(1080, 740)             // a visit screen's main button, bottom right
	primaryLabel = image.Rect(960, 712, 1220, 768) // the main button's label: 是我本人, 同意并继续, 使用这张照片
	iconColumn   = image.Rect(58, 0, 90, 24)       // a check row's icon, moved to its row
	levelColumn  = image.Rect(136, 0, 180, 24)     // a log line's level word, after "HH:MM:SS "
	timeColumn   = image.Rect(56, 0, 132, 24)      // a log line's "HH:MM:SS"
)

const (
	checkRow0 = 292 // top of the first check row
	logRow0   = 620 // top of the first log line
	rowPitch  = 32  // sizeCaption × 1.6
	// checkCount is what `kioskctl selftest` runs on a provisioned kiosk:
	// disk space, certificate, authority (mTLS), clock, reader, gpio,
	// enclosure, camera.
	checkCount = 8
	// logLines is how many log lines fit below the eight checks.
	logLines = 5
)

// reference is the UI's own pictures at 1280×800 of the screens the test
// reads: the keypad, the technician screen (its sample data has eight
// checks too) and three steps of a visit.
type reference struct{ keypad, tech, data, consent, review image.Image }

func renderReference(t *testing.T) reference {
	t.Helper()
	faces, err := font.Prepare(font.Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Skipf("no SC font: %v", err)
	}
	r := shots.NewRenderer(faces, false)
	var ref reference
	for _, s := range shots.Catalogue() {
		switch s.Name {
		case "01-attract-keypad":
			ref.keypad, err = r.Render(s, "zh-CN")
		case "12-technician":
			ref.tech, err = r.Render(s, "zh-CN")
		case "04-data-shown":
			ref.data, err = r.Render(s, "zh-CN")
		case "05-consent":
			ref.consent, err = r.Render(s, "zh-CN")
		case "07-review":
			ref.review, err = r.Render(s, "zh-CN")
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if ref.keypad == nil || ref.tech == nil || ref.data == nil || ref.consent == nil || ref.review == nil {
		t.Fatal("shots: a screen the test reads is missing from the catalogue")
	}
	return ref
}

// enterTechnician taps the top-left corner five times, types the PIN on
// the keypad and waits for the technician screen.
func (k *kioskRun) enterTechnician(ctx context.Context, ref reference) {
	k.t.Helper()
	k.taps(70, 48, 5)
	k.waitScreen(ctx, "the PIN keypad", regionLike(ref.keypad, keypadTitle))
	for i := 0; i < len(techPIN); i++ {
		p := keypadKeys[techPIN[i]]
		k.tap(p.X, p.Y)
	}
	k.tap(enterKey.X, enterKey.Y)
	k.waitScreen(ctx, "the technician screen", regionLike(ref.tech, techTitle))
}

// regionLike matches a screenshot whose pixels in r are those of ref.
func regionLike(ref image.Image, r image.Rectangle) func(image.Image) bool {
	return func(img image.Image) bool { return sameShare(img, ref, r, 48) >= 0.97 }
}

// iconKind says which of the reference's check icons the icon of check
// row i of img is: "pass" (✓), "fail" (!), "untested" (?), or "" none.
func iconKind(img, ref image.Image, i int) string {
	at := iconColumn.Add(image.Pt(0, checkRow0+i*rowPitch))
	if ink(img, at) < 20 {
		return ""
	}
	// The reference's rows (shots.SampleTech): 0 passed, 2 failed, 3 untested.
	best, kind := -1.0, ""
	for _, c := range []struct {
		row  int
		kind string
	}{{0, "pass"}, {2, "fail"}, {3, "untested"}} {
		if s := sameShareAt(img, at, ref, iconColumn.Add(image.Pt(0, checkRow0+c.row*rowPitch)), 48); s > best {
			best, kind = s, c.kind
		}
	}
	return kind
}

// ink counts the dark pixels in r.
func ink(img image.Image, r image.Rectangle) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if color.GrayModel.Convert(img.At(x, y)).(color.Gray).Y < 110 {
				n++
			}
		}
	}
	return n
}

// readableLogLine says whether log line i of img starts as the reference's
// lines do: "HH:MM:SS" (Noto's digits are all as wide, so the time ends
// where the reference's does), then a level word the reference shows
// ("信息" or "警告") at the same place. A raw JSON line ({"time":"2026-…)
// or a time the digit masker turned into [redacted] does not.
func readableLogLine(img, ref image.Image, i int) bool {
	dy := image.Pt(0, logRow0+i*rowPitch)
	if ink(img, timeColumn.Add(dy)) < 40 {
		return false
	}
	lv := levelColumn.Add(dy)
	for _, row := range []int{0, 2} { // 信息, 警告
		if sameShareAt(img, lv, ref, levelColumn.Add(image.Pt(0, logRow0+row*rowPitch)), 48) >= 0.95 {
			return true
		}
	}
	return false
}

// sameShare is the share of pixels in r whose colours in a and b differ by
// at most tol in every channel.
func sameShare(a, b image.Image, r image.Rectangle, tol int) float64 {
	return sameShareAt(a, r, b, r, tol)
}

// sameShareAt compares region ra of a with the region of b of the same
// size at rb.Min, allowing the two to be up to 3 pixels apart (the GL
// driver and the software one may round a position differently): the best
// share over those shifts.
func sameShareAt(a image.Image, ra image.Rectangle, b image.Image, rb image.Rectangle, tol int) float64 {
	best := 0.0
	for dy := -3; dy <= 3; dy++ {
		for dx := -3; dx <= 3; dx++ {
			best = max(best, sameShareShift(a, ra, b, rb.Add(image.Pt(dx, dy)), tol))
		}
	}
	return best
}

func sameShareShift(a image.Image, ra image.Rectangle, b image.Image, rb image.Rectangle, tol int) float64 {
	same, n := 0, 0
	d := rb.Min.Sub(ra.Min)
	for y := ra.Min.Y; y < ra.Max.Y; y++ {
		for x := ra.Min.X; x < ra.Max.X; x++ {
			n++
			if uitest.Near(a.At(x, y), color.NRGBAModel.Convert(b.At(x+d.X, y+d.Y)).(color.NRGBA), tol) {
				same++
			}
		}
	}
	if n == 0 {
		return 0
	}
	return float64(same) / float64(n)
}
