package main

import (
	"context"
	"flag"
	"fmt"

	"eidkiosk/internal/cli"
	"eidkiosk/ui/font"
	"eidkiosk/ui/shots"
)

func init() {
	var out, fontPath, cache string
	app.Register(&cli.Command{
		Name:    "screenshots",
		Summary: "render every screen of the touch UI in zh-CN and English to PNG files (no display needed)",
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&out, "out", "docs/screens", "directory that receives NAME.LANG.png")
			fs.StringVar(&fontPath, "font", "", "single-face TTF/OTF with Simplified Chinese (default: extracted from fonts-noto-cjk)")
			fs.StringVar(&cache, "font-cache", "", "directory for the extracted font (default: the user cache directory)")
		},
		Run: func(ctx context.Context, args []string) error {
			faces, err := font.Prepare(font.Options{Configured: fontPath, CacheDir: cache})
			if err != nil {
				return err
			}
			n := 0
			_, err = shots.WriteAll(ctx, out, faces, func(p string) {
				n++
				fmt.Fprintf(app.Stdout, "%3d %s\n", n, p)
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(app.Stdout, "%d screenshots in %s\n", n, out)
			return nil
		},
	})
}
