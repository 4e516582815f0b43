package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"eidkiosk/internal/cli"
	"eidkiosk/kiosk/config"
	"eidkiosk/provisioning"
	"eidkiosk/provisioning/techpin"
)

// errNoPINSource: no --technician-pin-file and no terminal to ask on.
var errNoPINSource = errors.New("kioskctl: no technician PIN: give --technician-pin-file FILE (one line of digits; - reads standard input), or run on a terminal to be asked")

// readSecretFile reads the first line of path ("-": standard input), so
// secrets never appear on the command line (ps, shell history).
func readSecretFile(path string) (string, error) {
	var r io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return "", fmt.Errorf("kioskctl: %w", err)
		}
		defer f.Close()
		r = f
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("kioskctl: reading %s: %w", path, err)
	}
	return strings.TrimSpace(line), nil
}

// technicianPIN gets the new PIN from file, else asks twice on the
// terminal without echo; it is validated before anything else happens.
func technicianPIN(file string) (string, error) {
	if file != "" {
		pin, err := readSecretFile(file)
		if err != nil {
			return "", err
		}
		return pin, techpin.Validate(pin)
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return "", errNoPINSource
	}
	for {
		fmt.Fprintf(app.Stdout, "New technician PIN (%d-%d digits; opens technician mode: 5 taps in the top-left corner): ", techpin.MinLen, techpin.MaxLen)
		a, err := term.ReadPassword(fd)
		fmt.Fprintln(app.Stdout)
		if err != nil {
			return "", fmt.Errorf("kioskctl: reading the PIN: %w", err)
		}
		if err := techpin.Validate(string(a)); err != nil {
			fmt.Fprintln(app.Stdout, err)
			continue
		}
		fmt.Fprint(app.Stdout, "The same PIN again: ")
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(app.Stdout)
		if err != nil {
			return "", fmt.Errorf("kioskctl: reading the PIN: %w", err)
		}
		if string(a) == string(b) {
			return string(a), nil
		}
		fmt.Fprintln(app.Stdout, "The two PINs differ; again.")
	}
}

// resolveStateDir is state, or state.dir of the configuration at cfgPath.
func resolveStateDir(cfgPath, state string) (string, error) {
	if state != "" {
		return state, nil
	}
	cfg, err := provConfig(cfgPath)
	if err != nil {
		return "", err
	}
	return cfg.State.Dir, nil
}

// setTechnicianPIN stores the PIN's hash and hands it to the kiosk's user.
func setTechnicianPIN(state, pin string) error {
	if err := techpin.Set(state, pin); err != nil {
		return err
	}
	return provisioning.FixOwnership(state)
}

func init() {
	var cfgPath, state, pinFile string
	app.Register(&cli.Command{
		Name:    "provision pin",
		Summary: "set or change the technician PIN (kept as an argon2id hash in the state directory); the kiosk reads it at start",
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&cfgPath, "config", config.DefaultPath, "kiosk configuration file; defaults when absent")
			fs.StringVar(&state, "state", "", "state directory (default: state.dir of the configuration)")
			fs.StringVar(&pinFile, "technician-pin-file", "", "read the PIN from this file's first line (- reads standard input); default: ask")
		},
		Run: func(ctx context.Context, args []string) error {
			state, err := resolveStateDir(cfgPath, state)
			if err != nil {
				return err
			}
			pin, err := technicianPIN(pinFile)
			if err != nil {
				return err
			}
			if err := setTechnicianPIN(state, pin); err != nil {
				return err
			}
			fmt.Fprintln(app.Stdout, "Technician PIN set. The kiosk reads it when it starts: `systemctl restart eidkiosk-kiosk`.")
			return nil
		},
	})
}
