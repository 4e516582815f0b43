package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"os"
	"time"

	"eidkiosk/internal/cli"
	"eidkiosk/kiosk/config"
	"eidkiosk/kiosk/face"
	"eidkiosk/kiosk/face/eval"
	"eidkiosk/kiosk/session"
)

func init() {
	var (
		cfgPath, src, preset, pace, shared, out string
		width, height, fps, frames, every       int
		loop, quick                             bool
		seed                                    uint64
		faultTimeout                            time.Duration
	)
	camFlags := func(fs *flag.FlagSet) {
		fs.StringVar(&cfgPath, "config", "", "kiosk configuration file for the [camera] and [face] sections (default: built-in defaults)")
		fs.StringVar(&src, "camera", "", "camera source: /dev/videoN, an index, file:PATH or dir:PATH (overrides camera.source)")
		fs.IntVar(&width, "width", 0, "requested device width (0: the configuration's)")
		fs.IntVar(&height, "height", 0, "requested device height (0: the configuration's)")
		fs.IntVar(&fps, "fps", 0, "requested device frame rate (0: the configuration's)")
		fs.BoolVar(&loop, "loop", false, "loop a file or folder source")
		fs.StringVar(&pace, "pace", "", "file/folder pacing: realtime or lockstep (default: the configuration's)")
		fs.StringVar(&preset, "preset", "", "thresholds preset: kiosk or demo (default: the configuration's)")
	}
	load := func() (config.Config, face.Settings, error) {
		c := config.Default()
		if cfgPath != "" {
			var err error
			if c, err = config.Load(cfgPath); err != nil {
				return c, face.Settings{}, err
			}
		}
		if src != "" {
			c.Camera.Source = src
		}
		if width > 0 {
			c.Camera.Width = width
		}
		if height > 0 {
			c.Camera.Height = height
		}
		if fps > 0 {
			c.Camera.FPS = fps
		}
		if loop {
			c.Camera.Loop = true
		}
		if pace != "" {
			c.Camera.Pace = pace
		}
		if preset != "" {
			c.Face.Preset = preset
		}
		if err := c.Validate(); err != nil {
			return c, face.Settings{}, err
		}
		s, err := face.SettingsFor(c.Face)
		return c, s, err
	}
	app.Register(&cli.Command{
		Name:    "face check",
		Summary: "show live face measurements (box, every quality value and threshold, liveness inputs, ms/frame) to align a camera",
		Flags: func(fs *flag.FlagSet) {
			camFlags(fs)
			fs.IntVar(&frames, "frames", 0, "stop after this many frames, faulted ones included (0: until interrupted or the recording ends)")
			fs.IntVar(&every, "every", 1, "print every Nth frame")
			fs.DurationVar(&faultTimeout, "fault-timeout", 10*time.Second, "give up when the camera has delivered no frame for this long")
		},
		Run: func(ctx context.Context, args []string) error {
			c, s, err := load()
			if err != nil {
				return err
			}
			cam, err := face.OpenCamera(c.Camera, face.CameraHooks{
				OnFault: func(err error) { fmt.Fprintf(app.Stderr, "camera fault: %v\n", err) },
				OnBack:  func() { fmt.Fprintln(app.Stderr, "camera back") },
			})
			if err != nil {
				return err
			}
			defer cam.Close()
			fmt.Fprintf(app.Stdout, "camera %s, preset %s; values marked ! fail their threshold\n", c.Camera.Source, c.Face.Preset)
			return face.Check(ctx, cam, app.Stdout, face.CheckOptions{Settings: s, Frames: frames, Every: every, FaultTimeout: faultTimeout})
		},
	}, &cli.Command{
		Name:    "face capture",
		Summary: "run one capture with liveness challenges (as a visit does) and write the portrait",
		Usage:   "[PORTRAIT.jpg]",
		Flags:   camFlags,
		Run: func(ctx context.Context, args []string) error {
			c, _, err := load()
			if err != nil {
				return err
			}
			capt, cam, err := face.Open(c.Camera, c.Face, face.CameraHooks{})
			if err != nil {
				return err
			}
			defer cam.Close()
			defer capt.Close()
			nonce := make([]byte, 16)
			rand.Read(nonce)
			last := ""
			start := time.Now()
			res, err := capt.Capture(ctx, nonce, func(p session.FaceProgress) {
				line := fmt.Sprintf("step %d/%d %s %v", p.Step, p.Steps, p.Challenge, p.Guidance)
				if line != last {
					fmt.Fprintf(app.Stdout, "%6.1fs %s\n", time.Since(start).Seconds(), line)
					last = line
				}
			})
			fmt.Fprintf(app.Stdout, "challenges %v passed %v timings %v\nscores %v\n", res.Liveness.Challenges, res.Liveness.Passed, res.Liveness.Timings, res.Liveness.Scores)
			if err != nil {
				return err
			}
			fmt.Fprintf(app.Stdout, "live; portrait %d bytes, %d evidence frames\n", len(res.Portrait), len(res.Liveness.Evidence))
			if len(args) > 0 {
				return os.WriteFile(args[0], res.Portrait, 0o600)
			}
			return nil
		},
	}, &cli.Command{
		Name:    "face eval",
		Summary: "run the face pipeline over a labelled folder and print APCER per attack species, BPCER, the counts (ISO/IEC 30107-3) and each passive check's margins",
		Usage:   "DIR",
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&cfgPath, "config", "", "kiosk configuration file for the [face] section (default: built-in defaults)")
			fs.StringVar(&preset, "preset", "", "thresholds preset: kiosk or demo (default: the configuration's)")
		},
		Run: func(ctx context.Context, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("face eval: want one folder (see docs/face.md for its layout): %w", cli.ErrUsage)
			}
			_, s, err := load()
			if err != nil {
				return err
			}
			rep, outs, err := face.Evaluate(ctx, args[0], face.EvalOptions{Analyzer: s.Analyzer, Liveness: s.Liveness,
				Progress: func(done, total int, o eval.Outcome) {
					verdict := "rejected"
					if o.Live {
						verdict = "LIVE"
					}
					fmt.Fprintf(app.Stdout, "[%d/%d] %-44s %-8s %v\n", done, total, o.Name, verdict, o.Failed)
					if o.Err != nil {
						fmt.Fprintf(app.Stdout, "        error: %v\n", o.Err)
					}
				}})
			if err != nil {
				return err
			}
			fmt.Fprintln(app.Stdout)
			rep.Write(app.Stdout)
			fmt.Fprintln(app.Stdout, "\nmargins: the threshold beside the bona fide value nearest to failing and, per species, the attack value nearest to passing")
			eval.WriteMargins(app.Stdout, eval.Margins(outs, s.Liveness))
			return nil
		},
	}, &cli.Command{
		Name:    "face mkeval",
		Summary: "build the labelled evaluation folder from the shared faces: real segments as bona fide, four attack species",
		Usage:   "OUT",
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&shared, "shared", "../shared/testdata/faces", "the shared faces folder (stills and videos)")
			fs.BoolVar(&quick, "quick", false, "a reduced set (as the tests use)")
			fs.Uint64Var(&seed, "seed", 1, "seed of the simulated noise and hand tremor")
		},
		Run: func(ctx context.Context, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("face mkeval: want the output folder: %w", cli.ErrUsage)
			}
			out = args[0]
			return face.GenerateEvalSet(shared, out, face.GenOptions{Quick: quick, Seed: seed,
				Progress: func(name string) { fmt.Fprintf(app.Stdout, "writing %s\n", name) }})
		},
	})
}
