package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"eidkiosk/authority"
	"eidkiosk/authority/fleet"
	"eidkiosk/authority/registry"
	"eidkiosk/authority/service"
	"eidkiosk/internal/cli"
)

// The store the fleet commands (and `audit`) open: --data or --db.
var fleetData, fleetDSN string

func storeFlags(fs *flag.FlagSet) {
	fs.StringVar(&fleetData, "data", defaultData, "the authority's data directory (SQLite store)")
	fs.StringVar(&fleetDSN, "db", "", "PostgreSQL URL (postgres://…) instead of the SQLite file in --data")
}

// withFleet opens the fleet module and the registry of the same store.
func withFleet(ctx context.Context, f func(*fleet.Module, *registry.Registry) error) error {
	src := fleetData
	if fleetDSN != "" {
		src = fleetDSN
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
	reg := registry.New(db, nil, registry.Options{})
	if err := reg.Migrate(ctx, db); err != nil {
		return err
	}
	return f(m, reg)
}

func init() {
	var silent time.Duration
	var backlog int
	var asJSON, flaggedOnly bool
	app.Register(&cli.Command{
		Name: "fleet",
		Summary: "list every registered terminal (also those never heard from, replaced, revoked or deprovisioned) with channel, " +
			"cohort, the release in each slot, the last update outcome and why; flag those silent or failing",
		Flags: func(fs *flag.FlagSet) {
			storeFlags(fs)
			fs.DurationVar(&silent, "silent", 15*time.Minute, "flag a terminal 'silent' after this long without a heartbeat")
			fs.IntVar(&backlog, "backlog", 100, "flag a terminal 'backlog' when its outbox holds more enrollments than this")
			fs.BoolVar(&asJSON, "json", false, "print JSON (with each terminal's last heartbeat) instead of a table")
			fs.BoolVar(&flaggedOnly, "flagged", false, "list only flagged terminals")
		},
		Run: func(ctx context.Context, args []string) error {
			return withFleet(ctx, func(m *fleet.Module, reg *registry.Registry) error {
				ts, err := m.List(ctx, fleet.ListOptions{SilentAfter: silent, BacklogAbove: backlog, Roster: service.Roster(reg)})
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
					if ts == nil {
						ts = []fleet.Terminal{}
					}
					enc := json.NewEncoder(app.Stdout)
					enc.SetIndent("", "  ")
					return enc.Encode(ts)
				}
				return writeFleet(ts)
			})
		},
	}, &cli.Command{
		Name:    "fleet poke",
		Summary: "ask a terminal to check for an update now: the answer to its next heartbeat (within a minute) says so",
		Usage:   "DEVICE-ID",
		Flags:   storeFlags,
		Run: func(ctx context.Context, args []string) error {
			if len(args) != 1 {
				fmt.Fprintln(app.Stderr, "authority fleet poke: give one DEVICE-ID (see `eidkiosk-authority fleet`)")
				return cli.ErrUsage
			}
			return withFleet(ctx, func(m *fleet.Module, reg *registry.Registry) error {
				if err := m.Poke(ctx, args[0], operator()); err != nil {
					return err
				}
				fmt.Fprintf(app.Stdout, "terminal %s will check for an update at its next heartbeat\n", args[0])
				return nil
			})
		},
	})
}

func writeFleet(ts []fleet.Terminal) error {
	tw := tabwriter.NewWriter(app.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE\tSTATION\tSTATUS\tVERSION\tSLOTS\tCHANNEL\tCOHORT\tHEALTH\tOUTBOX\tUPDATE\tLAST TRIAL\tLAST SEEN\tFLAGS")
	for _, t := range ts {
		health := "ok"
		switch {
		case t.LastSeen.IsZero():
			health = "-"
		case !t.Healthy:
			health = "FAILING"
		}
		status := fleetDash(t.Status)
		if t.Reason != "" && t.Status != "active" {
			status += " (" + t.Reason + ")"
		}
		seen := "never"
		if !t.LastSeen.IsZero() {
			seen = t.LastSeen.Format("2006-01-02 15:04:05")
		}
		trial := t.LastTrial
		if t.LastTrialDetail != "" {
			trial += ": " + t.LastTrialDetail
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%d\t%s\t%s\t%s\t%s\n", t.DeviceID, t.Station, status, fleetDash(t.Version),
			fleetSlots(t), fleetDash(t.Channel), t.Cohort, health, t.Outbox, fleetDash(t.Phase), fleetDash(trial),
			seen, fleetDash(strings.Join(t.Flags, ",")))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, t := range ts {
		if t.Audit != nil && t.Audit.Alert != "" {
			fmt.Fprintf(app.Stdout, "%s: audit log %s: %s (`eidkiosk-authority audit verify --device %s`)\n", t.DeviceID, t.Audit.Alert, t.Audit.Detail, t.DeviceID)
		}
	}
	fmt.Fprintf(app.Stdout, "%d terminals\n", len(ts))
	return nil
}

// fleetSlots writes "a=1.0.0 b*=2.0.0": * marks the running slot.
func fleetSlots(t fleet.Terminal) string {
	if len(t.Slots) == 0 {
		return "-"
	}
	var names []string
	for s := range t.Slots {
		names = append(names, s)
	}
	sort.Strings(names)
	var parts []string
	for _, s := range names {
		mark := ""
		if s == t.Slot {
			mark = "*"
		}
		parts = append(parts, s+mark+"="+fleetDash(t.Slots[s]))
	}
	return strings.Join(parts, " ")
}

func fleetDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
