package main

import (
	"context"
	"crypto/ed25519"
	"flag"
	"fmt"
	"time"

	"eidkiosk/enroll"
	"eidkiosk/internal/cli"
	"eidkiosk/kiosk/config"
	"eidkiosk/kiosk/outbox"
	"eidkiosk/provisioning"
)

func init() {
	var cfgPath, state string
	stateFlags := func(fs *flag.FlagSet) {
		fs.StringVar(&cfgPath, "config", config.DefaultPath, "kiosk configuration file (for state.dir); defaults when absent")
		fs.StringVar(&state, "state", "", "state directory holding outbox/ (default: state.dir of the configuration)")
	}
	openBox := func(ctx context.Context) (*outbox.Outbox, error) {
		if state == "" {
			cfg, err := provConfig(cfgPath)
			if err != nil {
				return nil, err
			}
			state = cfg.State.Dir
		}
		return outbox.Inspect(ctx, outbox.DirIn(state))
	}
	app.Register(&cli.Command{
		Name:    "outbox status",
		Summary: "show the outbox: packages waiting, refused, last acknowledgement, whether the terminal is disabled",
		Flags:   stateFlags,
		Run: func(ctx context.Context, args []string) error {
			if state == "" {
				if cfg, err := provConfig(cfgPath); err == nil {
					state = cfg.State.Dir
				}
			}
			if state != "" && outboxMissing(state) {
				fmt.Fprintln(app.Stdout, "outbox: empty, nothing queued (the kiosk has not run yet)")
				return nil
			}
			box, err := openBox(ctx)
			if err != nil {
				return err
			}
			defer box.Close()
			outbox.WriteStatus(app.Stdout, box.Stats(), time.Now())
			return nil
		},
	}, &cli.Command{
		Name: "outbox export",
		Summary: "copy every sealed package not yet acknowledged to DIR (e.g. a USB stick) for `authority import`; " +
			"needs no network, the packages stay sealed and stay queued",
		Usage: "DIR",
		Flags: stateFlags,
		Run: func(ctx context.Context, args []string) error {
			if len(args) != 1 {
				fmt.Fprintln(app.Stderr, "outbox export: give the target directory")
				return cli.ErrUsage
			}
			box, err := openBox(ctx)
			if err != nil {
				return err
			}
			defer box.Close()
			n, err := box.Export(ctx, args[0], func(done, total int) {
				fmt.Fprintf(app.Stderr, "\rexporting %d/%d", done, total)
				if done == total {
					fmt.Fprintln(app.Stderr)
				}
			})
			if err != nil {
				return err
			}
			auditExport(state, n)
			fmt.Fprintf(app.Stdout, "%d sealed packages in %s\n", n, args[0])
			return nil
		},
	}, &cli.Command{
		Name: "outbox receipts",
		Summary: "acknowledge exported packages with the receipts `authority import` wrote into DIR; " +
			"each receipt is verified with the authority's receipt key before its package is erased",
		Usage: "DIR",
		Flags: stateFlags,
		Run: func(ctx context.Context, args []string) error {
			if len(args) != 1 {
				fmt.Fprintln(app.Stderr, "outbox receipts: give the directory holding the .receipt files")
				return cli.ErrUsage
			}
			if state == "" {
				cfg, err := provConfig(cfgPath)
				if err != nil {
					return err
				}
				state = cfg.State.Dir
			}
			id, err := provisioning.LoadIdentity(state)
			if err != nil {
				return err
			}
			defer id.Close()
			box, err := outbox.OpenShared(ctx, outbox.DirIn(state))
			if err != nil {
				return err
			}
			defer box.Close()
			n, bad, err := box.AckReceipts(ctx, args[0], enroll.ReceiptVerifier(ed25519.PublicKey(id.ReceiptPublicKey)))
			if err != nil {
				return err
			}
			fmt.Fprintf(app.Stdout, "%d packages acknowledged and erased\n", n)
			for _, b := range bad {
				fmt.Fprintf(app.Stdout, "  receipt for %s does not verify: package kept\n", b)
			}
			if len(bad) > 0 {
				return fmt.Errorf("%d receipts refused", len(bad))
			}
			return nil
		},
	})
}
