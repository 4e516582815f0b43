// Command kiosk is the eidkiosk appliance: it reads the configuration,
// assembles the kiosk (kiosk/app) and runs it with its touch UI. With --sim
// it needs no configuration file and no hardware: it starts the simulated
// surroundings (sim/simstack) and enrols against a local authority.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"eidkiosk/internal/logging"
	"eidkiosk/kiosk/app"
	"eidkiosk/kiosk/config"
	"eidkiosk/sim/simstack"
	"eidkiosk/ui/kioskui"
)

func main() {
	fs := flag.NewFlagSet("kiosk", flag.ContinueOnError)
	cfgPath := fs.String("config", config.DefaultPath, "configuration file (TOML); 'kioskctl config example' prints every key")
	sim := fs.Bool("sim", false, "simulated hardware and a local authority; no configuration file needed")
	simDir := fs.String("sim-dir", filepath.Join(os.TempDir(), "eidkiosk-sim"), "with --sim: where the simulated authority and kiosk keep their state")
	headless := fs.Bool("headless", false, "run without the touch UI (the engine, drivers and uplink only)")
	windowed := fs.Bool("windowed", false, "a window instead of full screen (development)")
	version := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: kiosk [flags]\n\nThe eidkiosk enrollment terminal.\n\nflags:\n")
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
	if err := run(*cfgPath, *sim, *simDir, *headless, *windowed); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(os.Stderr, "kiosk: %v\n", err)
		os.Exit(1)
	}
}

func run(cfgPath string, sim bool, simDir string, headless, windowed bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg := config.Default()
	if !sim || fileExists(cfgPath) {
		c, err := config.Load(cfgPath)
		if err != nil {
			return err
		}
		cfg = c
	}
	log, tail := logging.New(logging.Options{Format: cfg.Log.Format, Level: cfg.Log.Level}, os.Stderr)
	if sim || cfg.Sim {
		st, err := simstack.Start(ctx, simstack.Options{Dir: simDir, Log: log,
			Progress: func(s string) { log.Info("sim: " + s) }})
		if err != nil {
			return err
		}
		defer st.Close()
		cfg = st.Config(cfg)
		opts := app.Options{Config: cfg, Logger: log, Tail: tail, Pins: &st.Pins, NoUpdate: true}
		return start(ctx, opts, headless, windowed)
	}
	return start(ctx, app.Options{Config: cfg, Logger: log, Tail: tail, ConfigPath: cfgPath}, headless, windowed)
}

func start(ctx context.Context, opts app.Options, headless, windowed bool) error {
	sys, err := app.Build(ctx, opts)
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
	return k.Run(ctx, kioskui.Options{Fullscreen: opts.Config.UI.Fullscreen && !windowed})
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }
