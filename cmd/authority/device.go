package main

import (
	"context"
	"flag"
	"fmt"
	"text/tabwriter"

	"eidkiosk/authority/registry"
	"eidkiosk/internal/cli"
)

func init() {
	var reason, serial, note string
	var limit int
	app.Register(&cli.Command{
		Name:    "device list",
		Summary: "list the provisioned terminals with their status, certificate expiry and last self-test",
		Flags:   registryFlags,
		Run: func(ctx context.Context, args []string) error {
			return withRegistry(ctx, func(r *registry.Registry) error {
				devs, err := r.Devices(ctx)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(app.Stdout, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "DEVICE\tSTATION\tSTATUS\tKEY\tSERIAL\tLAST SEEN\tCERT UNTIL\tSELF-TEST")
				for _, d := range devs {
					st := "-"
					if !d.SelfTest.IsZero() {
						st = "failed " + when(d.SelfTest)
						if d.SelfTestPassed {
							st = "passed " + when(d.SelfTest)
						}
					}
					status := d.Status
					if d.Reason != "" && d.Status != registry.StatusActive {
						status += " (" + d.Reason + ")"
					}
					cli.Row(tw, d.ID, d.Station, status, d.KeyKind, d.Serial, when(d.LastSeen), when(d.CertNotAfter), st)
				}
				return tw.Flush()
			})
		},
	}, &cli.Command{
		Name:    "device revoke",
		Summary: "disable a terminal: the intake and registry refuse it from the next request (\"terminal disabled, call IT\")",
		Usage:   "DEVICE-ID",
		Flags: func(fs *flag.FlagSet) {
			registryFlags(fs)
			fs.StringVar(&reason, "reason", "", "why, for the audit log and the terminal's message, e.g. \"stolen\"")
		},
		Run: func(ctx context.Context, args []string) error {
			if len(args) != 1 {
				fmt.Fprintln(app.Stderr, "eidkiosk-authority device revoke: give one DEVICE-ID (see `eidkiosk-authority device list`)")
				return cli.ErrUsage
			}
			return withRegistry(ctx, func(r *registry.Registry) error {
				if err := r.Revoke(ctx, args[0], reason, operator()); err != nil {
					return err
				}
				fmt.Fprintf(app.Stdout, "terminal %s revoked\n", args[0])
				return nil
			})
		},
	}, &cli.Command{
		Name:    "device allow",
		Summary: "add a hardware serial number to the procurement allow-list (once the list is not empty, only listed boxes are provisioned)",
		Flags: func(fs *flag.FlagSet) {
			registryFlags(fs)
			fs.StringVar(&serial, "serial", "", "the box's hardware serial number, as on its label")
			fs.StringVar(&note, "note", "", "free text for the audit log, e.g. the purchase order")
		},
		Run: func(ctx context.Context, args []string) error {
			return withRegistry(ctx, func(r *registry.Registry) error {
				if err := r.AllowSerial(ctx, serial, note, operator()); err != nil {
					return err
				}
				fmt.Fprintf(app.Stdout, "serial %s allowed\n", serial)
				return nil
			})
		},
	}, &cli.Command{
		Name:    "device audit",
		Summary: "print the registry's audit log: tokens, provisioning, refusals, renewals, revocations, self-tests",
		Flags: func(fs *flag.FlagSet) {
			registryFlags(fs)
			fs.IntVar(&limit, "limit", 50, "how many of the newest entries to print")
		},
		Run: func(ctx context.Context, args []string) error {
			return withRegistry(ctx, func(r *registry.Registry) error {
				es, err := r.Audit(ctx, limit)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(app.Stdout, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "TIME (UTC)\tACTOR\tACTION\tDEVICE\tSTATION\tDETAIL")
				for _, e := range es {
					cli.Row(tw, e.At.Format("2006-01-02 15:04:05"), e.Actor, e.Action, e.Device, e.Station, e.Detail)
				}
				return tw.Flush()
			})
		},
	})
}
