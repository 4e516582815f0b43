package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"fyne.io/fyne/v2"

	"eidkiosk/drivers/idcard/sim"
	"eidkiosk/internal/cli"
	"eidkiosk/kiosk/session"
	"eidkiosk/sim/demo"
	"eidkiosk/sim/xvfb"
	"eidkiosk/ui/kioskui"
)

func init() {
	var dir, shots string
	var headless, keep bool
	var card int
	app.Register(&cli.Command{
		Name:    "demo",
		Summary: "run one whole visit on simulated hardware against a local authority, printing each step",
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&dir, "dir", "", "working directory (default: a new temporary directory, removed afterwards)")
			fs.BoolVar(&keep, "keep", false, "keep the working directory (authority store, kiosk state) for inspection")
			fs.BoolVar(&headless, "headless", false, "no UI window: the engine, drivers, uplink and authority only")
			fs.StringVar(&shots, "screenshots", "out/demo-screens", "with the UI: save a screenshot of each step here (empty: none)")
			fs.IntVar(&card, "card", sim.DemoCitizenCard, "which card of the simulated reader's deck the citizen carries "+
				"(7: its photo is the camera's man, the face matches; 8: someone else, the visit is refused; 0–6: photos that do not decode, no comparison at the kiosk)")
		},
		Run: func(ctx context.Context, args []string) error {
			o := demo.Options{Dir: dir, Keep: keep, Out: app.Stdout, Card: card}
			if headless {
				env, err := demo.Setup(ctx, o)
				if err != nil {
					return err
				}
				defer env.Close()
				_, err = env.Run(ctx)
				return err
			}
			return demoWithUI(ctx, o, shots)
		},
	})
}

// demoWithUI shows the visit in a window: on the user's display, or under
// Xvfb when there is none (the screenshots then show what happened).
func demoWithUI(ctx context.Context, o demo.Options, shots string) error {
	var xs *xvfb.Server
	if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		x, err := xvfb.Start(ctx, 1280, 800)
		if err != nil {
			return err
		}
		defer x.Stop()
		xs = x
		os.Setenv("DISPLAY", x.Display)
		fmt.Fprintf(app.Stdout, "no display: running the UI under Xvfb %s; screenshots go to %s\n", x.Display, shots)
	}
	var k *kioskui.Kiosk
	n := 0
	o.Step = func(s session.State) {
		if shots == "" || k == nil {
			return
		}
		// Wait until the UI shows the new state, then let it paint.
		for i := 0; i < 50; i++ {
			var cur session.State
			fyne.DoAndWait(func() { cur = k.UI.State() })
			if cur == s {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(500 * time.Millisecond)
		n++
		p := filepath.Join(shots, fmt.Sprintf("%02d-%s.png", n, s))
		var err error
		if xs != nil {
			err = xs.Screenshot(ctx, p)
		} else {
			fyne.DoAndWait(func() { err = kioskui.Screenshot(k.Window, p) })
		}
		if err != nil {
			fmt.Fprintf(app.Stderr, "screenshot %s: %v\n", p, err)
		} else {
			fmt.Fprintf(app.Stdout, "   screenshot %s\n", p)
		}
	}
	env, err := demo.Setup(ctx, o)
	if err != nil {
		return err
	}
	defer env.Close()
	k, err = kioskui.New(env.System)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var res demo.Result
	cerr := make(chan error, 1)
	go func() {
		var err error
		res, err = env.Citizen(ctx)
		cerr <- err
		cancel() // stops the kiosk, which closes the window
	}()
	runErr := k.Run(ctx, kioskui.Options{})
	err = <-cerr
	if err == nil && runErr != nil && !errors.Is(runErr, context.Canceled) {
		err = runErr
	}
	if err == nil && !res.AtAuthority && !res.FaceRefused {
		err = errors.New("demo: the enrollment did not reach the authority")
	}
	return err
}
