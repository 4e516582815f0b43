// Command kiosk is the eidkiosk appliance: it reads the configuration,
// assembles the kiosk (kiosk/app) and runs it with its touch UI.
//
// It has no way into simulation: no simulated reader, authority or pins are
// linked in (a test in this directory says so). The kiosk on simulated
// hardware is `kioskctl sim kiosk`; one scripted visit is `kioskctl demo`.
package main

import (
	// First, before Fyne's lang package reads the locale: LANG=C.UTF-8
	// made it print "Fyne error: Error parsing user locale C".
	_ "eidkiosk/internal/localeenv"

	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"eidkiosk/internal/display"
	"eidkiosk/internal/logging"
	"eidkiosk/kiosk/app"
	"eidkiosk/kiosk/config"
	"eidkiosk/ui/kioskui"
)

func main() {
	fs := flag.NewFlagSet("kiosk", flag.ContinueOnError)
	cfgPath := fs.String("config", config.DefaultPath, "configuration file (TOML); 'kioskctl config example' prints every key")
	headless := fs.Bool("headless", false, "run without the touch UI (the engine, drivers and uplink only)")
	windowed := fs.Bool("windowed", false, "a window instead of full screen (development)")
	version := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: kiosk [flags]\n\nThe eidkiosk enrollment terminal. On simulated hardware: kioskctl sim kiosk.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(2)
	}
	if *version {
		fmt.Println(app.Version)
		return
	}
	if err := run(*cfgPath, *headless, *windowed); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(os.Stderr, "kiosk: %v\n", err)
		os.Exit(1)
	}
}

func run(cfgPath string, headless, windowed bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	if !headless {
		// Without this, GLFW panics with a stack trace deep in Fyne.
		if err := display.Check(ctx); err != nil {
			return err
		}
	}
	log, tail := logging.New(logging.Options{Format: cfg.Log.Format, Level: cfg.Log.Level}, os.Stderr)
	sys, err := app.Build(ctx, app.Options{Config: cfg, Logger: log, Tail: tail, ConfigPath: cfgPath})
	if err != nil {
		return err
	}
	defer sys.Close()
	if headless {
		return sys.Run(ctx)
	}
	k, err := kioskui.New(sys)
	if err != nil {
		return err
	}
	// With the window, the process ends in Exit once the kiosk stopped
	// (kioskui.Options.Exit says why): its parts are closed there.
	return k.Run(ctx, kioskui.Options{Fullscreen: cfg.UI.Fullscreen && !windowed, Exit: func(err error) {
		sys.Close()
		if err != nil && !errors.Is(err, context.Canceled) {
			fmt.Fprintf(os.Stderr, "kiosk: %v\n", err)
			os.Exit(1)
		}
		os.Exit(0)
	}})
}
