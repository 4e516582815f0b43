// Command eidwallet is the reference phone wallet (package wallet), the test
// double of the real phone app: bind to an enrollment with the receipt's QR
// text, refresh the credential, show the rotating QR code in the terminal
// or as a PNG.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"eidkiosk/internal/atomicfile"
	"eidkiosk/internal/cli"
	"eidkiosk/wallet"
)

var app = &cli.App{Name: "eidwallet", Summary: "reference phone wallet for the eidkiosk e-ID"}

func main() { app.Main() }

var dir string

func dirFlag(fs *flag.FlagSet) {
	def := filepath.Join(os.Getenv("HOME"), ".local", "share", "eidwallet")
	if d := os.Getenv("EIDWALLET_DIR"); d != "" {
		def = d
	}
	fs.StringVar(&dir, "dir", def, "the wallet's state directory (key, binding, credential); $EIDWALLET_DIR")
}

func init() {
	var authority, fp, receipt string
	app.Register(&cli.Command{
		Name:    "bind",
		Summary: "bind this wallet's key to an enrollment with the receipt's QR text",
		Help:    "The receipt QR reads EIDK1:<enrollment>:<binding code>; the code binds once and expires.",
		Flags: func(fs *flag.FlagSet) {
			dirFlag(fs)
			fs.StringVar(&authority, "authority", "", "the authority's URL, e.g. https://authority.example:8443")
			fs.StringVar(&fp, "ca-fingerprint", "", "SHA-256 of the authority's root CA (hex, colons allowed)")
			fs.StringVar(&receipt, "receipt", "", "the receipt QR's text")
		},
		Run: func(ctx context.Context, args []string) error {
			if authority == "" || fp == "" || receipt == "" {
				return fmt.Errorf("--authority, --ca-fingerprint and --receipt are required: %w", cli.ErrUsage)
			}
			w, err := wallet.Open(dir)
			if err != nil {
				return err
			}
			st, err := w.Bind(ctx, authority, fp, receipt)
			if err != nil {
				return err
			}
			fmt.Fprintf(app.Stdout, "bound: binding %s, %s\n", st.BindingID, st.State)
			return nil
		},
	}, &cli.Command{
		Name:    "status",
		Summary: "ask the authority where the binding stands (pending, active, refused, revoked)",
		Flags:   dirFlag,
		Run: func(ctx context.Context, args []string) error {
			w, err := wallet.Open(dir)
			if err != nil {
				return err
			}
			st, err := w.Status(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintln(app.Stdout, st.State)
			return nil
		},
	}, &cli.Command{
		Name:    "refresh",
		Summary: "fetch a new credential (valid 24 hours) for an accepted enrollment",
		Flags:   dirFlag,
		Run: func(ctx context.Context, args []string) error {
			w, err := wallet.Open(dir)
			if err != nil {
				return err
			}
			c, err := w.Refresh(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(app.Stdout, "credential valid until %s\n", time.Unix(c.NotAfter, 0).UTC().Format(time.RFC3339))
			return nil
		},
	})
	var pngFile string
	var size int
	var every time.Duration
	app.Register(&cli.Command{
		Name:    "show",
		Summary: "show the presentation QR code (it changes with every rendering; the kiosk accepts it for ±60 s)",
		Flags: func(fs *flag.FlagSet) {
			dirFlag(fs)
			fs.StringVar(&pngFile, "png", "", "write the QR code to this PNG file instead of the terminal")
			fs.IntVar(&size, "size", 480, "PNG size in pixels")
			fs.DurationVar(&every, "every", 0, "render again at this interval until interrupted (e.g. 30s); 0: once")
		},
		Run: func(ctx context.Context, args []string) error {
			w, err := wallet.Open(dir)
			if err != nil {
				return err
			}
			for {
				if err := show(w, pngFile, size); err != nil {
					return err
				}
				if every <= 0 {
					return nil
				}
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(every):
				}
			}
		},
	})
}

// show renders one presentation, to the terminal or to pngFile.
func show(w *wallet.Wallet, pngFile string, size int) error {
	q, payload, err := w.Show(time.Now())
	if err != nil {
		return err
	}
	if pngFile == "" {
		fmt.Fprint(app.Stdout, q.Terminal())
		return nil
	}
	b, err := q.PNG(size)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(pngFile, b, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", pngFile, err)
	}
	fmt.Fprintf(app.Stdout, "%s: %d characters, QR version %d\n", pngFile, len(payload), q.Version())
	return nil
}
