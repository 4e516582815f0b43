package main

import (
	"context"
	"flag"
	"fmt"

	"eidkiosk/internal/cli"
)

func init() {
	var data, dsn string
	app.Register(&cli.Command{
		Name: "photos import",
		Summary: "register the reference photos the face check compares with (the portraits the ministry holds), " +
			"one file per holder named by the ID number (NUMBER.jpg, .png or .bmp); stored sealed, keyed by the number's HMAC",
		Usage: "DIR",
		Flags: func(fs *flag.FlagSet) { storeFlagVars(fs, &data, &dsn) },
		Run: func(ctx context.Context, args []string) error {
			if len(args) != 1 {
				fmt.Fprintln(app.Stderr, "photos import: give the directory holding the NUMBER.jpg files")
				return cli.ErrUsage
			}
			svc, err := openService(ctx, data, dsn)
			if err != nil {
				return err
			}
			defer svc.Close()
			res, err := svc.Intake.ImportPhotos(ctx, args[0], importing)
			if err != nil {
				return err
			}
			fmt.Fprintf(app.Stdout, "%d reference photos stored, %d refused\n", res.Stored, len(res.Refused))
			for _, r := range res.Refused {
				fmt.Fprintf(app.Stdout, "  refused %s\n", r)
			}
			if len(res.Refused) > 0 {
				return fmt.Errorf("%d files refused", len(res.Refused))
			}
			return nil
		},
	})
}

// storeFlagVars declares --data and --db: the store an operator command
// opens.
func storeFlagVars(fs *flag.FlagSet, data, dsn *string) {
	fs.StringVar(data, "data", defaultData, "data directory: keys, PKI and the SQLite store")
	fs.StringVar(dsn, "db", "", "PostgreSQL URL (postgres://…); empty: SQLite in --data")
}

// importing shows an import's progress on one line of standard error.
func importing(done, total int) {
	fmt.Fprintf(app.Stderr, "\rimporting %d/%d", done, total)
	if done == total {
		fmt.Fprintln(app.Stderr)
	}
}
