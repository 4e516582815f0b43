package main

import (
	"context"
	"flag"
	"fmt"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"eidkiosk/authority/registry"
	"eidkiosk/internal/cli"
)

// The registry's operator commands (token …, device …) share these flags.
var regData, regDSN string

func registryFlags(fs *flag.FlagSet) {
	fs.StringVar(&regData, "data", defaultData, "the authority's data directory (PKI, SQLite store), as for serve")
	fs.StringVar(&regDSN, "db", "", "PostgreSQL URL (postgres://…) instead of the SQLite file in --data")
}

// withRegistry opens the registry named by the flags, runs f, and closes it.
func withRegistry(ctx context.Context, f func(*registry.Registry) error) error {
	if regDSN == "" {
		if err := checkOwner(regData); err != nil {
			return err
		}
	}
	r, db, err := registry.OpenDir(ctx, regData, regDSN, registry.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	return f(r)
}

// operator names the person running an operator command, for audit logs.
func operator() string {
	if u, err := user.Current(); err == nil {
		return "operator:" + u.Username
	}
	return "operator"
}

// when formats a time for the operator's tables; "-" when unset.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04")
}

func init() {
	var station, name, replace, serial string
	var expires time.Duration
	app.Register(&cli.Command{
		Name:    "token create",
		Summary: "create a one-time enrollment token for a station; the token is the last line of stdout",
		Flags: func(fs *flag.FlagSet) {
			registryFlags(fs)
			fs.StringVar(&station, "station", "", "station ID the token enrols a terminal for, e.g. NS-PSB-001")
			fs.StringVar(&name, "name", "", "station display name delivered to the terminal (kept when empty)")
			fs.DurationVar(&expires, "expires", 24*time.Hour, "how long the token stays valid, e.g. 24h")
			fs.StringVar(&serial, "serial", "", "hardware serial of the one box this token may provision (recommended when known: a leaked token then enrols no other box)")
			fs.StringVar(&replace, "replace", "", "DEVICE-ID of an active terminal this one replaces (the same box reinstalled, or a swapped one): "+
				"it is refused from now on, told why, and its serial may be provisioned again")
		},
		Run: func(ctx context.Context, args []string) error {
			if station == "" {
				fmt.Fprintln(app.Stderr, "eidkiosk-authority token create: --station is required, e.g. --station NS-PSB-001")
				return cli.ErrUsage
			}
			return withRegistry(ctx, func(r *registry.Registry) error {
				tok, err := r.CreateBoundToken(ctx, strings.ToUpper(station), name, strings.TrimSpace(serial), expires, operator())
				if err != nil {
					return err
				}
				w := app.Stdout
				if replace != "" {
					why := fmt.Sprintf("replaced by the terminal provisioned for station %s with token %s…, on request of %s", tok.Station, registry.NormalizeToken(tok.Value)[:4], operator())
					if err := r.Replace(ctx, replace, why, operator()); err != nil {
						return err
					}
					fmt.Fprintf(w, "replaced: terminal %s is refused from now on (%s)\n", replace, why)
				}
				fmt.Fprintf(w, "station:  %s\n", tok.Station)
				if tok.Serial != "" {
					fmt.Fprintf(w, "serial:   %s (the only box it provisions)\n", tok.Serial)
				}
				fmt.Fprintf(w, "expires:  %s (in %s); the token works once\n", tok.Expires.UTC().Format("2006-01-02 15:04 MST"), expires)
				fmt.Fprintf(w, "authority CA fingerprint (SHA-256), for the technician to compare or pin with --ca-fingerprint:\n  %s\n", r.PKI().RootFingerprint())
				fmt.Fprintf(w, "token:\n%s\n", tok.Value)
				return nil
			})
		},
	}, &cli.Command{
		Name:    "token list",
		Summary: "list enrollment tokens (only their first group is stored) with station, expiry, use and withdrawal",
		Flags:   registryFlags,
		Run: func(ctx context.Context, args []string) error {
			return withRegistry(ctx, func(r *registry.Registry) error {
				ts, err := r.Tokens(ctx)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(app.Stdout, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "TOKEN\tSTATION\tCREATED BY\tCREATED\tEXPIRES\tUSED\tDEVICE\tWITHDRAWN")
				for _, t := range ts {
					fmt.Fprintf(tw, "%s…\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Hint, t.Station, t.CreatedBy, when(t.Created), when(t.Expires), when(t.Used), t.Device, when(t.Revoked))
				}
				return tw.Flush()
			})
		},
	}, &cli.Command{
		Name:    "token revoke",
		Summary: "withdraw an unused enrollment token (e.g. sent to the wrong person)",
		Usage:   "TOKEN",
		Flags:   registryFlags,
		Run: func(ctx context.Context, args []string) error {
			if len(args) != 1 {
				fmt.Fprintln(app.Stderr, "eidkiosk-authority token revoke: give the whole TOKEN as printed by `eidkiosk-authority token create`")
				return cli.ErrUsage
			}
			return withRegistry(ctx, func(r *registry.Registry) error {
				if err := r.RevokeToken(ctx, args[0], operator()); err != nil {
					return err
				}
				fmt.Fprintln(app.Stdout, "token withdrawn")
				return nil
			})
		},
	})
}
