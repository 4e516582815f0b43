package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"eidkiosk/authority"
	"eidkiosk/authority/fleet"
	"eidkiosk/internal/cli"
)

func init() {
	var data, dsn string
	var silent time.Duration
	var backlog int
	var asJSON, flaggedOnly bool
	app.Register(&cli.Command{
		Name:    "fleet",
		Summary: "list the terminals with their version, slot, health, outbox and update state; flag those silent or failing",
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&data, "data", defaultData, "the authority's data directory (SQLite store)")
			fs.StringVar(&dsn, "db", "", "PostgreSQL URL (postgres://…) instead of the SQLite file in --data")
			fs.DurationVar(&silent, "silent", 15*time.Minute, "flag a terminal 'silent' after this long without a heartbeat")
			fs.IntVar(&backlog, "backlog", 100, "flag a terminal 'backlog' when its outbox holds more enrollments than this")
			fs.BoolVar(&asJSON, "json", false, "print JSON (with each terminal's last heartbeat) instead of a table")
			fs.BoolVar(&flaggedOnly, "flagged", false, "list only flagged terminals")
		},
		Run: func(ctx context.Context, args []string) error {
			src := data
			if dsn != "" {
				src = dsn
			}
			db, err := authority.OpenDB(ctx, src)
			if err != nil {
				return err
			}
			defer db.Close()
			m := fleet.New(db, nil, "", nil)
			if err := m.Migrate(ctx, db); err != nil {
				return err
			}
			ts, err := m.List(ctx, fleet.ListOptions{SilentAfter: silent, BacklogAbove: backlog})
			if err != nil {
				return err
			}
			if flaggedOnly {
				var f []fleet.Terminal
				for _, t := range ts {
					if len(t.Flags) > 0 {
						f = append(f, t)
					}
				}
				ts = f
			}
			if asJSON {
				enc := json.NewEncoder(app.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(ts)
			}
			tw := tabwriter.NewWriter(app.Stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "DEVICE\tSTATION\tVERSION\tSLOT\tCHANNEL\tHEALTH\tOUTBOX\tUPDATE\tLAST TRIAL\tLEASE\tLAST SEEN\tFLAGS")
			for _, t := range ts {
				health := "ok"
				if !t.Healthy {
					health = "FAILING"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", t.DeviceID, t.Station, t.Version, t.Slot,
					t.Channel, health, t.Outbox, fleetDash(t.Phase), fleetDash(t.LastTrial), fleetDash(t.Lease),
					t.LastSeen.Format("2006-01-02 15:04:05"), fleetDash(strings.Join(t.Flags, ",")))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(app.Stdout, "%d terminals\n", len(ts))
			return nil
		},
	})
}

func fleetDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
