package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"

	"eidkiosk/authority/fleet"
	"eidkiosk/authority/registry"
	"eidkiosk/internal/cli"
)

func init() {
	var device string
	var since uint64
	var limit int
	var asJSON bool
	deviceFlags := func(fs *flag.FlagSet) {
		storeFlags(fs)
		fs.StringVar(&device, "device", "", "the terminal's device ID (see `eidkiosk-authority fleet`)")
	}
	needDevice := func(cmd string) error {
		if device == "" {
			fmt.Fprintf(app.Stderr, "eidkiosk-authority audit %s: give --device ID\n", cmd)
			return cli.ErrUsage
		}
		return nil
	}
	app.Register(&cli.Command{
		Name: "audit verify",
		Summary: "re-verify the copy held of a terminal's audit log: every entry's hash, the chain from entry 1, every checkpoint's " +
			"signature with the terminal's key; fails on any change and on an alert (gap or fork) recorded when entries arrived",
		Flags: deviceFlags,
		Run: func(ctx context.Context, args []string) error {
			if err := needDevice("verify"); err != nil {
				return err
			}
			return withFleet(ctx, func(m *fleet.Module, _ *registry.Registry) error {
				rep, err := m.VerifyAudit(ctx, device)
				if err != nil {
					return err
				}
				fmt.Fprintf(app.Stdout, "%s: audit log verified: %s\n", device, rep.Summary)
				return nil
			})
		},
	}, &cli.Command{
		Name:    "audit show",
		Summary: "print the entries held of a terminal's audit log (events and non-personal fields), oldest first",
		Flags: func(fs *flag.FlagSet) {
			deviceFlags(fs)
			fs.Uint64Var(&since, "since", 0, "only entries after this sequence number")
			fs.IntVar(&limit, "limit", 1000, "at most this many entries")
			fs.BoolVar(&asJSON, "json", false, "print the entries as JSON lines, as the terminal wrote them")
		},
		Run: func(ctx context.Context, args []string) error {
			if err := needDevice("show"); err != nil {
				return err
			}
			return withFleet(ctx, func(m *fleet.Module, _ *registry.Registry) error {
				es, err := m.AuditEntries(ctx, device, since, limit)
				if err != nil {
					return err
				}
				if len(es) == 0 {
					return fmt.Errorf("%w: %s", fleet.ErrNoAudit, device)
				}
				enc := json.NewEncoder(app.Stdout)
				for _, e := range es {
					if asJSON {
						if err := enc.Encode(e); err != nil {
							return err
						}
						continue
					}
					fmt.Fprintln(app.Stdout, e)
				}
				return nil
			})
		},
	})
}
