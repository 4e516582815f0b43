package main

import (
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"

	"eidkiosk/internal/cli"
	"eidkiosk/internal/logging"
	"eidkiosk/kiosk/config"
	"eidkiosk/sim/simkiosk"
)

// consoleIn is where `sim kiosk` reads the reader console (tests swap it).
var consoleIn io.Reader = os.Stdin

// sim kiosk: the whole kiosk with its UI on simulated hardware, the reader
// console on stdin.
func init() {
	var (
		dir, cfgPath         string
		headless, fullscreen bool
	)
	app.Register(&cli.Command{
		Name:    "sim kiosk",
		Summary: "run the whole kiosk with its UI on simulated hardware, and the card reader's console on stdin",
		Help: `Starts the reference authority on loopback, provisions a kiosk state directory
against it (once; --dir keeps it), runs the GA 467 reader simulator on a pty, feeds
the camera from a webcam recording and uses simulated GPIO pins, then runs the real
kiosk with its touch UI window. Walk a visit by hand: type commands on stdin and
tap through the window.

` + simkiosk.Banner + `

Example: kioskctl sim kiosk, then type 'place 0'; the window shows the card's data.
One scripted visit instead: kioskctl demo.`,
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&dir, "dir", filepath.Join(os.TempDir(), "eidkiosk-sim"), "where the simulated authority and kiosk keep their state (kept between runs)")
			fs.StringVar(&cfgPath, "config", "", "kiosk configuration to start from (UI, timeouts, face, log); reader, camera, authority, state, GPIO and updates are simulated; empty: the defaults")
			fs.BoolVar(&headless, "headless", false, "no window: the engine, drivers and uplink only (the console still works)")
			fs.BoolVar(&fullscreen, "fullscreen", false, "full screen instead of a window (a touch screen)")
		},
		Run: func(ctx context.Context, args []string) error {
			cfg := config.Default()
			if cfgPath != "" {
				c, err := config.Load(cfgPath)
				if err != nil {
					return err
				}
				cfg = c
			}
			log, tail := logging.New(logging.Options{Format: cfg.Log.Format, Level: cfg.Log.Level}, app.Stderr)
			return simkiosk.Run(ctx, simkiosk.Options{Dir: dir, Base: &cfg, Console: consoleIn, Out: app.Stdout,
				Log: log, Tail: tail, Headless: headless, Fullscreen: fullscreen})
		},
	})
}
