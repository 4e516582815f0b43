// Package kioskui puts the touch UI (package ui) in a real Fyne window for a
// running kiosk (kiosk/app): it prepares the Simplified Chinese font, the
// theme and the voice, feeds the UI the engine's views, and adapts the
// kiosk's state for technician mode. Fyne must own the main thread, so Run
// is called from main and returns when the kiosk stops.
//
// It holds no visit logic; see kiosk/session for that and package ui for the
// screens. It starts no virtual display: the demo's Xvfb is sim/xvfb, kept
// out of the appliance.
package kioskui

import (
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"

	"eidkiosk/kiosk/app"
	"eidkiosk/kiosk/session"
	"eidkiosk/ui"
	"eidkiosk/ui/font"
	"eidkiosk/ui/voice"
)

// Options shape the window.
type Options struct {
	Fullscreen bool
	// Ready is called on the Fyne thread once the window shows.
	Ready func(w fyne.Window)
	// Exit, when set, ends the process once the kiosk has stopped (err is
	// why; nil after SIGTERM or SIGINT): it closes what the caller opened
	// and calls os.Exit. Run then owns SIGTERM and SIGINT, and Fyne's own
	// teardown never runs: Fyne quits by itself on those signals, and
	// Fyne 2.7.1's quit races its stop hook against its closing queue
	// ("panic: send on closed channel", exit status 2). The appliance
	// (cmd/kiosk) sets it; nil: Run quits the app and returns (the demo).
	Exit func(err error)
}

// Kiosk is the UI of one kiosk.
type Kiosk struct {
	App    fyne.App
	Window fyne.Window
	UI     *ui.UI
	sys    *app.System
	voice  *voice.Speaker
}

// New prepares the font, theme, voice and window. A missing font is an
// error naming the package to install.
func New(sys *app.System) (*Kiosk, error) {
	cfg := sys.Config
	cache := cfg.UI.FontCache
	if cache == "" {
		cache = filepath.Join(cfg.State.Dir, "fonts")
	}
	faces, err := font.Prepare(font.Options{Configured: cfg.UI.Font, CacheDir: cache})
	if err != nil {
		return nil, fmt.Errorf("kioskui: %w", err)
	}
	th := ui.NewTheme(faces, cfg.UI.HighContrast)
	a := ui.NewApp(th)
	sp := voice.New(voice.Options{Enabled: cfg.UI.Voice, Speed: cfg.UI.VoiceSpeed, Logger: sys.Logger()})
	var pv ui.Preview
	if p, ok := sys.Face.(ui.Preview); ok {
		pv = p
	}
	u := ui.New(ui.Options{Engine: sys.Engine, Preview: pv, Tech: tech{sys}, Voice: sp, Theme: th,
		Logger: sys.Logger(), PreviewFPS: cfg.UI.PreviewFPS})
	w := a.NewWindow("eidkiosk")
	k := &Kiosk{App: a, Window: w, UI: u, sys: sys, voice: sp}
	sys.AddViewObserver(u.Render)
	u.Render(sys.Engine.View())
	return k, nil
}

// Run shows the window and runs the kiosk until ctx ends or the kiosk stops;
// it must be called on the main goroutine.
func (k *Kiosk) Run(ctx context.Context, o Options) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if o.Exit != nil {
		k.App.Lifecycle().SetOnStarted(func() { k.takeSignals(ctx, cancel) })
	}
	errc := make(chan error, 1)
	go func() {
		// SIGTERM ends ctx (and, without Exit, makes Fyne quit by itself
		// at the same time): the UI lets go of Fyne first thing.
		<-ctx.Done()
		k.UI.Detach()
	}()
	go func() {
		err := k.sys.Run(ctx)
		if o.Exit != nil {
			// The UI stops on the Fyne thread, which then keeps running
			// until the process exits.
			fyne.DoAndWait(k.UI.Close)
			k.UI.Wait()
			k.voice.Close()
			o.Exit(err)
			return
		}
		errc <- err
		// The UI stops on the Fyne thread before the app does: after
		// App.Run returns, GLFW is gone and no Fyne call may follow.
		fyne.Do(func() {
			k.UI.Close()
			k.App.Quit()
		})
	}()
	k.show(o.Fullscreen)
	if o.Ready != nil {
		go func() {
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
				fyne.Do(func() {
					if ctx.Err() == nil {
						o.Ready(k.Window)
					}
				})
			}
		}()
	}
	k.App.Run()
	cancel()
	err := <-errc
	k.UI.Close() // no-op when the kiosk stopped first; else stops the goroutines
	k.UI.Wait()
	k.voice.Close()
	return err
}

// takeSignals makes SIGTERM and SIGINT stop the kiosk and nothing else:
// Fyne's driver registered its own handler (it quits the app) when Run
// started, before the loop calls OnStarted; signal.Reset drops every
// handler of the two, and the kiosk's own follows at once.
func (k *Kiosk) takeSignals(ctx context.Context, stop context.CancelFunc) {
	sig := make(chan os.Signal, 1)
	take := func() {
		signal.Reset(syscall.SIGTERM, os.Interrupt)
		signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	}
	take()
	go func() {
		// Again, in case Fyne's goroutine registered after OnStarted (its
		// start is not ordered with the loop's).
		for _, d := range []time.Duration{200 * time.Millisecond, time.Second, 3 * time.Second} {
			select {
			case <-time.After(d):
				take()
			case <-ctx.Done():
				return
			}
		}
		select {
		case s := <-sig:
			k.sys.Logger().Info("stopping", "signal", s.String())
			stop()
		case <-ctx.Done():
		}
	}()
}

// Screenshot writes the window's current picture as PNG; call it on the
// Fyne thread (inside fyne.Do).
func Screenshot(w fyne.Window, path string) error {
	img := w.Canvas().Capture()
	return writePNG(path, img)
}

func writePNG(path string, img image.Image) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// tech adapts the kiosk's state to technician mode.
type tech struct{ s *app.System }

func (t tech) TechStatus(ctx context.Context) ui.TechStatus { return t.s.Tech() }

// SelfTest runs the kiosk's whole self-test; the kiosk keeps the report, so
// its checklist is the one every later TechStatus shows.
func (t tech) SelfTest(ctx context.Context) []ui.Check {
	t.s.SelfTest(ctx, nil)
	return t.s.Tech().Checks
}

var _ ui.TechInfo = tech{}
var _ = session.Attract

// show puts the UI in the window. The UI's minimum size may exceed the
// 1280×800 it is designed for (hidden widgets count, and Fyne grows a
// window to its content's minimum): capped here, the window stays on the
// screen and every screen is laid out at the size its golden image shows.
func (k *Kiosk) show(fullscreen bool) {
	w := k.Window
	w.SetPadded(false)
	w.SetContent(container.New(capLayout{max: ui.DesignSize}, k.UI.Content()))
	w.SetCloseIntercept(func() { k.sys.Logger().Info("window close refused (kiosk)") })
	if fullscreen {
		w.SetFullScreen(true)
	} else {
		w.Resize(ui.DesignSize)
	}
	w.Show()
}

// capLayout fills its container with its objects and reports a minimum no
// larger than max.
type capLayout struct{ max fyne.Size }

func (l capLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(size)
	}
}

func (l capLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var m fyne.Size
	for _, o := range objs {
		m = m.Max(o.MinSize())
	}
	return fyne.NewSize(min(m.Width, l.max.Width), min(m.Height, l.max.Height))
}
