package main

import (
	"bufio"
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"eidkiosk/internal/cli"
	kioskapp "eidkiosk/kiosk/app"
	"eidkiosk/kiosk/config"
	"eidkiosk/provisioning"
	"eidkiosk/provisioning/selftest"
)

// provConfig loads the kiosk configuration for the provisioning commands; a
// missing file at the default path means the defaults.
func provConfig(path string) (config.Config, error) {
	c, err := config.Load(path)
	if errors.Is(err, fs.ErrNotExist) && path == config.DefaultPath {
		return config.Default(), nil
	}
	return c, err
}

func init() {
	var cfgPath, authorityURL, token, tokenFile, pinFile, state, station, fingerprint, key, serial string
	var yes, noSelftest bool
	app.Register(&cli.Command{
		Name:    "provision",
		Summary: "turn this box into a trusted terminal of a station: device key, certificate, authority keys, station configuration; then run the self-test",
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&cfgPath, "config", config.DefaultPath, "kiosk configuration file (authority URL, CA fingerprint, state directory); defaults when absent")
			fs.StringVar(&authorityURL, "authority", "", "the authority's https://HOST:PORT (default: authority.url of the configuration)")
			fs.StringVar(&token, "token", "", "the one-time `TOKEN` from city IT (eidkiosk-authority token create); visible in ps: prefer --token-file")
			fs.StringVar(&tokenFile, "token-file", "", "read the one-time token from this file's first line (- reads standard input)")
			fs.StringVar(&pinFile, "technician-pin-file", "", "read the new technician PIN from this file's first line (- reads standard input); default: ask on the terminal")
			fs.StringVar(&state, "state", "", "state directory for the identity (default: state.dir of the configuration)")
			fs.StringVar(&station, "station", "", "station ID the terminal is installed for; a token for another station is refused (default: station.id of the configuration, else accept the token's)")
			fs.StringVar(&fingerprint, "ca-fingerprint", "", "pin the authority's root CA by SHA-256 (default: authority.ca_fingerprint, else ask)")
			fs.BoolVar(&yes, "yes", false, "accept the authority's CA fingerprint without asking (scripted installs; logged)")
			fs.StringVar(&key, "key", provisioning.KeyAuto, "where the device key lives: auto (TPM when present), tpm, file")
			fs.StringVar(&serial, "serial", "", "hardware serial number (default: read from SMBIOS / device tree)")
			fs.BoolVar(&noSelftest, "no-selftest", false, "do not run the self-test after provisioning")
		},
		Run: func(ctx context.Context, args []string) error {
			cfg, err := provConfig(cfgPath)
			if err != nil {
				return err
			}
			if authorityURL == "" {
				authorityURL = cfg.Authority.URL
			}
			if state == "" {
				state = cfg.State.Dir
			}
			if fingerprint == "" {
				fingerprint = cfg.Authority.CAFingerprint
			}
			if station == "" {
				station = cfg.Station.ID // a token for another station is refused
			}
			if tokenFile != "" {
				if token, err = readSecretFile(tokenFile); err != nil {
					return err
				}
			}
			// The PIN first: a refusal must not cost the one-time token.
			pin, err := technicianPIN(pinFile)
			if err != nil {
				return err
			}
			out := app.Stdout
			in := bufio.NewReader(os.Stdin)
			_, res, err := provisioning.Provision(ctx, provisioning.ProvisionOptions{
				AuthorityURL: authorityURL, Token: token, StateDir: state, Station: strings.ToUpper(station),
				CAFingerprint: fingerprint, AssumeYes: yes, Key: key, Serial: serial,
				Progress: func(s string) { fmt.Fprintln(out, "• "+s) },
				Confirm: func(fp string, root *x509.Certificate) (bool, error) {
					fmt.Fprintf(out, "\nThe authority presents the root CA %q with SHA-256 fingerprint\n\n    %s\n\nDoes it match the fingerprint city IT gave you? [y/N] ", root.Subject.CommonName, fp)
					line, err := in.ReadString('\n')
					if err != nil && line == "" {
						return false, fmt.Errorf("no answer on standard input (use --yes or --ca-fingerprint for scripted installs)")
					}
					a := strings.ToLower(strings.TrimSpace(line))
					return a == "y" || a == "yes", nil
				},
			})
			if err != nil {
				return err
			}
			if err := setTechnicianPIN(state, pin); err != nil {
				return err
			}
			fmt.Fprintf(out, "\nProvisioned terminal %s for station %s (%s)\n  key: %s; certificate valid until %s\n  took %s\n\n",
				res.DeviceID, res.StationID, res.StationName, res.KeyKind, res.Expires.UTC().Format("2006-01-02 15:04 MST"), res.Took.Round(1e6))
			if !noSelftest {
				_, err = selftest.RunTerminal(ctx, selftest.TerminalOptions{Config: cfg, StateDir: state,
					Hardware: kioskapp.HardwareChecks(cfg), Out: out, Progress: app.Stderr, Send: true})
				if errors.Is(err, selftest.ErrFailed) {
					fmt.Fprintln(out, "\nProvisioning succeeded, but the self-test failed: fix the items marked FAIL, then run `kioskctl selftest`.")
				}
			}
			fmt.Fprintln(out, "\nThe kiosk loads its identity when it starts: `systemctl restart eidkiosk-kiosk`.")
			return err
		},
	}, &cli.Command{
		Name:    "provision status",
		Summary: "show the terminal's identity: device ID, station, key, certificate expiry, authority; exit 1 when not provisioned",
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&cfgPath, "config", config.DefaultPath, "kiosk configuration file; defaults when absent")
			fs.StringVar(&state, "state", "", "state directory (default: state.dir of the configuration)")
		},
		Run: func(ctx context.Context, args []string) error {
			id, _, err := loadIdentity(cfgPath, state)
			if err != nil {
				return err
			}
			defer id.Close()
			c := id.Certificate()
			renew := &provisioning.Renewer{Identity: id}
			fmt.Fprintf(app.Stdout, "terminal:     %s\nstation:      %s (%s)\nkey:          %s\ncertificate:  %s, valid %s to %s (renewal due: %v)\nauthority:    %s\nauthority CA: %s\nprovisioned:  %s\n",
				id.DeviceID, id.StationID, id.StationName, id.KeyKind, c.SerialNumber.Text(16),
				c.NotBefore.UTC().Format("2006-01-02"), c.NotAfter.UTC().Format("2006-01-02"), renew.Due(),
				id.AuthorityURL, provisioning.Fingerprint(id.Root), id.Provisioned.UTC().Format("2006-01-02 15:04 MST"))
			return nil
		},
	}, &cli.Command{
		Name:    "provision renew",
		Summary: "renew the device certificate now (the kiosk does it by itself when a third of its lifetime is left)",
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&cfgPath, "config", config.DefaultPath, "kiosk configuration file; defaults when absent")
			fs.StringVar(&state, "state", "", "state directory (default: state.dir of the configuration)")
		},
		Run: func(ctx context.Context, args []string) error {
			id, dir, err := loadIdentity(cfgPath, state)
			if err != nil {
				return err
			}
			defer id.Close()
			if err := (&provisioning.Renewer{Identity: id}).Renew(ctx); err != nil {
				return err
			}
			if err := provisioning.FixOwnership(dir); err != nil {
				return err
			}
			fmt.Fprintf(app.Stdout, "terminal %s: new certificate valid until %s\n", id.DeviceID, id.Expires().UTC().Format("2006-01-02 15:04 MST"))
			return nil
		},
	})
}

// loadIdentity loads the terminal's identity from state, or from the state
// directory of the configuration at cfgPath when state is empty; it returns
// the state directory it used.
func loadIdentity(cfgPath, state string) (*provisioning.Identity, string, error) {
	if state == "" {
		cfg, err := provConfig(cfgPath)
		if err != nil {
			return nil, "", err
		}
		state = cfg.State.Dir
	}
	id, err := provisioning.LoadIdentity(state)
	return id, state, err
}
