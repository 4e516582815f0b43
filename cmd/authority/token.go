package main

import (
	"context"
	"flag"
	"fmt"
	"os/user"
	"strings"
	"time"

	"eidkiosk/authority/registry"
	"eidkiosk/kiosk/cli"
)

// operator names the person running an operator command, for audit logs.
func operator() string {
	if u, err := user.Current(); err == nil {
		return "operator:" + u.Username
	}
	return "operator"
}

func init() {
	var data, dsn, station, name string
	var expires time.Duration
	app.Register(&cli.Command{
		Name:    "token create",
		Summary: "create a one-time enrollment token for a station; the token is the last line of stdout",
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&data, "data", "", "the authority's data directory (PKI, SQLite store)")
			fs.StringVar(&dsn, "db", "", "PostgreSQL URL (postgres://…) instead of the SQLite file in --data")
			fs.StringVar(&station, "station", "", "station ID the token enrols a terminal for, e.g. NS-PSB-001")
			fs.StringVar(&name, "name", "", "station display name delivered to the terminal (kept when empty)")
			fs.DurationVar(&expires, "expires", 24*time.Hour, "how long the token stays valid, e.g. 24h")
		},
		Run: func(ctx context.Context, args []string) error {
			if station == "" {
				fmt.Fprintln(app.Stderr, "authority token create: --station is required, e.g. --station NS-PSB-001")
				return cli.ErrUsage
			}
			r, db, err := registry.OpenDir(ctx, data, dsn, registry.Options{})
			if err != nil {
				return err
			}
			defer db.Close()
			tok, err := r.CreateToken(ctx, strings.ToUpper(station), name, expires, operator())
			if err != nil {
				return err
			}
			fp := r.PKI().RootFingerprint()
			w := app.Stdout
			fmt.Fprintf(w, "station:  %s\n", tok.Station)
			fmt.Fprintf(w, "expires:  %s (in %s); the token works once\n", tok.Expires.UTC().Format("2006-01-02 15:04 MST"), expires)
			fmt.Fprintf(w, "authority CA fingerprint (SHA-256), for the technician to compare or pin with --ca-fingerprint:\n  %s\n", fp)
			fmt.Fprintf(w, "token:\n%s\n", tok.Value)
			return nil
		},
	})
}
