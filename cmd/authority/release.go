package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	repo "eidkiosk/authority/release"
	"eidkiosk/internal/cli"
	"eidkiosk/kiosk/config"
	"eidkiosk/updatemeta"
)

// City IT's release workflow (docs/release.md): `eidkiosk-authority
// release …`, run as the authority's user on the publishing server, or on
// the air-gapped signing machine for the offline steps.
func init() {
	var repoDir, offline, online, file, version, channels, minVersion, name, stations, binary, assets, sbom, out, exempt string
	var rootKeys, rootThreshold, targetsKeys, targetsThreshold int
	var configVersion int64
	var targetsLife, snapLife, tsLife time.Duration
	repoFlag := func(fs *flag.FlagSet) {
		fs.StringVar(&repoDir, "repo", "", "the TUF repository directory (a copy on the signing machine, or the one the authority serves)")
	}
	offlineFlag := func(fs *flag.FlagSet) {
		fs.StringVar(&offline, "offline-keys", "", "directory of the offline root and targets keys (removable media of the air-gapped signing machine)")
	}
	onlineFlag := func(fs *flag.FlagSet) {
		fs.StringVar(&online, "online-keys", "", "directory of the online snapshot and timestamp keys (on the publishing server)")
	}
	channelFlags := func(fs *flag.FlagSet) {
		fs.StringVar(&channels, "channels", "", "the rollout plan, required: CHANNEL=PERCENT,... e.g. pilot=100,stable=10 "+
			"(terminals on CHANNEL whose cohort 0-99 is below PERCENT take it; new terminals follow stable)")
		fs.DurationVar(&targetsLife, "expires", repo.TargetsLifetime, "lifetime of the signed targets metadata; sign again before it runs out")
	}
	plan := func(cmd string) (map[string]int, error) {
		if channels == "" {
			return nil, fmt.Errorf("%s: --channels is required: say who gets it, e.g. --channels pilot=100,stable=10 "+
				"(new terminals follow stable; stable=0 reaches none of them): %w", cmd, cli.ErrUsage)
		}
		ch, err := updatemeta.ParseChannels(channels)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cmd, err)
		}
		return ch, nil
	}
	app.Register(&cli.Command{
		Name:    "release",
		Summary: "city IT's release tool: init, pack, sign, rollout, config, publish, rotate, list (docs/release.md)",
		Usage:   "COMMAND (init, pack, sign, rollout, config, publish, rotate, list; each has --help)",
		Run: func(ctx context.Context, args []string) error {
			if len(args) > 0 {
				fmt.Fprintf(app.Stderr, "authority release: unknown command %q\n", args[0])
			}
			return app.Run(ctx, []string{"help"})
		},
	}, &cli.Command{
		Name:    "release init",
		Summary: "create a TUF repository and its keys: offline root and targets keys, online snapshot and timestamp keys",
		Flags: func(fs *flag.FlagSet) {
			repoFlag(fs)
			offlineFlag(fs)
			onlineFlag(fs)
			fs.IntVar(&rootKeys, "root-keys", 1, "number of root keys (one per key holder)")
			fs.IntVar(&rootThreshold, "root-threshold", 1, "root signatures needed to trust a new root")
			fs.IntVar(&targetsKeys, "targets-keys", 1, "number of targets (release signing) keys")
			fs.IntVar(&targetsThreshold, "targets-threshold", 1, "targets signatures needed to trust a release")
		},
		Run: func(ctx context.Context, args []string) error {
			if repoDir == "" || offline == "" || online == "" {
				return fmt.Errorf("release init: --repo, --offline-keys and --online-keys are required: %w", cli.ErrUsage)
			}
			err := repo.Init(repoDir, offline, online, repo.InitOptions{RootKeys: rootKeys, RootThreshold: rootThreshold,
				TargetsKeys: targetsKeys, TargetsThreshold: targetsThreshold})
			if err != nil {
				return err
			}
			fmt.Fprintf(app.Stdout, "repository created in %s\n  %s/root.json: give it to provisioning (every terminal trusts it)\n  offline keys in %s: move them to removable media, keep them off the network\n  online keys in %s: copy them to the publishing server\n", repoDir, repoDir, offline, online)
			return nil
		},
	}, &cli.Command{
		Name:    "release pack",
		Summary: "pack a kiosk binary (and assets, if any) into a release archive (tar.gz) for `release sign`; refuses a binary whose --version differs",
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&binary, "binary", "bin/kiosk", "the kiosk binary, built with make build VERSION=X.Y.Z")
			fs.StringVar(&version, "version", "", "the release's version, e.g. 2.1.0: the binary's own --version must say the same")
			fs.StringVar(&assets, "assets", "", "optional directory shipped beside the binary under assets/ (the kiosk needs none: its face models and CJK fonts come from Debian packages)")
			fs.StringVar(&out, "out", "", "archive to write; default kiosk-VERSION.tar.gz")
			fs.StringVar(&sbom, "sbom", "", "the binary's CycloneDX SBOM (make deb writes dist/sbom/kiosk.cdx.json), signed and published inside the release as "+repo.SBOMName)
		},
		Run: func(ctx context.Context, args []string) error {
			if version == "" {
				return fmt.Errorf("release pack: --version is required: %w", cli.ErrUsage)
			}
			if out == "" {
				out = "kiosk-" + version + ".tar.gz"
			}
			err := repo.Pack(ctx, repo.PackOptions{Out: out, Binary: binary, Assets: assets, Version: version, SBOM: sbom,
				Progress: func(name string, n int64) {
					fmt.Fprintf(app.Stderr, "\rpacked %-40.40s %8.1f MiB", name, float64(n)/(1<<20))
				}})
			fmt.Fprintln(app.Stderr)
			if err != nil {
				return err
			}
			fmt.Fprintf(app.Stdout, "%s written (release %s)\n", out, version)
			return nil
		},
	}, &cli.Command{
		Name:    "release sign",
		Summary: "add a kiosk release to the repository's targets, signed with the offline targets keys (then run `release publish`)",
		Flags: func(fs *flag.FlagSet) {
			repoFlag(fs)
			offlineFlag(fs)
			channelFlags(fs)
			fs.StringVar(&file, "file", "", "the release archive made by release pack")
			fs.StringVar(&version, "version", "", "its version, e.g. 2.1.0; default: the version release pack recorded in the archive")
			fs.StringVar(&exempt, "exempt", "", "comma-separated health checks this release is not judged on during its own trial (e.g. reader, for a reader fix)")
			fs.StringVar(&minVersion, "min-version", "", "terminals running below this take the release whatever their cohort (security fix)")
			fs.StringVar(&name, "name", "", "target path; default kiosk/VERSION/kiosk.tar.gz")
		},
		Run: func(ctx context.Context, args []string) error {
			if repoDir == "" || offline == "" {
				return fmt.Errorf("release sign: --repo and --offline-keys are required: %w", cli.ErrUsage)
			}
			var add []repo.Target
			if file != "" {
				ch, err := plan("release sign")
				if err != nil {
					return err
				}
				packed, err := repo.PackedVersion(file)
				if err != nil {
					return err
				}
				switch {
				case version == "" && packed == "":
					return fmt.Errorf("release sign: --version is required (the archive records none): %w", cli.ErrUsage)
				case version == "":
					version = packed
				case packed != "" && packed != version:
					return fmt.Errorf("release sign: %s was packed as release %s, not %s", file, packed, version)
				}
				if name == "" {
					name = "kiosk/" + version + "/kiosk.tar.gz"
				}
				var ex []string
				if exempt != "" {
					ex = strings.Split(exempt, ",")
				}
				add = append(add, repo.Target{File: file, Name: name, Meta: updatemeta.TargetMeta{Kind: updatemeta.KindRelease,
					Version: version, Channels: ch, MinVersion: minVersion, Exempt: ex}})
				fmt.Fprintf(app.Stdout, "release %s: %s\n", version, describePlan(ch))
			}
			v, err := repo.Sign(repoDir, offline, add, nil, time.Now(), targetsLife)
			if err != nil {
				return err
			}
			fmt.Fprintf(app.Stdout, "targets version %d signed and staged; publish it with `eidkiosk-authority release publish`\n", v)
			return nil
		},
	}, &cli.Command{
		Name:    "release rollout",
		Summary: "change the channels and rollout percentage of a release already in the repository (offline targets keys)",
		Usage:   "VERSION",
		Flags: func(fs *flag.FlagSet) {
			repoFlag(fs)
			offlineFlag(fs)
			channelFlags(fs)
			fs.StringVar(&minVersion, "min-version", "", "terminals running below this take the release whatever their cohort")
		},
		Run: func(ctx context.Context, args []string) error {
			if len(args) != 1 || repoDir == "" || offline == "" {
				return fmt.Errorf("release rollout: VERSION, --repo and --offline-keys are required: %w", cli.ErrUsage)
			}
			ch, err := plan("release rollout")
			if err != nil {
				return err
			}
			fmt.Fprintf(app.Stdout, "release %s: %s\n", args[0], describePlan(ch))
			v, err := repo.Rollout(repoDir, offline, args[0], ch, minVersion, time.Now(), targetsLife)
			if err != nil {
				return err
			}
			fmt.Fprintf(app.Stdout, "targets version %d signed and staged; publish it with `eidkiosk-authority release publish`\n", v)
			return nil
		},
	}, &cli.Command{
		Name:    "release config",
		Summary: "sign a kiosk configuration (kiosk.toml) as a target, validated first, for terminals to apply",
		Flags: func(fs *flag.FlagSet) {
			repoFlag(fs)
			offlineFlag(fs)
			channelFlags(fs)
			fs.StringVar(&file, "file", "", "the kiosk.toml to deliver")
			fs.Int64Var(&configVersion, "config-version", 0, "its version, an integer above every earlier one")
			fs.StringVar(&stations, "stations", "", "comma-separated station IDs it is for; empty: every station")
		},
		Run: func(ctx context.Context, args []string) error {
			if repoDir == "" || offline == "" || file == "" || configVersion <= 0 {
				return fmt.Errorf("release config: --repo, --offline-keys, --file and --config-version are required: %w", cli.ErrUsage)
			}
			b, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			if _, err := config.Parse(string(b)); err != nil {
				return fmt.Errorf("release config: %s is refused: %w", file, err)
			}
			ch, err := plan("release config")
			if err != nil {
				return err
			}
			var st []string
			if stations != "" {
				st = strings.Split(stations, ",")
			}
			v, err := repo.Sign(repoDir, offline, []repo.Target{{File: file, Name: fmt.Sprintf("config/%d/kiosk.toml", configVersion),
				Meta: updatemeta.TargetMeta{Kind: updatemeta.KindConfig, ConfigVersion: configVersion, Channels: ch, Stations: st}}}, nil, time.Now(), targetsLife)
			if err != nil {
				return err
			}
			fmt.Fprintf(app.Stdout, "configuration %d signed in targets version %d; publish it with `eidkiosk-authority release publish`\n", configVersion, v)
			return nil
		},
	}, &cli.Command{
		Name:    "release publish",
		Summary: "publish staged targets and sign a fresh snapshot and timestamp with the online keys (also run daily)",
		Flags: func(fs *flag.FlagSet) {
			repoFlag(fs)
			onlineFlag(fs)
			fs.DurationVar(&snapLife, "snapshot-expires", repo.SnapshotLifetime, "lifetime of the snapshot")
			fs.DurationVar(&tsLife, "timestamp-expires", repo.TimestampLifetime, "lifetime of the timestamp; publish again well before it runs out")
		},
		Run: func(ctx context.Context, args []string) error {
			if repoDir == "" || online == "" {
				return fmt.Errorf("release publish: --repo and --online-keys are required: %w", cli.ErrUsage)
			}
			if err := repo.Publish(repoDir, online, time.Now(), snapLife, tsLife); err != nil {
				return err
			}
			fmt.Fprintf(app.Stdout, "published; the timestamp expires %s\n", time.Now().Add(tsLife).UTC().Format(time.RFC3339))
			return nil
		},
	}, &cli.Command{
		Name:    "release rotate",
		Summary: "replace the keys of a role (e.g. a lost or stolen timestamp key) in a new root signed with the offline root keys",
		Usage:   "ROLE",
		Flags: func(fs *flag.FlagSet) {
			repoFlag(fs)
			offlineFlag(fs)
			onlineFlag(fs)
			fs.IntVar(&rootKeys, "keys", 1, "number of new keys for the role")
			fs.IntVar(&rootThreshold, "threshold", 1, "signatures of the new keys needed")
		},
		Run: func(ctx context.Context, args []string) error {
			if len(args) != 1 || repoDir == "" || offline == "" {
				return fmt.Errorf("release rotate: ROLE (root, targets, snapshot, timestamp), --repo and --offline-keys are required: %w", cli.ErrUsage)
			}
			keyDir := offline
			if args[0] == "snapshot" || args[0] == "timestamp" {
				if online == "" {
					return fmt.Errorf("release rotate: --online-keys is required for %s: %w", args[0], cli.ErrUsage)
				}
				keyDir = online
			}
			v, err := repo.RotateKeys(repoDir, offline, keyDir, args[0], rootKeys, rootThreshold, time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintf(app.Stdout, "root version %d written with new %s keys in %s (old ones renamed *.retired)\n", v, args[0], keyDir)
			if args[0] == "targets" {
				fmt.Fprintln(app.Stdout, "next: eidkiosk-authority release sign (no --file) to re-sign the targets with the new keys, then release publish")
			} else {
				fmt.Fprintln(app.Stdout, "next: copy the repository and the new keys to the publishing server and run eidkiosk-authority release publish")
			}
			return nil
		},
	}, &cli.Command{
		Name:    "release list",
		Summary: "list the releases and configurations in the repository with their rollout",
		Flags:   repoFlag,
		Run: func(ctx context.Context, args []string) error {
			if repoDir == "" {
				return fmt.Errorf("release list: --repo is required: %w", cli.ErrUsage)
			}
			v, exp, es, err := repo.List(repoDir)
			if err != nil {
				return err
			}
			fmt.Fprintf(app.Stdout, "targets version %d, expires %s\n", v, exp.UTC().Format(time.RFC3339))
			tw := tabwriter.NewWriter(app.Stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TARGET\tKIND\tVERSION\tCHANNELS\tMIN\tBYTES\tSHA256")
			for _, e := range es {
				ver := e.Meta.Version
				if e.Meta.Kind == updatemeta.KindConfig {
					ver = strconv.FormatInt(e.Meta.ConfigVersion, 10)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%.16s…\n", e.Name, e.Meta.Kind, ver, updatemeta.FormatChannels(e.Meta.Channels), e.Meta.MinVersion, e.Length, e.SHA256)
			}
			return tw.Flush()
		},
	})
}

// describePlan says in words who gets a release under a rollout plan.
func describePlan(ch map[string]int) string {
	var parts []string
	for _, c := range updatemeta.Channels {
		p, ok := ch[c]
		switch {
		case !ok || p == 0:
			parts = append(parts, "no terminal on "+c)
		case p == 100:
			parts = append(parts, "every terminal on "+c)
		default:
			parts = append(parts, fmt.Sprintf("terminals on %s in cohorts 0-%d (%d%%)", c, p-1, p))
		}
	}
	s := strings.Join(parts, ", ")
	if ch["stable"] == 0 {
		s += "; new terminals follow stable and get nothing until a rollout raises it"
	}
	return s
}
