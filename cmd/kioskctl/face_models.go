package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"

	"eidkiosk/facemodel"
	"eidkiosk/internal/cli"
)

func init() {
	app.Register(&cli.Command{
		Name:    "face models",
		Summary: "list the face models (name, file, sha256, licence, source) and whether each file verifies",
		Run: func(ctx context.Context, args []string) error {
			dir, derr := facemodel.Dir()
			if derr == nil {
				fmt.Fprintf(app.Stdout, "models directory %s\n", dir)
			} else {
				fmt.Fprintf(app.Stdout, "%v\n", derr)
			}
			tw := tabwriter.NewWriter(app.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tFILE\tSHA256\tSTATE\tLICENCE\tSOURCE")
			bad := 0
			for _, s := range facemodel.Verify(dir, facemodel.Manifest) {
				state := "verified"
				if derr != nil {
					s.Err = derr
				}
				if s.Err != nil {
					bad++
					state = "MISSING"
					var e *facemodel.Error
					if errors.As(s.Err, &e) && e.Reason != "missing" && derr == nil {
						state = "ALTERED"
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.File, s.SHA256, state, s.Licence, s.Source())
			}
			tw.Flush()
			if bad > 0 {
				return fmt.Errorf("face models: %d of %d models unusable; %s: %w", bad, len(facemodel.Manifest), facemodel.Fix, facemodel.ErrUnavailable)
			}
			return nil
		},
	})
}
