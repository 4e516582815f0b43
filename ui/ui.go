// Package ui is the kiosk's Fyne touch UI: one screen per state of the
// visit (kiosk/session), in Simplified Chinese and English, with spoken
// prompts, the live camera preview with its face box, and technician mode
// behind a corner tap pattern and a PIN keypad.
//
// The UI only renders session.View values and sends session.Event values
// (Tap) to the engine: it holds no visit state and decides nothing. Render
// may be called from any goroutine and never blocks; widgets are built once
// and updated in place on the Fyne thread (fyne.Do). There are no text
// fields and no scroll containers on the citizen's path.
//
// It does not talk to hardware or the network: the camera preview comes
// through Preview, technician data through TechInfo, speech through Voice.
// Strings live in ui/i18n, the font in ui/font.
package ui

import (
	"context"
	"image"
	"image/color"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"eidkiosk/internal/clock"
	"eidkiosk/kiosk/session"
	"eidkiosk/ui/i18n"
)

// Engine is what the UI needs from the session engine (*session.Engine).
type Engine interface {
	Send(session.Event)
}

// Preview is the live camera picture. Preview copies the latest frame,
// resized to dst's size, into dst.Pix and returns its sequence number; ok is
// false when there is no frame. It must be cheap and must not block the
// face pipeline. PreviewSize is the size of the frames (for the aspect).
type Preview interface {
	Preview(dst *image.RGBA) (seq uint64, ok bool)
	PreviewSize() image.Point
}

// Voice speaks a prompt; *voice.Speaker implements it. Say must not block.
type Voice interface {
	Say(lang, text string)
	Stop()
}

// Options configures the UI.
type Options struct {
	Engine  Engine        // required: taps go here
	Preview Preview       // nil: face capture shows "camera picture not available"
	Tech    TechInfo      // nil: technician mode shows only what the View carries
	Voice   Voice         // nil: silent
	Catalog *i18n.Catalog // nil: the embedded translations
	Theme   *Theme        // for the UI's own colours; nil: NewTheme without fonts
	Clock   clock.Clock   // countdowns; nil: clock.Real
	Logger  *slog.Logger
	// Do runs f on the Fyne thread; nil: fyne.Do. Tests pass their own.
	Do func(f func())
	// PreviewFPS is the preview refresh rate; 0: 30.
	PreviewFPS int
	// PreviewMax bounds the preview buffer; zero: 640×480.
	PreviewMax image.Point
	// TechPoll is how often technician mode asks TechInfo; 0: 2 s.
	TechPoll time.Duration
	// NoTicker disables the countdown goroutine (tests call tick).
	NoTicker bool
}

// Window size the layout is designed for; larger screens get more room.
var DesignSize = fyne.NewSize(1280, 800)

// UI is the touch UI. Create it with New, put Content in a window (or use
// Show), and feed it views with Render.
type UI struct {
	o   Options
	cat *i18n.Catalog
	th  *Theme
	log *slog.Logger
	do  func(func())

	// Render hands views to the Fyne thread through next/pending.
	mu      sync.Mutex
	next    session.View
	pending bool
	closed  bool

	ctx    context.Context
	cancel context.CancelFunc

	// Owned by the Fyne thread from here on.
	cur     session.View
	applied bool
	lang    string
	root    *fyne.Container
	screens map[session.State]*screen
	shown   *screen

	header      *canvas.Rectangle
	title       *canvas.Text
	step        *canvas.Text
	countdown   *canvas.Text
	langBtn     button
	cancelBtn   button
	corner      *tapZone
	deadline    atomic.Int64 // unix nanos; 0: none
	challengeDL atomic.Int64

	attract    attractScreen
	cardWait   infoScreen
	reading    infoScreen
	data       dataScreen
	consent    consentScreen
	face       faceScreen
	review     reviewScreen
	sealing    infoScreen
	receipt    receiptScreen
	failed     faultScreen
	unavail    faultScreen
	tech       techScreen
	keypad     keypad
	prev       *previewView
	prompt     promptState
	techStop   context.CancelFunc
	bg         sync.WaitGroup // technician polling and self-test goroutines
	silhouette image.Image
	lastQRKey  string
}

// screen is one state's content and its action buttons.
type screen struct {
	content fyne.CanvasObject
	actions fyne.CanvasObject
}

// New builds every screen once. It needs a current Fyne app (app.New or
// test.NewApp) for fyne.Do and theme lookups at render time.
func New(o Options) *UI {
	if o.Catalog == nil {
		o.Catalog = i18n.MustLoad()
	}
	if o.Theme == nil {
		o.Theme = &Theme{p: paletteDefault}
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Do == nil {
		o.Do = fyne.Do
	}
	if o.PreviewFPS <= 0 {
		o.PreviewFPS = 30
	}
	if o.PreviewMax == (image.Point{}) {
		o.PreviewMax = image.Pt(640, 480)
	}
	if o.TechPoll <= 0 {
		o.TechPoll = 2 * time.Second
	}
	u := &UI{o: o, cat: o.Catalog, th: o.Theme, log: o.Logger.With("component", "ui"), lang: i18n.ZH}
	// After Close nothing reaches Fyne: a call queued before runs as a
	// no-op, so none lands after the app stopped (a refresh then wakes a
	// GLFW that is gone: "GLFW library is not initialized").
	u.do = func(f func()) {
		if u.isClosed() {
			return
		}
		o.Do(func() {
			if !u.isClosed() {
				f()
			}
		})
	}
	u.ctx, u.cancel = context.WithCancel(context.Background())
	u.build()
	u.apply(session.View{State: session.Attract, Lang: i18n.ZH, ReaderOK: true, CameraOK: true})
	if !o.NoTicker {
		go u.ticker()
	}
	return u
}

// Content is the UI's root object, to put in a window.
func (u *UI) Content() fyne.CanvasObject { return u.root }

// Show puts the UI in w as a kiosk window: full screen when asked, no
// padding, no main menu, and closing from the window manager refused.
func (u *UI) Show(w fyne.Window, fullscreen bool) {
	w.SetPadded(false)
	w.SetContent(u.root)
	w.SetCloseIntercept(func() { u.log.Info("window close refused (kiosk)") })
	if fullscreen {
		w.SetFullScreen(true)
	} else {
		w.Resize(DesignSize)
	}
	w.Show()
}

// Render shows v. It may be called from any goroutine (the engine's
// Options.OnView) and returns at once; when views come faster than the
// screen updates, only the latest is drawn.
func (u *UI) Render(v session.View) {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return
	}
	u.next = v
	queued := u.pending
	u.pending = true
	u.mu.Unlock()
	if !queued {
		u.do(u.flush)
	}
}

func (u *UI) flush() {
	u.mu.Lock()
	v := u.next
	u.pending = false
	closed := u.closed
	u.mu.Unlock()
	if !closed {
		u.apply(v)
	}
}

// Close stops the UI's goroutines (countdown, preview, technician polling).
func (u *UI) Close() {
	u.mu.Lock()
	u.closed = true
	u.mu.Unlock()
	u.cancel()
	if u.prev != nil {
		u.prev.shutdown()
	}
	if u.techStop != nil {
		u.techStop()
	}
}

// Detach cuts the UI off from Fyne at once, from any goroutine: nothing
// queued or to come reaches Fyne any more and the UI's goroutines stop.
// The kiosk calls it when its context ends, because Fyne quits by itself on
// SIGTERM and SIGINT: a call reaching Fyne after its loop ended runs off
// its thread on a terminated GLFW ("GLFW library is not initialized").
// Close must still follow.
func (u *UI) Detach() {
	u.mu.Lock()
	u.closed = true
	u.mu.Unlock()
	u.cancel()
}

// Wait waits for the UI's background work (technician polling, a running
// self-test) to return after Close, so that the kiosk's parts it uses can
// be closed next. Call it off the Fyne thread.
func (u *UI) Wait() { u.bg.Wait() }

func (u *UI) isClosed() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.closed
}

func (u *UI) send(ev session.Event) {
	if u.o.Engine != nil {
		u.o.Engine.Send(ev)
	}
}

func (u *UI) t(key string, args ...any) string { return u.cat.T(u.lang, key, args...) }

func (u *UI) build() {
	p := u.th.palette()
	u.silhouette = rasterIcon(iconSilhouette, 480, p.fg)
	u.header = canvas.NewRectangle(p.header)
	u.title = canvas.NewText("", p.onHeader)
	u.title.TextSize = sizeText
	u.title.TextStyle.Bold = true
	u.step = canvas.NewText("", p.onHeader)
	u.step.TextSize = sizeText
	u.countdown = canvas.NewText("", p.onHeader)
	u.countdown.TextSize = sizeSub
	u.countdown.TextStyle.Bold = true
	u.langBtn = newButton(nil, widget.MediumImportance, func() {
		u.send(session.Tap{Action: session.ActLanguage, Lang: i18n.Other(u.lang)})
	})
	u.langBtn.box = atLeast(u.langBtn.Button, 160, minTouch)
	u.corner = newTapZone(fyne.NewSize(140, 96), u.cornerTapped)
	leftPad := container.NewHBox(container.NewStack(container.NewPadded(container.NewCenter(u.title)), u.corner))
	right := container.NewHBox(container.NewCenter(u.countdown), widgetSpacer(24), container.NewCenter(u.langBtn.box))
	bar := container.NewBorder(nil, nil, leftPad, container.NewPadded(right), container.NewCenter(u.step))
	top := container.NewStack(u.header, atLeast(bar, 0, 96))

	u.cancelBtn = newButton(iconCancel, widget.MediumImportance, func() {
		u.send(session.Tap{Action: session.ActCancel})
	})

	u.screens = map[session.State]*screen{
		session.Attract:      u.attract.build(u),
		session.CardWait:     u.cardWait.build(u, iconReader),
		session.CardReading:  u.reading.build(u, iconCard),
		session.DataShown:    u.data.build(u),
		session.Consent:      u.consent.build(u),
		session.FaceCapture:  u.face.build(u),
		session.Review:       u.review.build(u),
		session.Sealing:      u.sealing.build(u, iconShield),
		session.ReceiptShown: u.receipt.build(u),
		session.Failed:       u.failed.build(u, true),
		session.Unavailable:  u.unavail.build(u, false),
		session.Technician:   u.tech.build(u),
	}
	var contents, actions []fyne.CanvasObject
	for _, s := range u.screens {
		s.content.Hide()
		contents = append(contents, s.content)
		if s.actions != nil {
			s.actions.Hide()
			actions = append(actions, s.actions)
		}
	}
	body := container.New(layout.NewCustomPaddedLayout(24, 16, 40, 40), container.NewStack(contents...))
	bottom := container.New(layout.NewCustomPaddedLayout(12, 24, 40, 40),
		container.NewBorder(nil, nil, u.cancelBtn.box, container.NewStack(actions...)))
	bg := canvas.NewRectangle(p.bg)
	main := container.NewBorder(top, bottom, nil, nil, body)
	u.root = container.NewStack(bg, main, u.keypad.build(u))
}

func widgetSpacer(w float32) fyne.CanvasObject {
	r := canvas.NewRectangle(color.Transparent)
	r.SetMinSize(fyne.NewSize(w, 1))
	return r
}

// stepOf numbers the visit's steps for the header.
func stepOf(s session.State) int {
	switch s {
	case session.CardWait, session.CardReading:
		return 1
	case session.DataShown:
		return 2
	case session.Consent:
		return 3
	case session.FaceCapture, session.Review:
		return 4
	case session.Sealing, session.ReceiptShown:
		return 5
	}
	return 0
}

const steps = 5

// apply updates the widgets to show v. Fyne thread only.
func (u *UI) apply(v session.View) {
	if v.Lang != i18n.ZH && v.Lang != i18n.EN {
		v.Lang = i18n.ZH
	}
	prev := u.cur
	u.cur = v
	u.lang = v.Lang
	first := !u.applied
	u.applied = true

	setText(u.title, u.t("app.title"))
	if n := stepOf(v.State); n > 0 {
		setText(u.step, u.t("common.step", n, steps))
	} else {
		setText(u.step, "")
	}
	u.langBtn.setText(u.cat.T(i18n.Other(v.Lang), "lang.name"))
	u.langBtn.show(v.State != session.Technician)
	switch v.State {
	case session.CardWait, session.CardReading, session.DataShown, session.Consent, session.FaceCapture, session.Review:
		u.cancelBtn.show(true)
	default:
		u.cancelBtn.show(false)
	}
	u.cancelBtn.setText(u.t("common.cancel"))

	if v.Deadline.IsZero() {
		u.deadline.Store(0)
	} else {
		u.deadline.Store(v.Deadline.UnixNano())
	}
	if v.State == session.FaceCapture && !v.Face.Deadline.IsZero() {
		u.challengeDL.Store(v.Face.Deadline.UnixNano())
	} else {
		u.challengeDL.Store(0)
	}

	s := u.screens[v.State]
	if s == nil {
		s = u.screens[session.Failed]
	}
	if s != u.shown {
		if u.shown != nil {
			u.shown.content.Hide()
			if u.shown.actions != nil {
				u.shown.actions.Hide()
			}
		}
		reveal(s.content)
		if s.actions != nil {
			reveal(s.actions)
		}
		u.shown = s
	}
	if v.State != session.Attract && v.State != session.Unavailable {
		u.keypad.hide()
	}

	switch v.State {
	case session.Attract:
		u.attract.apply(u, v)
	case session.CardWait:
		u.cardWait.apply(u, "card_wait")
	case session.CardReading:
		u.reading.apply(u, "card_reading")
	case session.DataShown:
		u.data.apply(u, v)
	case session.Consent:
		u.consent.apply(u)
	case session.FaceCapture:
		u.face.apply(u, v)
	case session.Review:
		u.review.apply(u, v)
	case session.Sealing:
		u.sealing.apply(u, "sealing")
	case session.ReceiptShown:
		u.receipt.apply(u, v)
	case session.Failed:
		u.failed.apply(u, v)
	case session.Unavailable:
		u.unavail.apply(u, v)
	case session.Technician:
		u.tech.apply(u, v)
	}
	u.keypad.apply(u)
	// Personal images leave the screen with their state.
	if v.State != session.DataShown || v.Card == nil {
		u.data.clear(u)
	}
	if v.State != session.Review {
		u.review.clear(u)
	}
	if v.State != session.ReceiptShown {
		u.receipt.clear(u)
	}

	// Live parts run only on their screens.
	if v.State == session.FaceCapture && (first || prev.State != session.FaceCapture) {
		u.prev.start(u)
	} else if v.State != session.FaceCapture && prev.State == session.FaceCapture {
		u.prev.stop()
	}
	if v.State == session.Technician && u.techStop == nil {
		u.startTechPoll()
	} else if v.State != session.Technician && u.techStop != nil {
		u.techStop()
		u.techStop = nil
	}

	u.tick()
	u.speak(v)
}

// ticker refreshes the countdowns a few times a second.
func (u *UI) ticker() {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-u.ctx.Done():
			return
		case <-t.C:
			if u.deadline.Load() == 0 && u.challengeDL.Load() == 0 {
				continue // nothing counts down (apply cleared the texts): no wake-up of the Fyne thread
			}
			u.do(u.tick)
		}
	}
}

// secsLeft rounds the time until deadline (unix nanos) up to seconds; -1 when none.
func (u *UI) secsLeft(dl int64) int {
	if dl == 0 {
		return -1
	}
	d := time.Unix(0, dl).Sub(u.o.Clock.Now())
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}

// tick updates the countdowns. Fyne thread only.
func (u *UI) tick() {
	secs := u.secsLeft(u.deadline.Load())
	if secs < 0 {
		setText(u.countdown, "")
	} else {
		setText(u.countdown, u.t("common.seconds", secs))
	}
	if cs := u.secsLeft(u.challengeDL.Load()); cs >= 0 && u.cur.Face.Challenge != "" {
		setLabel(u.face.challengeLeft, u.t("common.seconds", cs))
	} else {
		setLabel(u.face.challengeLeft, "")
	}
}

// State is the state of the view on screen (for tests and the smoke check).
// Fyne thread.
func (u *UI) State() session.State { return u.cur.State }

// PreviewFrames counts the camera frames drawn so far (for measurements).
func (u *UI) PreviewFrames() uint64 { return u.prev.frames.Load() }

// ThemeSize is the text size the UI's theme gives a size name ("" is the
// body text size); for accessibility checks.
func (u *UI) ThemeSize(n fyne.ThemeSizeName) float32 {
	if n == "" {
		n = theme.SizeNameText
	}
	return u.th.Size(n)
}
