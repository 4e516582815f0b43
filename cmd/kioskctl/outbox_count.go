package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"eidkiosk/internal/cli"
	"eidkiosk/kiosk/config"
	"eidkiosk/kiosk/outbox"
)

// outboxMissing reports whether the state directory has no outbox yet (the
// kiosk never ran): nothing is queued.
func outboxMissing(state string) bool {
	_, err := os.Stat(filepath.Join(outbox.DirIn(state), outbox.File))
	return errors.Is(err, fs.ErrNotExist)
}

func init() {
	var cfgPath, state string
	app.Register(&cli.Command{
		Name:    "outbox pending",
		Summary: "print how many sealed enrollments are not yet acknowledged (waiting or refused); 0 before the kiosk's first run (for scripts: the package's prerm)",
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&cfgPath, "config", config.DefaultPath, "kiosk configuration file (for state.dir); defaults when absent")
			fs.StringVar(&state, "state", "", "state directory holding outbox/ (default: state.dir of the configuration)")
		},
		Run: func(ctx context.Context, args []string) error {
			state, err := resolveStateDir(cfgPath, state)
			if err != nil {
				return err
			}
			if outboxMissing(state) {
				fmt.Fprintln(app.Stdout, 0)
				return nil
			}
			n, err := deprovisionPending(ctx, config.Config{}, outbox.DirIn(state))
			if err != nil {
				return err
			}
			fmt.Fprintln(app.Stdout, n)
			return nil
		},
	})
}
