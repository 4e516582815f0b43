package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"eidkiosk/eidcred"
	"eidkiosk/internal/cli"
	"eidkiosk/kiosk/config"
	"eidkiosk/kiosk/eidverify"
)

// errNotValid makes `eid verify` exit non-zero for every decision but
// "valid" (the decision itself is printed).
var errNotValid = errors.New("not valid")

// parseAt reads --at: RFC 3339, or an offset from now ("+25h", "-2m").
func parseAt(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return now, nil
	}
	if s[0] == '+' || s[0] == '-' {
		d, err := time.ParseDuration(s)
		if err != nil {
			return time.Time{}, fmt.Errorf("--at %q: %w", s, err)
		}
		return now.Add(d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--at %q: want RFC 3339 or +DURATION: %w", s, err)
	}
	return t, nil
}

func init() {
	var cfgPath, state, at string
	var skew, maxAge time.Duration
	app.Register(&cli.Command{
		Name:    "eid verify",
		Summary: "read a phone e-ID QR code from an image and verify it offline; exits non-zero unless valid",
		Help: "IMAGE is a PNG or JPEG file, or - for standard input. The issuer keys and the revocation list\n" +
			"come from the state directory (eid-issuers.json, eid-revocation.cose; `kioskctl eid refresh` fetches them).\n" +
			"Prints: valid, expired, revoked, not_genuine, presented_late or stale_revocation, with the reason.",
		Usage: "IMAGE|-",
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&cfgPath, "config", config.DefaultPath, "kiosk configuration file (for state.dir); defaults when absent")
			fs.StringVar(&state, "state", "", "state directory (default: state.dir of the configuration)")
			fs.StringVar(&at, "at", "", "judge at this time instead of now: RFC 3339 or an offset such as +25h")
			fs.DurationVar(&skew, "skew", eidcred.DefaultSkew, "how far the presentation's time may be from the judging time")
			fs.DurationVar(&maxAge, "max-list-age", eidcred.DefaultMaxListAge, "how old the revocation list may be for a \"valid\"")
		},
		Run: func(ctx context.Context, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("want one IMAGE or -: %w", cli.ErrUsage)
			}
			state, err := resolveStateDir(cfgPath, state)
			if err != nil {
				return err
			}
			when, err := parseAt(at, time.Now())
			if err != nil {
				return err
			}
			var b []byte
			if args[0] == "-" {
				b, err = io.ReadAll(io.LimitReader(os.Stdin, 32<<20))
			} else {
				b, err = os.ReadFile(args[0])
			}
			if err != nil {
				return err
			}
			p, err := eidverify.LoadPolicy(state)
			if err != nil {
				return err
			}
			p.Skew, p.MaxListAge = skew, maxAge
			img, err := eidverify.DecodeFile(b)
			if err != nil {
				return err
			}
			r, err := eidverify.VerifyImage(img, when, p)
			if err != nil {
				return err
			}
			printResult(r)
			if r.Status != eidcred.Valid {
				return fmt.Errorf("%s (%s): %w", r.Status, r.Reason, errNotValid)
			}
			return nil
		},
	})
	app.Register(&cli.Command{
		Name:    "eid refresh",
		Summary: "fetch the e-ID issuer keys and the revocation list from the authority into the state directory",
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&cfgPath, "config", config.DefaultPath, "kiosk configuration file (for state.dir); defaults when absent")
			fs.StringVar(&state, "state", "", "state directory (default: state.dir of the configuration)")
		},
		Run: func(ctx context.Context, args []string) error {
			state, err := resolveStateDir(cfgPath, state)
			if err != nil {
				return err
			}
			l, err := eidverify.Refresh(ctx, state)
			if err != nil {
				return err
			}
			fmt.Fprintf(app.Stdout, "issuer keys and revocation list (%s, %d revoked) saved in %s\n",
				l.IssuedAt().Format(time.RFC3339), len(l.EIDs), state)
			return nil
		},
	})
}

// printResult prints a decision; the masked name is what the kiosk's
// screen shows too.
func printResult(r eidcred.Result) {
	line := string(r.Status)
	if r.Reason != eidcred.ReasonOK && string(r.Reason) != string(r.Status) {
		line += " (" + string(r.Reason) + ")"
	}
	if !r.Name.IsZero() {
		line += ": " + r.Name.Reveal() + ", credential valid until " + r.NotAfter.Format(time.RFC3339)
	}
	if r.Err != nil && r.Status == eidcred.NotGenuine {
		line += ": " + strings.TrimPrefix(r.Err.Error(), "eidcred: ")
	}
	fmt.Fprintln(app.Stdout, line)
}
