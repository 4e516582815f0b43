package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"time"

	"eidkiosk/drivers/idcard"
	"eidkiosk/internal/cli"
)

// card read / card watch: the technician's check of an ID-card reader.
func init() {
	var (
		port, decoder      string
		baud               int
		asJSON, reveal     bool
		probe, fingerprint bool
		wait, interval     time.Duration
	)
	common := func(fs *flag.FlagSet) {
		fs.StringVar(&port, "port", "/dev/idcard", "serial device of the reader, e.g. /dev/ttyUSB0")
		fs.IntVar(&baud, "baud", 115200, "line rate: 115200, 57600, 38400, 19200 or 9600")
		fs.BoolVar(&probe, "probe", true, "try the other rates when the reader does not answer at --baud")
		fs.BoolVar(&fingerprint, "fingerprint", false, "read with the fingerprint templates (30 10)")
		fs.BoolVar(&reveal, "reveal", false, "show names and numbers in full (only with the card holder's consent)")
		fs.StringVar(&decoder, "photo-decoder", "", "vendor WLT decoder executable (reads WLT on stdin, writes BMP); empty: keep the raw WLT")
	}
	photo := func() (idcard.PhotoDecoder, error) { return idcard.NewPhotoDecoder(decoder, 0) }

	app.Register(&cli.Command{
		Name:    "card read",
		Summary: "read one card: SAM ID, the card's fields (masked unless --reveal) and timings",
		Flags: func(fs *flag.FlagSet) {
			common(fs)
			fs.BoolVar(&asJSON, "json", false, "print JSON instead of text")
			fs.DurationVar(&wait, "wait", 10*time.Second, "how long to wait for a card to be placed")
		},
		Run: func(ctx context.Context, args []string) error {
			dec, err := photo()
			if err != nil {
				return err
			}
			progress := func(msg string) { fmt.Fprintln(app.Stderr, msg) }
			ch, err := idcard.CheckReader(ctx, idcard.CheckOptions{Port: port, Baud: baud, Probe: probe,
				Fingerprint: fingerprint, Wait: wait, Photo: dec, Progress: progress})
			defer ch.Card.Wipe()
			if err != nil {
				return err
			}
			return printCheck(ch, asJSON, reveal)
		},
	}, &cli.Command{
		Name:    "card watch",
		Summary: "poll the reader and print its events (placed, read, removed, faults) until interrupted",
		Flags: func(fs *flag.FlagSet) {
			common(fs)
			fs.DurationVar(&interval, "interval", 300*time.Millisecond, "find-card poll period (the reader allows 300ms at the fastest)")
		},
		Run: func(ctx context.Context, args []string) error {
			dec, err := photo()
			if err != nil {
				return err
			}
			fmt.Fprintf(app.Stderr, "watching %s; Ctrl-C to stop\n", port)
			p := idcard.NewPoller(idcard.Options{Port: port, Baud: baud, Interval: interval, Fingerprint: fingerprint,
				NoProbe: !probe, Photo: dec})
			err = p.Run(ctx, func(e idcard.Event) {
				fmt.Fprintln(app.Stdout, e.Describe(reveal))
				e.Card.Wipe()
			})
			if ctx.Err() != nil {
				return nil
			}
			return err
		},
	})
}

func printCheck(ch idcard.Check, asJSON, reveal bool) error {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	if asJSON {
		out := map[string]any{
			"port": ch.Port, "baud": ch.Baud, "sam_id": ch.SAMID, "revealed": reveal,
			"fields": ch.Card.Fields(reveal),
			"timing_ms": map[string]float64{"connect": ms(ch.Connect), "find": ms(ch.Timing.Find),
				"select": ms(ch.Timing.Select), "read": ms(ch.Timing.Read), "total": ms(ch.Timing.Total()),
				"wire": ms(ch.Timing.Wire())},
			"bytes": map[string]int{"out": ch.Timing.BytesOut, "in": ch.Timing.BytesIn},
		}
		switch {
		case ch.Photo != nil:
			out["photo"] = fmt.Sprintf("decoded %dx%d in %.1fms", ch.Photo.Bounds().Dx(), ch.Photo.Bounds().Dy(), ms(ch.PhotoTaken))
		case ch.PhotoErr != nil:
			out["photo"] = ch.PhotoErr.Error()
		default:
			out["photo"] = "no decoder: raw WLT kept"
		}
		enc := json.NewEncoder(app.Stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(out)
	}
	w := app.Stdout
	fmt.Fprintf(w, "%-18s %s at %d baud\n", "Reader", ch.Port, ch.Baud)
	fmt.Fprintf(w, "%-18s %s\n", "SAM ID", ch.SAMID)
	for _, f := range ch.Card.Fields(reveal) {
		fmt.Fprintf(w, "%-18s %s\n", f.Label, f.Value)
	}
	switch {
	case ch.Photo != nil:
		fmt.Fprintf(w, "%-18s decoded %dx%d in %.1fms\n", "Photo picture", ch.Photo.Bounds().Dx(), ch.Photo.Bounds().Dy(), ms(ch.PhotoTaken))
	case ch.PhotoErr != nil:
		fmt.Fprintf(w, "%-18s %v\n", "Photo picture", ch.PhotoErr)
	}
	fmt.Fprintf(w, "%-18s connect %.1fms; card %s\n", "Timing", ms(ch.Connect), ch.Timing)
	if !reveal {
		fmt.Fprintln(w, "(masked; --reveal shows the fields in full)")
	}
	return nil
}
