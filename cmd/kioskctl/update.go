package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"eidkiosk/internal/cli"
	"eidkiosk/kiosk/update"
	"eidkiosk/provisioning"
)

func init() {
	var cfgPath, state, repoURL, binary, version string
	var wait time.Duration
	stateDir := func() (string, error) { return resolveStateDir(cfgPath, state) }
	common := func(fs *flag.FlagSet) {
		fs.StringVar(&cfgPath, "config", "/etc/eidkiosk/kiosk.toml", "kiosk configuration file; defaults when absent")
		fs.StringVar(&state, "state", "", "state directory (default: state.dir of the configuration)")
	}
	app.Register(&cli.Command{
		Name:    "update status",
		Summary: "show the installed slots, the version floor, a release on trial, the last trial's outcome and what the agent is doing",
		Flags:   common,
		Run: func(ctx context.Context, args []string) error {
			dir, err := stateDir()
			if err != nil {
				return err
			}
			st, err := update.ReadState(dir)
			if err != nil {
				return err
			}
			l := update.NewLayout(dir)
			for _, s := range []string{update.SlotA, update.SlotB} {
				mark := " "
				if s == st.Active {
					mark = "*"
				}
				if st.Trial != nil && st.Trial.Slot == s {
					mark = "?"
				}
				m, err := l.VerifySlot(s, false)
				switch {
				case err == nil:
					fmt.Fprintf(app.Stdout, "%s slot %s: %s (installed %s from %s)\n", mark, s, m.Version, m.InstalledAt.UTC().Format(time.RFC3339), m.Target)
				case errors.Is(err, os.ErrNotExist):
					fmt.Fprintf(app.Stdout, "%s slot %s: empty\n", mark, s)
				default:
					fmt.Fprintf(app.Stdout, "%s slot %s: DAMAGED: %v\n", mark, s, err)
				}
			}
			fmt.Fprintf(app.Stdout, "version floor %s; configuration %d; metadata last fresh %s\n", st.Floor, st.ConfigVersion, updateWhen(st.LastFresh))
			if st.Trial != nil {
				fmt.Fprintf(app.Stdout, "on trial: %s in slot %s since %s (%d launches, %d starts)\n", st.Trial.Version, st.Trial.Slot, updateWhen(st.Trial.Since), st.Trial.Attempts, st.Trial.Starts)
			}
			if st.LastTrial != nil {
				fmt.Fprintf(app.Stdout, "last trial: %s %s %s %s\n", st.LastTrial.Version, st.LastTrial.Outcome, updateWhen(st.LastTrial.At), st.LastTrial.Detail)
			}
			if s, err := update.ReadStatus(dir); err == nil && s.Running() {
				fmt.Fprintf(app.Stdout, "agent: %s", s.Describe())
			} else if err == nil {
				fmt.Fprintf(app.Stdout, "agent: not running (the kiosk, pid %d, has stopped; the slots and state above are what the next start uses)\n", s.PID)
			} else {
				fmt.Fprintln(app.Stdout, "agent: no status (the kiosk is not running, or has not started its agent)")
			}
			return nil
		},
	}, &cli.Command{
		Name:    "update check",
		Summary: "verify the update repository's signed metadata as this terminal would and say what it offers; installs nothing",
		Flags: func(fs *flag.FlagSet) {
			common(fs)
			fs.StringVar(&repoURL, "repo", "", "repository URL or a directory (USB stick); default: update.repo_url, else <authority>/tuf/")
		},
		Run: func(ctx context.Context, args []string) error {
			cfg, err := provConfig(cfgPath)
			if err != nil {
				return err
			}
			dir := cfg.State.Dir
			if state != "" {
				dir = state
			}
			id, err := provisioning.LoadIdentity(dir)
			if err != nil {
				return fmt.Errorf("update check: this terminal is not provisioned (no identity in %s): %w", dir, err)
			}
			defer id.Close()
			st, err := update.ReadState(dir)
			if err != nil {
				return err
			}
			m, err := update.NewLayout(dir).ReadManifest(st.Active)
			if err != nil {
				return err
			}
			repo := repoURL
			if repo == "" {
				repo = cfg.Update.RepoURL
			}
			if repo == "" {
				repo = id.AuthorityURL + "/tuf/"
			}
			client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: id.TLSConfig()}}
			fmt.Fprintf(app.Stderr, "checking %s ...\n", repo)
			off, err := update.Inspect(ctx, update.Options{StateDir: dir, TrustedRoot: id.TUFRoot, RepoURL: repo, Client: client,
				Version: m.Version, DeviceID: id.DeviceID, Station: id.StationID, Channel: cfg.Update.Channel})
			if err != nil {
				return err
			}
			fmt.Fprintf(app.Stdout, "metadata verified: %d targets, %d bytes fetched; channel %s, cohort %d, running %s\n", off.Targets, off.Transfers, cfg.Update.Channel, off.Cohort, m.Version)
			switch {
			case off.Release == "":
				fmt.Fprintf(app.Stdout, "no release: %s\n", off.Reason)
			case off.Install:
				fmt.Fprintf(app.Stdout, "would install %s (%s, %d bytes) at the next check between visits\n", off.Release, off.Target, off.Bytes)
			default:
				fmt.Fprintf(app.Stdout, "offers %s: not installed, %s\n", off.Release, off.Reason)
			}
			if off.Config > 0 {
				fmt.Fprintf(app.Stdout, "would apply configuration %d\n", off.Config)
			}
			return nil
		},
	}, &cli.Command{
		Name:    "update now",
		Summary: "ask the kiosk's update agent to check for an update at once (and install it between visits), then show what it did",
		Flags: func(fs *flag.FlagSet) {
			common(fs)
			fs.DurationVar(&wait, "wait", 2*time.Minute, "how long to wait for the agent's check")
		},
		Run: func(ctx context.Context, args []string) error {
			dir, err := stateDir()
			if err != nil {
				return err
			}
			before, err := update.ReadStatus(dir)
			if err != nil || !before.Running() {
				return fmt.Errorf("update now: the kiosk's update agent is not running (start the kiosk; its status is in %s/update/status.json)", dir)
			}
			if err := update.RequestCheck(dir); err != nil {
				return err
			}
			fmt.Fprintln(app.Stderr, "asked the agent to check now ...")
			deadline := time.Now().Add(wait)
			for time.Now().Before(deadline) {
				s, err := update.ReadStatus(dir)
				if err == nil && s.LastCheck.After(before.LastCheck) && s.Phase != update.PhaseChecking {
					fmt.Fprintf(app.Stdout, "agent: %s", s.Describe())
					return nil
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(500 * time.Millisecond):
				}
			}
			return fmt.Errorf("update now: the agent did not check within %s (it is busy with a visit or an update; see kioskctl update status)", wait)
		},
	}, &cli.Command{
		Name:    "update launch",
		Summary: "start the kiosk from the right slot (systemd ExecStart): counts trial attempts, falls back to the committed slot",
		Usage:   "[-- KIOSK ARGS]",
		Flags:   common,
		Run: func(ctx context.Context, args []string) error {
			dir, err := stateDir()
			if err != nil {
				return err
			}
			return update.Exec(dir, args, nil)
		},
	}, &cli.Command{
		Name:    "update seed",
		Summary: "install a kiosk binary as the first committed release of a new terminal (the Debian package does this)",
		Flags: func(fs *flag.FlagSet) {
			common(fs)
			fs.StringVar(&binary, "binary", "/usr/lib/eidkiosk/kiosk", "the kiosk binary to install in slot a")
			fs.StringVar(&version, "version", "", "its version, e.g. 1.0.0")
		},
		Run: func(ctx context.Context, args []string) error {
			dir, err := stateDir()
			if err != nil {
				return err
			}
			if version == "" {
				return fmt.Errorf("update seed: --version is required: %w", cli.ErrUsage)
			}
			if err := update.Seed(dir, binary, version, time.Now()); err != nil {
				return err
			}
			fmt.Fprintf(app.Stdout, "seeded %s in %s/update/slots/a\n", version, dir)
			return nil
		},
	}, &cli.Command{
		Name:    "update install-package",
		Summary: "what the Debian package runs: seed a new terminal, or put a newer packaged kiosk on trial in the other slot",
		Flags: func(fs *flag.FlagSet) {
			common(fs)
			fs.StringVar(&binary, "binary", "/usr/lib/eidkiosk/kiosk", "the packaged kiosk binary")
			fs.StringVar(&version, "version", "", "its version, e.g. 1.0.0")
		},
		Run: func(ctx context.Context, args []string) error {
			dir, err := stateDir()
			if err != nil {
				return err
			}
			if version == "" {
				return fmt.Errorf("update install-package: --version is required: %w", cli.ErrUsage)
			}
			r, err := update.InstallPackaged(dir, binary, version, time.Now())
			if err != nil {
				return err
			}
			switch r.Outcome {
			case update.PackagedSeeded:
				fmt.Fprintf(app.Stdout, "seeded %s in %s/update/slots/%s\n", version, dir, r.Slot)
			case update.PackagedTrial:
				fmt.Fprintf(app.Stdout, "%s installed in slot %s, on trial from the next start (the terminal had %s)\n", version, r.Slot, r.Have)
			default:
				fmt.Fprintf(app.Stdout, "%s: %s\n", r.Outcome, r.Detail)
			}
			return nil
		},
	})
}

func updateWhen(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}
