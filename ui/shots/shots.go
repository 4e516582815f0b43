// Package shots renders every screen of the touch UI offscreen, in both
// languages, from sample session.View values: the golden tests compare
// against these renderings and `kioskctl screenshots` writes them to
// docs/screens. It uses Fyne's software test driver, so it needs no display.
//
// The samples are synthetic: masked sample names, a drawn face, no real
// person. It does not drive the session engine (see ui's tests for that).
package shots

import (
	"context"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"eidkiosk/idcard"
	"eidkiosk/internal/atomicfile"
	"eidkiosk/internal/clock"
	"eidkiosk/kiosk/session"
	"eidkiosk/ui"
	"eidkiosk/ui/font"
	"eidkiosk/ui/i18n"
	"eidkiosk/ui/techstatus"
)

// Now is the fixed time of every sample; deadlines count from it.
var Now = time.Date(2026, 3, 9, 10, 30, 0, 0, time.FixedZone("CST", 8*3600))

// Shot is one screen to render.
type Shot struct {
	Name   string
	View   session.View
	Keypad bool // open the technician PIN keypad (tapping the corner)
}

// Catalogue lists every screen: each state, each fault, the notable variants.
func Catalogue() []Shot {
	card := &session.CardView{Kind: idcard.KindResident, Name: "禤*", NameEN: "XUAN *", Number: "4401**********123X",
		Gender: "2", BirthYear: 1956, ValidTo: time.Date(2031, 5, 1, 0, 0, 0, 0, time.UTC)}
	cardPhoto := *card
	cardPhoto.Name = "䶮*"
	cardPhoto.Gender = "1"
	cardPhoto.NoExpiry = true
	cardPhoto.Photo = CardPhoto()
	dl := func(s int) time.Time { return Now.Add(time.Duration(s) * time.Second) }
	box := image.Rect(250, 110, 400, 310)
	frame := image.Pt(640, 480)
	v := func(s session.State) session.View {
		return session.View{State: s, ReaderOK: true, CameraOK: true, Attempts: 3, Attempt: 1}
	}
	var out []Shot
	add := func(name string, x session.View) { out = append(out, Shot{Name: name, View: x}) }

	add("01-attract", v(session.Attract))
	a := v(session.Attract)
	a.Notice = "technician.pin_wrong"
	add("01-attract-pin-wrong", a)
	out = append(out, Shot{Name: "01-attract-keypad", View: v(session.Attract), Keypad: true})
	x := v(session.CardWait)
	x.Deadline = dl(45)
	add("02-card-wait", x)
	x = v(session.CardReading)
	x.Deadline = dl(9)
	add("03-card-reading", x)
	x = v(session.DataShown)
	x.Deadline, x.Card = dl(58), card
	add("04-data-shown", x)
	x.Card = &cardPhoto
	add("04-data-shown-photo", x)
	x = v(session.Consent)
	x.Deadline = dl(110)
	add("05-consent", x)
	x = v(session.FaceCapture)
	x.Deadline = dl(52)
	x.Face = session.FaceProgress{Frame: frame, Guidance: []string{"face.move_closer"}}
	add("06-face-guidance", x)
	x.Face = session.FaceProgress{Frame: frame, Box: box, Challenge: "challenge.blink", Step: 1, Steps: 2, Deadline: dl(6)}
	add("06-face-challenge", x)
	x.Face = session.FaceProgress{Frame: frame, Box: box, Challenge: "challenge.wink_twice", Step: 2, Steps: 2, Deadline: dl(7)}
	add("06-face-unknown-challenge", x)
	x = v(session.FaceCapture)
	x.Deadline, x.Retry, x.Attempt = dl(59), true, 2
	x.Face = session.FaceProgress{Frame: frame}
	add("06-face-retry", x)
	x = v(session.Review)
	x.Deadline, x.Portrait = dl(40), Portrait()
	add("07-review", x)
	x.Attempt = 3
	add("07-review-last", x)
	x = v(session.Sealing)
	x.Deadline = dl(28)
	add("08-sealing", x)
	rec := &session.Receipt{EnrollmentID: "01JNV6Z8K3Q9D", Short: "NS01-7K3Q-9D", QR: "eid://bind/01JNV6Z8K3Q9D?c=7K3Q9D&s=NS01", Queued: Now, Sent: true}
	x = v(session.ReceiptShown)
	x.Deadline, x.Receipt = dl(60), rec
	add("09-receipt-sent", x)
	q := *rec
	q.Sent = false
	x.Receipt = &q
	add("09-receipt-queued", x)
	for _, f := range []session.FaultKind{session.FaultReader, session.FaultCamera, session.FaultCardUnread,
		session.FaultCardExpired, session.FaultCardInvalid, session.FaultCardRemovedEarly, session.FaultNotMe,
		session.FaultDeclined, session.FaultLiveness, session.FaultQuality, session.FaultSeal, session.FaultTimeout,
		session.FaultCanceled} {
		x = v(session.Failed)
		x.Fault, x.Deadline = f, dl(20)
		add("10-failed-"+f.String(), x)
	}
	for _, f := range []session.FaultKind{session.FaultOutboxFull, session.FaultOutboxStale, session.FaultDisabled, session.FaultTamper, session.FaultUpdating} {
		x = v(session.Unavailable)
		x.Fault = f
		x.Tampered = f == session.FaultTamper
		add("11-unavailable-"+f.String(), x)
	}
	x = v(session.Technician)
	x.Deadline, x.Visits = dl(300), 17
	add("12-technician", x)
	x.Tampered = true
	add("12-technician-tampered", x)
	return out
}

// SampleTech is technician data for the screenshots, in the shape the
// running kiosk fills (kiosk/app System.Tech): the eight checks of its
// self-test with the values they measure, states as codes, log lines
// taken apart from the kiosk's log.
type SampleTech struct{}

// TechStatus implements ui.TechInfo.
func (SampleTech) TechStatus(context.Context) ui.TechStatus {
	at := func(h, m, s int) time.Time { return time.Date(2026, 3, 9, h, m, s, 0, Now.Location()) }
	return ui.TechStatus{
		Version: "1.4.2", Slot: "B",
		Checks: []ui.Check{
			{Name: "disk space", Status: techstatus.Pass, At: Now, Detail: "12.3 GiB free"},
			{Name: "certificate", Status: techstatus.Pass, At: Now, Detail: "valid until 2027-03-09 (365 days left)"},
			{Name: "authority (mTLS)", Status: techstatus.Fail, At: Now, Detail: "dial tcp: connection refused", Fix: "check the network cable"},
			{Name: "clock", Status: techstatus.Untested},
			{Name: "reader", Status: techstatus.Pass, At: Now, Detail: "SAM 05.01 answers on /dev/ttyUSB0"},
			{Name: "gpio", Status: techstatus.Skip, At: Now, Detail: "no GPIO peripherals on this board"},
			{Name: "enclosure", Status: techstatus.Pass, At: Now, Detail: "closed; tamper switch wired"},
			{Name: "camera", Status: techstatus.Pass, At: Now, Detail: "/dev/video0 delivers frames (1280x720)"},
		},
		Outbox: ui.OutboxStatus{Depth: 3, Oldest: 42 * time.Minute, Uplink: techstatus.UplinkOffline, Sent: 14,
			Reason: "connection refused", LastAck: Now.Add(-50 * time.Minute)},
		Update:  ui.UpdateStatus{Phase: "idle", Available: "1.4.3", LeaseHolder: "kiosk-0042", LeaseUntil: at(2, 0, 0)},
		Reader:  techstatus.Reader{Port: "/dev/ttyUSB0", OK: true},
		Camera:  techstatus.Camera{Present: true, OK: true, Width: 1280, Height: 720, Frames: 53120, Faults: 0},
		GPIO:    techstatus.GPIO{Present: true, Mode: "idle"},
		Quality: []session.Measure{{Name: "sharpness", Value: 0.71, Threshold: 0.4, Pass: true}, {Name: "brightness", Value: 0.55, Threshold: 0.3, Pass: true}},
		Log: []ui.LogLine{
			{At: at(10, 12, 3), Level: "INFO", Msg: "visit started"},
			{At: at(10, 13, 40), Level: "INFO", Msg: "enrollment saved", Fields: []techstatus.Field{{Key: "sent", Value: "false"}}},
			{At: at(10, 13, 41), Level: "WARN", Msg: "uplink: upload failed", Fields: []techstatus.Field{{Key: "err", Value: "connection refused"}}},
			{At: at(10, 20, 0), Level: "INFO", Msg: "update: no new release"},
			{At: at(10, 29, 51), Level: "INFO", Msg: "technician mode entered"},
		},
	}
}

// SelfTest implements ui.TechInfo.
func (s SampleTech) SelfTest(ctx context.Context) []ui.Check { return s.TechStatus(ctx).Checks }

// Renderer renders shots offscreen with the kiosk theme.
type Renderer struct {
	app   fyne.App
	theme *ui.Theme
	size  fyne.Size
	// Scale is the canvas scale: 1 draws 1280×800 pixels, 0.5 draws 640×400.
	Scale float32
}

// NewRenderer sets up Fyne's test app with the kiosk theme (faces from
// font.Prepare). Only one Renderer may be used at a time (the test app is
// global).
func NewRenderer(faces font.Faces, highContrast bool) *Renderer {
	a := test.NewApp()
	th := ui.NewTheme(faces, highContrast)
	a.Settings().SetTheme(th)
	return &Renderer{app: a, theme: th, size: ui.DesignSize, Scale: 1}
}

// Theme is the renderer's theme.
func (r *Renderer) Theme() *ui.Theme { return r.theme }

// Screen is one shot set up in an offscreen window.
type Screen struct {
	UI     *ui.UI
	Window fyne.Window
	close  func()
}

// Close releases the screen.
func (s *Screen) Close() { s.close() }

// Capture lays the window out again and draws it.
func (s *Screen) Capture() image.Image {
	// Fyne's test canvas does not re-lay out containers whose children
	// changed size (the real driver does each frame): do it before capturing.
	s.Window.Content().Refresh()
	return s.Window.Canvas().Capture()
}

// Build shows one shot in lang in an offscreen window.
func (r *Renderer) Build(s Shot, lang string) (*Screen, error) {
	q := ui.NewQueue()
	fc := clock.NewFake(Now)
	prev := NewSynthetic(640, 480, 30)
	prev.Still = true
	// Functions queued after the technician status was served mark it shown.
	var served, shown atomic.Bool
	do := func(f func()) {
		if served.Load() {
			q.Do(func() { f(); shown.Store(true) })
			return
		}
		q.Do(f)
	}
	u := ui.New(ui.Options{Engine: nopEngine{}, Theme: r.theme, Clock: fc, Do: do, NoTicker: true,
		Preview: prev, Tech: notifyTech{&served}, TechPoll: time.Hour})
	w := test.NewWindow(u.Content())
	sc := &Screen{UI: u, Window: w, close: func() { u.Close(); w.Close() }}
	if c, ok := w.Canvas().(test.WindowlessCanvas); ok && r.Scale > 0 {
		c.SetScale(r.Scale)
	}
	w.SetPadded(false)
	w.Resize(r.size)
	v := s.View
	v.Lang = lang
	v.Seq = 1
	u.Render(v)
	q.Drain()
	if s.Keypad {
		for i := 0; i < 5; i++ {
			test.TapCanvas(w.Canvas(), fyne.NewPos(20, 20))
		}
	}
	if v.State == session.FaceCapture {
		if !q.DrainUntil(func() bool { return u.PreviewFrames() > 0 }, 5*time.Second) {
			sc.Close()
			return nil, fmt.Errorf("shots: %s: no preview frame drawn", s.Name)
		}
	}
	if v.State == session.Technician {
		// The first technician status arrives from the polling goroutine.
		if !q.DrainUntil(shown.Load, 5*time.Second) {
			sc.Close()
			return nil, fmt.Errorf("shots: %s: technician status not shown", s.Name)
		}
	}
	q.Drain()
	return sc, nil
}

// Render draws one shot in lang.
func (r *Renderer) Render(s Shot, lang string) (image.Image, error) {
	sc, err := r.Build(s, lang)
	if err != nil {
		return nil, err
	}
	defer sc.Close()
	return sc.Capture(), nil
}

// notifyTech is SampleTech telling when it served a status.
type notifyTech struct{ served *atomic.Bool }

func (n notifyTech) TechStatus(ctx context.Context) ui.TechStatus {
	st := SampleTech{}.TechStatus(ctx)
	n.served.Store(true)
	return st
}

func (n notifyTech) SelfTest(ctx context.Context) []ui.Check { return SampleTech{}.SelfTest(ctx) }

type nopEngine struct{}

func (nopEngine) Send(session.Event) {}

// WriteAll renders every shot in both languages as dir/NAME.LANG.png and
// reports each file through progress (may be nil). It stops when ctx ends.
func WriteAll(ctx context.Context, dir string, faces font.Faces, progress func(path string)) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("shots: %w", err)
	}
	r := NewRenderer(faces, false)
	var paths []string
	for _, s := range Catalogue() {
		for _, l := range i18n.Langs {
			if err := ctx.Err(); err != nil {
				return paths, fmt.Errorf("shots: %w", err)
			}
			img, err := r.Render(s, l)
			if err != nil {
				return paths, err
			}
			p := filepath.Join(dir, s.Name+"."+l+".png")
			if err := writePNG(p, img); err != nil {
				return paths, err
			}
			paths = append(paths, p)
			if progress != nil {
				progress(p)
			}
		}
	}
	return paths, nil
}

func writePNG(path string, img image.Image) error {
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := atomicfile.WriteFunc(path, 0o644, func(w io.Writer) error { return enc.Encode(w, img) }); err != nil {
		return fmt.Errorf("shots: %s: %w", path, err)
	}
	return nil
}
