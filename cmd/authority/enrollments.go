package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"

	"eidkiosk/authority/intake"
	"eidkiosk/authority/service"
	"eidkiosk/internal/cli"
)

// openService opens the authority's state for an operator command.
func openService(ctx context.Context, data, dsn string) (*service.Service, error) {
	return service.Open(ctx, service.Config{DataDir: data, DB: dsn, Logger: slog.New(slog.DiscardHandler)})
}

func init() {
	var data, dsn, station string
	var limit int
	var flagged, reveal bool
	storeFlags := func(fs *flag.FlagSet) {
		fs.StringVar(&data, "data", defaultData, "data directory: keys, PKI and the SQLite store")
		fs.StringVar(&dsn, "db", "", "PostgreSQL URL (postgres://…); empty: SQLite in --data")
		fs.BoolVar(&reveal, "reveal", false, "show names and ID numbers in clear (default: masked)")
	}
	app.Register(&cli.Command{
		Name:    "enrollments list",
		Summary: "list stored enrollments, newest first; names and ID numbers masked unless --reveal",
		Flags: func(fs *flag.FlagSet) {
			storeFlags(fs)
			fs.StringVar(&station, "station", "", "only enrollments from this station ID")
			fs.BoolVar(&flagged, "flagged", false, "only enrollments flagged by a verification check")
			fs.IntVar(&limit, "limit", 100, "at most this many")
		},
		Run: func(ctx context.Context, args []string) error {
			svc, err := openService(ctx, data, dsn)
			if err != nil {
				return err
			}
			defer svc.Close()
			list, err := svc.Intake.List(ctx, intake.ListOptions{Station: station, Flagged: flagged, Limit: limit, Reveal: reveal})
			if err != nil {
				return err
			}
			return intake.WriteList(app.Stdout, list)
		},
	}, &cli.Command{
		Name:    "enrollments show",
		Summary: "show one enrollment by ID or short number; personal fields masked unless --reveal",
		Usage:   "ID|SHORT",
		Flags:   storeFlags,
		Run: func(ctx context.Context, args []string) error {
			if len(args) != 1 {
				fmt.Fprintln(app.Stderr, "enrollments show: give one enrollment ID or short number")
				return cli.ErrUsage
			}
			svc, err := openService(ctx, data, dsn)
			if err != nil {
				return err
			}
			defer svc.Close()
			d, err := svc.Intake.Show(ctx, args[0], reveal)
			if err != nil {
				return err
			}
			defer d.Record.Wipe()
			return intake.WriteDetail(app.Stdout, d)
		},
	})
}
