package face

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"gocv.io/x/gocv"

	"eidkiosk/drivers/camera"
	"eidkiosk/kiosk/face/measure"
)

// CheckOptions configures Check.
type CheckOptions struct {
	Settings Settings
	Frames   int // stop after this many frames, faulted ones included (0: until ctx ends or the recording ends)
	Every    int // print every Nth frame (default 1)
	// FaultTimeout ends Check with an error wrapping camera.ErrFault when
	// the camera has given no frame for this long (default 10 s).
	FaultTimeout time.Duration
}

// Backoff between polls of a faulted camera: it doubles from the first to
// the cap, so a source that never opens costs a few wake-ups a second, not
// a busy loop.
const (
	faultBackoffFirst = 20 * time.Millisecond
	faultBackoffCap   = time.Second
)

// Check measures live frames for a technician aligning a camera: one line
// per frame with the face box, every quality value against its threshold,
// the liveness inputs and the time spent. It returns at the end of a
// recording, after o.Frames frames, or when ctx ends (nil then).
func Check(ctx context.Context, cam Frames, w io.Writer, o CheckOptions) error {
	if o.Every <= 0 {
		o.Every = 1
	}
	a, err := NewAnalyzer(o.Settings.Analyzer)
	if err != nil {
		return err
	}
	defer a.Close()
	m := gocv.NewMat()
	defer m.Close()
	if o.FaultTimeout <= 0 {
		o.FaultTimeout = 10 * time.Second
	}
	var seq uint64
	n := 0
	var faultSince time.Time // zero: not faulted
	backoff := faultBackoffFirst
	for o.Frames == 0 || n < o.Frames {
		in, err := cam.Next(ctx, seq, &m)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, io.EOF):
			return nil
		case errors.Is(err, camera.ErrFault):
			// Printed once per state change, then polled with backoff.
			if faultSince.IsZero() {
				faultSince = time.Now()
				fmt.Fprintf(w, "camera fault: %v (re-opening)\n", err)
			} else if time.Since(faultSince) >= o.FaultTimeout {
				return fmt.Errorf("face: no frame for %s: %w", o.FaultTimeout, err)
			}
			n++
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
			backoff = min(2*backoff, faultBackoffCap)
			continue
		case err != nil:
			return err
		}
		if !faultSince.IsZero() {
			fmt.Fprintf(w, "camera recovered after %s\n", time.Since(faultSince).Round(time.Millisecond))
			faultSince, backoff = time.Time{}, faultBackoffFirst
		}
		seq = in.Seq
		f := a.Analyze(m, in.Time)
		n++
		if n%o.Every == 0 {
			WriteCheckLine(w, in, &f, o.Settings.Quality.Check(&f))
		}
	}
	return nil
}

// WriteCheckLine prints one frame's values.
func WriteCheckLine(w io.Writer, in camera.Info, f *measure.Frame, q measure.Result) {
	var b strings.Builder
	fmt.Fprintf(&b, "#%-5d %4dx%-4d %5.1fms ", in.Seq, f.Size.X, f.Size.Y, f.TotalMS)
	if !f.HasFace() {
		b.WriteString("no face")
	} else {
		fmt.Fprintf(&b, "faces=%d box=%d,%d,%d,%d p_closed=%.3f/%.3f", f.Faces, f.Box.Min.X, f.Box.Min.Y, f.Box.Dx(), f.Box.Dy(), f.EyeClosedL, f.EyeClosedR)
		for _, m := range q.Measures {
			if m.Name == measure.MFaces {
				continue
			}
			mark := ""
			if !m.Pass {
				mark = "!"
			}
			fmt.Fprintf(&b, " %s=%g%s", m.Name, m.Value, mark)
		}
		fmt.Fprintf(&b, " ear=%.3f mouth=%.3f nonrigid=%.2f shift=%.2f moire=%.1f", f.EAR, f.Mouth, f.NonRigid, f.Shift, f.Moire)
		if f.Identical {
			b.WriteString(" IDENTICAL")
		}
		if f.Repeat {
			b.WriteString(" REPEAT")
		}
	}
	if q.Pass {
		b.WriteString("  PASS")
	} else if len(q.Guidance) > 0 {
		b.WriteString("  " + strings.Join(q.Guidance, ","))
	}
	fmt.Fprintln(w, b.String())
}
