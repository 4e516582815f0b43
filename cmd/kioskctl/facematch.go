package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"

	"eidkiosk/facematch"
	"eidkiosk/facematch/score"
	"eidkiosk/internal/cli"
)

func init() {
	var (
		asJSON    bool
		th        = score.Default
		maxFrames int
	)
	app.Register(&cli.Command{
		Name: "face match",
		Summary: "compare two faces 1:1 (each a picture or a video judged as a capture) and print the decision " +
			"(match, refer, no_match) and the score; for technicians and officers, never shown to a citizen",
		Usage: "REFERENCE PROBE",
		Flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&asJSON, "json", false, `print one JSON object {"decision", "score", "frames"}`)
			fs.Float64Var(&th.Match, "match", score.Default.Match, "scores at or above are a match")
			fs.Float64Var(&th.Refer, "refer", score.Default.Refer, "scores at or above (and below --match) are referred to an officer")
			fs.IntVar(&maxFrames, "max-frames", facematch.MaxVideoFrames, "frames of a video used, spread over it (0: all)")
		},
		Run: func(ctx context.Context, args []string) error {
			if len(args) != 2 {
				fmt.Fprintln(app.Stderr, "face match: give a REFERENCE and a PROBE (pictures or videos)")
				return cli.ErrUsage
			}
			if err := th.Validate(); err != nil {
				return err
			}
			m, err := facematch.Open(facematch.DefaultQuality)
			if err != nil {
				return err
			}
			defer m.Close()
			res, err := m.CompareFiles(args[0], args[1], th, maxFrames)
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(app.Stdout).Encode(res)
			}
			fmt.Fprintf(app.Stdout, "%s (score %.3f; match ≥ %.2f, refer ≥ %.2f; probe frames %d)\n", res.Decision, res.Score, th.Match, th.Refer, res.Frames)
			return nil
		},
	})
}
