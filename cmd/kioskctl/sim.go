package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"eidkiosk/drivers/idcard/sim"
	"eidkiosk/internal/cli"
)

// sim reader: a simulated GA 467 ID-card reader on a pty.
func init() {
	var (
		deck, link      string
		baud            int
		throttle, trace bool
	)
	app.Register(&cli.Command{
		Name:    "sim reader",
		Summary: "run a simulated ID-card reader on a pty, print its tty path, and take place/remove/fault commands on stdin",
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&deck, "deck", "", "deck file of synthetic cards (TOML, [[card]] tables); empty: the built-in deck")
			fs.StringVar(&link, "link", "", "stable path for the tty (a symlink to /dev/pts/N); empty: a new temporary directory")
			fs.IntVar(&baud, "baud", 115200, "the simulated SAM's line rate")
			fs.BoolVar(&throttle, "throttle", true, "pace answers to the line rate, as a real serial line would")
			fs.BoolVar(&trace, "trace", false, "print every request and answer (no card data) on stderr")
		},
		Run: func(ctx context.Context, args []string) error {
			o := sim.Options{Baud: baud, Throttle: throttle, Link: link}
			if deck != "" {
				d, err := sim.LoadDeck(deck)
				if err != nil {
					return err
				}
				o.Deck = d
			}
			if trace {
				o.Trace = app.Stderr
			}
			s, err := sim.Start(o)
			if err != nil {
				return err
			}
			defer s.Close()
			fmt.Fprintln(app.Stdout, s.Path())
			fmt.Fprintf(app.Stderr, "simulated reader at %s (%d baud, %d cards); 'help' lists commands; try: kioskctl card watch --port %s\n",
				s.Path(), s.Baud(), len(s.Deck()), s.Path())
			return s.Console(ctx, os.Stdin, app.Stdout)
		},
	})
}
