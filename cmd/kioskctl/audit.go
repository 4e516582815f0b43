package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strconv"

	"eidkiosk/fleetproto"
	"eidkiosk/internal/cli"
	"eidkiosk/kiosk/audit"
	"eidkiosk/kiosk/config"
	"eidkiosk/provisioning"
)

func init() {
	var cfgPath, state string
	var asJSON bool
	var since uint64
	flags := func(fs *flag.FlagSet) {
		fs.StringVar(&cfgPath, "config", config.DefaultPath, "kiosk configuration file (for state.dir); defaults when absent")
		fs.StringVar(&state, "state", "", "state directory holding audit/ (default: state.dir of the configuration)")
	}
	app.Register(&cli.Command{
		Name:    "audit show",
		Summary: "print the terminal's audit log (starts, visit outcomes, technician logins, updates, tamper...; nothing personal), oldest first",
		Flags: func(fs *flag.FlagSet) {
			flags(fs)
			fs.Uint64Var(&since, "since", 0, "only entries after this sequence number")
			fs.BoolVar(&asJSON, "json", false, "print the entries as JSON lines, as written")
		},
		Run: func(ctx context.Context, args []string) error {
			state, err := resolveStateDir(cfgPath, state)
			if err != nil {
				return err
			}
			es, torn, err := audit.Read(audit.DirIn(state))
			if err != nil {
				return err
			}
			enc := json.NewEncoder(app.Stdout)
			for _, e := range es {
				if e.Seq <= since {
					continue
				}
				if asJSON {
					if err := enc.Encode(e); err != nil {
						return err
					}
					continue
				}
				fmt.Fprintln(app.Stdout, e)
			}
			if torn {
				fmt.Fprintln(app.Stderr, "audit: the last line is torn (a power loss while writing); the kiosk removes it at its next start")
			}
			return nil
		},
	}, &cli.Command{
		Name: "audit verify",
		Summary: "verify the terminal's audit log: every entry's hash, the chain across files, every checkpoint's signature " +
			"with the device key (when provisioned); exits non-zero on an edited, deleted or moved entry",
		Flags: flags,
		Run: func(ctx context.Context, args []string) error {
			state, err := resolveStateDir(cfgPath, state)
			if err != nil {
				return err
			}
			var keys fleetproto.AuditKeys
			id, err := provisioning.LoadIdentity(state)
			switch {
			case err == nil:
				defer id.Close()
				if keys, err = audit.KeysOf(id.Signer.Public()); err != nil {
					return err
				}
			case errors.Is(err, provisioning.ErrNotProvisioned):
				fmt.Fprintln(app.Stderr, "audit: terminal not provisioned: checkpoint signatures are not checked")
			default:
				return fmt.Errorf("audit: the device key, to check signatures: %w", err)
			}
			s, err := audit.Verify(audit.DirIn(state), keys)
			if err != nil {
				return err
			}
			fmt.Fprintf(app.Stdout, "audit log verified: %s\n", s)
			return nil
		},
	})
}

// auditExport records an outbox export in the terminal's audit log (the
// kiosk signs it at its next checkpoint). A failure is reported, not fatal:
// the packages are exported.
func auditExport(state string, n int) {
	l, err := audit.Open(audit.Options{Dir: audit.DirIn(state)})
	if err == nil {
		err = l.Record(audit.EventOutboxExport, "count", strconv.Itoa(n), "by", "kioskctl")
		l.Close()
	}
	if err != nil {
		fmt.Fprintf(app.Stderr, "outbox export: not recorded in the audit log: %v\n", err)
	}
}
