package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"eidkiosk/internal/cli"
	"eidkiosk/kiosk/config"
	"eidkiosk/kiosk/update"
	"eidkiosk/kiosk/update/repo"
)

// City IT's release workflow; see docs/release.md.
func init() {
	var repoDir, offline, online, file, version, channels, minVersion, name, stations, binary, assets, out string
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
		fs.StringVar(&channels, "channels", "pilot=100,stable=0", "rollout per channel: CHANNEL=PERCENT,... (terminals whose cohort is below PERCENT take it)")
		fs.DurationVar(&targetsLife, "expires", repo.TargetsLifetime, "lifetime of the signed targets metadata; sign again before it runs out")
	}
	app.Register(&cli.Command{
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
		Summary: "pack a kiosk binary and its assets into a release archive (tar.gz) for `release sign`",
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&binary, "binary", "bin/kiosk", "the kiosk binary")
			fs.StringVar(&assets, "assets", "", "directory of assets shipped with it (models, fonts); empty: none")
			fs.StringVar(&out, "out", "", "archive to write, e.g. kiosk-2.1.0.tar.gz")
		},
		Run: func(ctx context.Context, args []string) error {
			if out == "" {
				return fmt.Errorf("release pack: --out is required: %w", cli.ErrUsage)
			}
			err := repo.Pack(out, binary, assets, func(name string, n int64) {
				fmt.Fprintf(app.Stderr, "\rpacked %-40.40s %8.1f MiB", name, float64(n)/(1<<20))
			})
			fmt.Fprintln(app.Stderr)
			if err != nil {
				return err
			}
			fmt.Fprintf(app.Stdout, "%s written\n", out)
			return nil
		},
	}, &cli.Command{
		Name:    "release sign",
		Summary: "add a kiosk release to the repository's targets, signed with the offline targets keys (then run `release publish`)",
		Flags: func(fs *flag.FlagSet) {
			repoFlag(fs)
			offlineFlag(fs)
			channelFlags(fs)
			fs.StringVar(&file, "file", "", "the release archive made by kioskctl release pack")
			fs.StringVar(&version, "version", "", "its version, e.g. 2.1.0 (semantic versioning)")
			fs.StringVar(&minVersion, "min-version", "", "terminals running below this take the release whatever their cohort (security fix)")
			fs.StringVar(&name, "name", "", "target path; default kiosk/VERSION/kiosk.tar.gz")
		},
		Run: func(ctx context.Context, args []string) error {
			if repoDir == "" || offline == "" {
				return fmt.Errorf("release sign: --repo and --offline-keys are required: %w", cli.ErrUsage)
			}
			ch, err := parseChannels(channels)
			if err != nil {
				return err
			}
			var add []repo.Target
			if file != "" {
				if version == "" {
					return fmt.Errorf("release sign: --version is required with --file: %w", cli.ErrUsage)
				}
				if name == "" {
					name = "kiosk/" + version + "/kiosk.tar.gz"
				}
				add = append(add, repo.Target{File: file, Name: name, Meta: update.TargetMeta{Kind: update.KindRelease,
					Version: version, Channels: ch, MinVersion: minVersion}})
			}
			v, err := repo.Sign(repoDir, offline, add, nil, time.Now(), targetsLife)
			if err != nil {
				return err
			}
			fmt.Fprintf(app.Stdout, "targets version %d signed and staged; publish it with `kioskctl release publish`\n", v)
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
			ch, err := parseChannels(channels)
			if err != nil {
				return err
			}
			v, err := repo.Rollout(repoDir, offline, args[0], ch, minVersion, time.Now(), targetsLife)
			if err != nil {
				return err
			}
			fmt.Fprintf(app.Stdout, "targets version %d signed and staged; publish it with `kioskctl release publish`\n", v)
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
			ch, err := parseChannels(channels)
			if err != nil {
				return err
			}
			var st []string
			if stations != "" {
				st = strings.Split(stations, ",")
			}
			v, err := repo.Sign(repoDir, offline, []repo.Target{{File: file, Name: fmt.Sprintf("config/%d/kiosk.toml", configVersion),
				Meta: update.TargetMeta{Kind: update.KindConfig, ConfigVersion: configVersion, Channels: ch, Stations: st}}}, nil, time.Now(), targetsLife)
			if err != nil {
				return err
			}
			fmt.Fprintf(app.Stdout, "configuration %d signed in targets version %d; publish it with `kioskctl release publish`\n", configVersion, v)
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
				fmt.Fprintln(app.Stdout, "next: kioskctl release sign (no --file) to re-sign the targets with the new keys, then release publish")
			} else {
				fmt.Fprintln(app.Stdout, "next: copy the repository and the new keys to the publishing server and run kioskctl release publish")
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
				if e.Meta.Kind == update.KindConfig {
					ver = strconv.FormatInt(e.Meta.ConfigVersion, 10)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%.16s…\n", e.Name, e.Meta.Kind, ver, formatChannels(e.Meta.Channels), e.Meta.MinVersion, e.Length, e.SHA256)
			}
			return tw.Flush()
		},
	})
}

func parseChannels(s string) (map[string]int, error) {
	out := map[string]int{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 0 || n > 100 || (k != "pilot" && k != "stable") {
			return nil, errors.New("release: --channels must read like pilot=100,stable=10 (channels pilot and stable, percent 0-100)")
		}
		out[k] = n
	}
	return out, nil
}

func formatChannels(m map[string]int) string {
	var parts []string
	for _, k := range []string{"pilot", "stable"} {
		if v, ok := m[k]; ok {
			parts = append(parts, fmt.Sprintf("%s=%d%%", k, v))
		}
	}
	return strings.Join(parts, ",")
}
