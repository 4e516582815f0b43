package main

import (
	"context"
	"flag"
	"fmt"

	"eidkiosk/internal/cli"
	"eidkiosk/kiosk/config"
)

func init() {
	var path string
	var comments bool
	app.Register(&cli.Command{
		Name:    "config example",
		Summary: "print the default configuration as TOML, every key with its default (--comments: with its meaning)",
		Flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&comments, "comments", false, "each section and key with its meaning above it (docs/configuration.md)")
		},
		Run: func(ctx context.Context, args []string) error {
			if comments {
				fmt.Fprint(app.Stdout, config.ExampleCommented())
				return nil
			}
			fmt.Fprint(app.Stdout, config.Example())
			return nil
		},
	}, &cli.Command{
		Name:    "config check",
		Summary: "validate a configuration file; prints the reason and exits 1 when it is refused",
		Flags:   func(fs *flag.FlagSet) { fs.StringVar(&path, "config", config.DefaultPath, "configuration file") },
		Run: func(ctx context.Context, args []string) error {
			if _, err := config.Load(path); err != nil {
				return err
			}
			fmt.Fprintf(app.Stdout, "%s: ok\n", path)
			return nil
		},
	})
}
