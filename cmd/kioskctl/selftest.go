package main

import (
	"context"
	"flag"
	"time"

	"eidkiosk/internal/cli"
	kioskapp "eidkiosk/kiosk/app"
	"eidkiosk/kiosk/config"
	"eidkiosk/provisioning/selftest"
)

// The checklist is the built-in checks (disk, certificate, authority, clock)
// followed by the hardware checks built here from the configuration: the
// reader's SAM, the GPIO pins and the camera.

func init() {
	var cfgPath, state string
	var noSend bool
	var minFreeMB uint64
	var maxSkew, timeout time.Duration
	app.Register(&cli.Command{
		Name:    "selftest",
		Summary: "check disk, clock, authority (mTLS), the reader, the GPIO pins and the camera; print the checklist with fixes and send the report to the authority; exit 1 on a failure",
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&cfgPath, "config", config.DefaultPath, "kiosk configuration file; defaults when absent")
			fs.StringVar(&state, "state", "", "state directory (default: state.dir of the configuration)")
			fs.BoolVar(&noSend, "no-send", false, "do not send the report to the authority")
			fs.Uint64Var(&minFreeMB, "min-free-mb", selftest.DefaultMinFree>>20, "free disk space wanted in the state directory, MiB")
			fs.DurationVar(&maxSkew, "max-skew", selftest.DefaultMaxSkew, "largest clock difference with the authority that passes")
			fs.DurationVar(&timeout, "timeout", 30*time.Second, "time limit of each check")
		},
		Run: func(ctx context.Context, args []string) error {
			cfg, err := provConfig(cfgPath)
			if err != nil {
				return err
			}
			_, err = selftest.RunTerminal(ctx, selftest.TerminalOptions{
				Config: cfg, StateDir: state, Hardware: kioskapp.HardwareChecks(cfg),
				Out: app.Stdout, Progress: app.Stderr, Send: !noSend,
				MinFree: minFreeMB << 20, MaxSkew: maxSkew, Timeout: timeout,
			})
			return err
		},
	})
}
