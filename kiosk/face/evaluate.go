package face

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"gocv.io/x/gocv"

	"eidkiosk/drivers/camera"
	"eidkiosk/kiosk/face/eval"
	"eidkiosk/kiosk/face/liveness"
)

// EvalOptions configures Evaluate.
type EvalOptions struct {
	Analyzer AnalyzerOptions
	Liveness liveness.Config // thresholds; the challenges come from the labels
	// Progress is called after each recording.
	Progress func(done, total int, o eval.Outcome)
}

// Evaluate runs the whole pipeline (OpenCV capture, analyzer, liveness
// judge on the recording's scripted plan) over every recording under dir
// and summarizes the outcomes.
func Evaluate(ctx context.Context, dir string, o EvalOptions) (eval.Report, []eval.Outcome, error) {
	recs, err := eval.Scan(dir)
	if err != nil {
		return eval.Report{}, nil, err
	}
	if len(recs) == 0 {
		return eval.Report{}, nil, fmt.Errorf("face: eval: no recordings under %s", dir)
	}
	a, err := NewAnalyzer(o.Analyzer)
	if err != nil {
		return eval.Report{}, nil, err
	}
	defer a.Close()
	var outs []eval.Outcome
	for i, r := range recs {
		if err := ctx.Err(); err != nil {
			return eval.Report{}, outs, err
		}
		out := EvaluateRecording(ctx, a, r, o.Liveness)
		outs = append(outs, out)
		if o.Progress != nil {
			o.Progress(i+1, len(recs), out)
		}
	}
	return eval.Summarize(outs), outs, nil
}

// EvaluateRecording judges one recording with a (which it resets).
func EvaluateRecording(ctx context.Context, a *Analyzer, r eval.Recording, cfg liveness.Config) eval.Outcome {
	out := eval.Outcome{Recording: r}
	spec := "file:" + r.Path
	if st, err := os.Stat(r.Path); err == nil && st.IsDir() {
		spec = "dir:" + r.Path
	}
	src, err := camera.Open(spec, camera.SourceOptions{})
	if err != nil {
		out.Err = err
		return out
	}
	defer src.Close()
	a.Reset()
	j := liveness.NewJudge(cfg, r.Plan())
	m := gocv.NewMat()
	defer m.Close()
	t0 := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	for ctx.Err() == nil {
		pos, err := src.Read(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, camera.ErrCorrupt) {
			continue
		}
		if err != nil {
			out.Err = err
			return out
		}
		f := a.Analyze(m, t0.Add(pos))
		j.Observe(&f)
		out.Frames++
	}
	if err := ctx.Err(); err != nil {
		out.Err = err
		return out
	}
	res := j.Result()
	out.Live, out.Failed, out.Scores = res.Live, res.Failed, res.Scores
	return out
}
