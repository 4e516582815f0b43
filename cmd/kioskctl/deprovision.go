package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"eidkiosk/internal/cli"
	"eidkiosk/kiosk/config"
	"eidkiosk/provisioning"
)

// deprovisionPending counts the outbox's enrollments not yet acknowledged by
// the authority. It is set by the outbox wiring; while nil, deprovisioning
// without --force refuses to destroy an outbox it cannot inspect.
var deprovisionPending func(ctx context.Context, cfg config.Config, outboxDir string) (int, error)

func init() {
	var cfgPath, state string
	var force bool
	var wait time.Duration
	app.Register(&cli.Command{
		Name:    "deprovision",
		Summary: "take the terminal out of service: wait for the outbox to drain (or destroy it with --force), tell the authority, destroy keys and identity",
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&cfgPath, "config", config.DefaultPath, "kiosk configuration file; defaults when absent")
			fs.StringVar(&state, "state", "", "state directory (default: state.dir of the configuration)")
			fs.BoolVar(&force, "force", false, "destroy unsent enrollments, and go on when the authority cannot be told")
			fs.DurationVar(&wait, "wait", 2*time.Minute, "how long to wait for the running kiosk to send the outbox")
		},
		Run: func(ctx context.Context, args []string) error {
			cfg, err := provConfig(cfgPath)
			if err != nil {
				return err
			}
			if state == "" {
				state = cfg.State.Dir
			}
			outbox := filepath.Join(state, "outbox")
			var pending func(context.Context) (int, error)
			_, statErr := os.Stat(outbox)
			switch {
			case statErr != nil:
				// No outbox: nothing to drain.
			case deprovisionPending != nil:
				pending = func(ctx context.Context) (int, error) { return deprovisionPending(ctx, cfg, outbox) }
			case !force:
				pending = func(context.Context) (int, error) {
					return 0, fmt.Errorf("this kioskctl cannot inspect the outbox at %s", outbox)
				}
			}
			err = provisioning.Deprovision(ctx, provisioning.DeprovisionOptions{
				StateDir: state, Force: force, Pending: pending, DrainTimeout: wait, Remove: []string{outbox},
				Progress: func(s string) { fmt.Fprintln(app.Stdout, "• "+s) },
			})
			if err != nil {
				return err
			}
			fmt.Fprintln(app.Stdout, "terminal deprovisioned: keys and identity destroyed")
			return nil
		},
	})
}
