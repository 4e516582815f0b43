// Package simkiosk runs the whole kiosk — the real System (kiosk/app) and,
// unless headless, its real touch UI window (ui/kioskui) — on the simulated
// stack (sim/simstack: the reference authority on loopback, a provisioned
// state directory, the GA 467 reader simulator on a pty, the webcam
// recording as camera, gpiotest pins). It hands the reader simulator's
// console (drivers/idcard/sim: place N, remove, unplug, fault …) to the
// person at the keyboard, so a visit can be walked by hand in the real
// window. `kioskctl sim kiosk` runs it.
//
// It is not part of the appliance: the kiosk binary (cmd/kiosk) does not
// link it, and a kiosk configuration cannot ask for it.
package simkiosk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"eidkiosk/internal/logging"
	"eidkiosk/kiosk/app"
	"eidkiosk/kiosk/config"
	"eidkiosk/kiosk/session"
	"eidkiosk/sim/simstack"
	"eidkiosk/ui/kioskui"
)

// Options shape a run.
type Options struct {
	// Dir holds the simulated authority's and kiosk's state; it is kept
	// between runs, so the terminal is provisioned once.
	Dir string
	// Base is the configuration the simulated surroundings are applied over
	// (reader, camera, authority, state, GPIO and updates are replaced);
	// nil: the defaults.
	Base *config.Config
	// Console carries the reader simulator's commands, one a line (the
	// terminal's stdin); nil: no console. Replies and the banner go to Out.
	Console io.Reader
	Out     io.Writer
	Log     *slog.Logger  // nil: discard
	Tail    *logging.Tail // log lines for technician mode; may be nil
	// Headless runs the engine, drivers and uplink without the window.
	Headless bool
	// Fullscreen shows the window full screen instead of 1280×800-ish.
	Fullscreen bool
	// OnView observes the engine's views besides the UI (tests).
	OnView func(session.View)
}

// ErrNoDisplay is returned for a windowed run without a display.
var ErrNoDisplay = errors.New("simkiosk: no display (DISPLAY or WAYLAND_DISPLAY): run it on a desktop, or with --headless")

// Banner tells the person at the keyboard how to walk a visit.
const Banner = `simulated reader console: 'list' shows the deck, 'place N' puts card N on the
reader, 'remove' takes it off, 'unplug'/'replug' the USB reader, 'fault KIND' injects
a fault, 'help' lists every command, 'quit' stops the kiosk.`

// Run starts the stack, builds the kiosk on it and runs it until ctx ends or
// the console says quit. With a window it must run on the main goroutine
// (Fyne owns it).
func Run(ctx context.Context, o Options) error {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if !o.Headless && os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		return ErrNoDisplay
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := simstack.Start(ctx, simstack.Options{Dir: o.Dir, Log: o.Log,
		Progress: func(s string) { o.Log.Info("sim: " + s) }})
	if err != nil {
		return err
	}
	defer st.Close()
	base := config.Default()
	if o.Base != nil {
		base = *o.Base
	}
	cfg := st.Config(base)
	cfg.UI.Fullscreen = o.Fullscreen
	ao := app.Options{Config: cfg, Logger: o.Log, Tail: o.Tail, Pins: &st.Pins, NoUpdate: true, PhotoDecoder: st.PhotoDecoder}
	if o.OnView != nil {
		ao.OnView = []func(session.View){o.OnView}
	}
	sys, err := app.Build(ctx, ao)
	if err != nil {
		return err
	}
	defer sys.Close()

	consoleDone := make(chan error, 1)
	if o.Console != nil {
		fmt.Fprintf(o.Out, "kiosk on simulated hardware in %s (reader %s, authority %s)\n%s\n",
			st.Dir, st.Reader.Path(), st.AuthorityURL, Banner)
		go func() {
			err := st.Reader.Console(ctx, o.Console, o.Out)
			cancel() // quit stops the kiosk
			consoleDone <- err
		}()
	} else {
		close(consoleDone)
	}
	if o.Headless {
		err = sys.Run(ctx)
	} else {
		var k *kioskui.Kiosk
		if k, err = kioskui.New(sys); err == nil {
			err = k.Run(ctx, kioskui.Options{Fullscreen: cfg.UI.Fullscreen})
		}
	}
	cancel()
	if cerr := <-consoleDone; cerr != nil && err == nil {
		err = cerr
	}
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}
