package main

import (
	"context"
	"flag"
	"fmt"

	"eidkiosk/authority/intake"
	"eidkiosk/internal/cli"
)

func init() {
	var data, dsn string
	app.Register(&cli.Command{
		Name: "import",
		Summary: "take in sealed packages exported from a terminal (kioskctl outbox export), exactly once; " +
			"writes each receipt beside its package",
		Usage: "DIR",
		Flags: func(fs *flag.FlagSet) { storeFlagVars(fs, &data, &dsn) },
		Run: func(ctx context.Context, args []string) error {
			if len(args) != 1 {
				fmt.Fprintln(app.Stderr, "import: give the directory holding the .eidpkg files")
				return cli.ErrUsage
			}
			svc, err := openService(ctx, data, dsn)
			if err != nil {
				return err
			}
			defer svc.Close()
			res, err := svc.Intake.Import(ctx, args[0], func(done, total int, file string) { importing(done, total) })
			if err != nil {
				return err
			}
			intake.WriteImport(app.Stdout, res)
			if len(res.Failures) > 0 {
				return fmt.Errorf("%d packages refused", len(res.Failures))
			}
			return nil
		},
	})
}
