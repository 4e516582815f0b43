// Package demo runs one whole visit on one machine: the simulated stack
// (sim/simstack: authority on loopback, provisioned terminal, pty card
// reader, webcam recording as camera, simulated GPIO), the real kiosk
// System (kiosk/app), and a scripted citizen who places a card, confirms,
// consents, faces the camera, keeps the portrait and takes the receipt. It
// prints each step and where the enrollment ended up; then the phone e-ID
// (eid.go): the reference wallet binds with the receipt, gets its
// credential, and the kiosk verifies its QR code through the camera path.
//
// The citizen taps through the engine's events, exactly the events the
// touch UI sends; when a UI is attached it renders every step. The demo does
// not fake any part of the chain beyond the hardware.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"eidkiosk/idcard"
	"eidkiosk/kiosk/app"
	"eidkiosk/kiosk/config"
	"eidkiosk/kiosk/outbox"
	"eidkiosk/kiosk/session"
	"eidkiosk/sim/simstack"
)

// Options shape a demo run.
type Options struct {
	Dir  string    // working directory; empty: a new temporary directory, removed at the end
	Keep bool      // keep Dir at the end
	Out  io.Writer // the step-by-step narration
	Log  *slog.Logger
	// Card is which card of the simulator's deck the citizen carries.
	// sim.DemoCitizenCard's test photo shows the man of the camera's
	// recording (the face matches the card); sim.DemoStrangerCard's shows
	// someone else (the visit ends with "please see an officer"); other
	// cards' photos do not decode, and nothing is compared at the kiosk
	// (sim.DemoReviewCard's holder has another person's reference photo at
	// the authority: the enrollment needs review).
	Card int
	// Step is called after each visible step with the state reached (the UI
	// attaches screenshots here); it runs on the citizen's goroutine.
	Step func(s session.State)
	// Timeout bounds the whole visit.
	Timeout time.Duration
	// Face replaces the OpenCV pipeline (tests of the rest of the chain).
	Face session.FaceCapturer
}

// Result is where the enrollment ended up.
type Result struct {
	EnrollmentID string
	Short        string
	AtAuthority  bool
	Duration     time.Duration
	// FaceRefused: the face did not match the card photo; nothing was
	// sealed.
	FaceRefused bool
	// CardPhoto: the card photo decoded, so the kiosk compared the face
	// with it.
	CardPhoto bool
	// Flags are the authority's flags on the enrollment.
	Flags []string
	// Status is the enrollment's status at the authority (authority/review):
	// verified, or needs_review when flagged.
	Status string
	// EIDStatus is the kiosk's decision on the phone's e-ID QR code
	// ("valid"), or "pending" when the enrollment awaits review.
	EIDStatus string
	// EIDQR is the PNG of the phone's QR code in the demo directory.
	EIDQR string
}

// Env is a started demo environment: the stack and the kiosk system, not yet
// running the citizen. Callers with a UI attach it to Env.System.
type Env struct {
	Stack  *simstack.Stack
	System *app.System
	opts   Options
	views  chan session.View
	tmp    string
}

// Setup starts the stack and builds the kiosk system.
func Setup(ctx context.Context, o Options) (*Env, error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Timeout == 0 {
		o.Timeout = 3 * time.Minute
	}
	e := &Env{opts: o, views: make(chan session.View, 4096)}
	if o.Dir == "" {
		d, err := os.MkdirTemp("", "eidkiosk-demo-")
		if err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
		e.tmp = d
		o.Dir = d
		e.opts.Dir = d
	}
	say(o.Out, "setting up in %s", o.Dir)
	st, err := simstack.Start(ctx, simstack.Options{Dir: o.Dir, Log: o.Log, Progress: func(s string) { say(o.Out, "  %s", s) }})
	if err != nil {
		e.Close()
		return nil, err
	}
	e.Stack = st
	cfg := DemoConfig(st)
	sys, err := app.Build(ctx, app.Options{
		Config: cfg, Logger: o.Log, Pins: &st.Pins, NoUpdate: true, Face: o.Face, PhotoDecoder: st.PhotoDecoder,
		OnView: []func(session.View){func(v session.View) {
			select {
			case e.views <- v:
			default: // the narration is best effort; the engine never waits
			}
		}},
	})
	if err != nil {
		e.Close()
		return nil, err
	}
	e.System = sys
	say(o.Out, "kiosk: built (reader %s, camera %s)", cfg.Reader.Port, "webcam recording")
	return e, nil
}

// DemoConfig is the kiosk configuration of the demo: the defaults, pointed
// at the stack (whose configuration carries the face settings for its
// webcam recording).
func DemoConfig(st *simstack.Stack) config.Config {
	c := st.Config(config.Default())
	c.Log.Level = "info"
	return c
}

// Close stops the system and the stack and removes a temporary directory.
func (e *Env) Close() error {
	var errs []error
	if e.System != nil {
		errs = append(errs, e.System.Close())
	}
	if e.Stack != nil {
		errs = append(errs, e.Stack.Close())
	}
	if e.tmp != "" && !e.opts.Keep {
		errs = append(errs, os.RemoveAll(e.tmp))
	}
	return errors.Join(errs...)
}

// Run runs the system and the scripted citizen for one visit.
func (e *Env) Run(ctx context.Context) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, e.opts.Timeout)
	defer cancel()
	sysErr := make(chan error, 1)
	go func() { sysErr <- e.System.Run(ctx) }()
	res, err := e.Citizen(ctx)
	cancel()
	if serr := <-sysErr; serr != nil && err == nil {
		err = serr
	}
	return res, err
}

// Citizen walks one visit through the running system (Run does both; a
// caller with a UI runs the system itself and calls Citizen).
func (e *Env) Citizen(ctx context.Context) (Result, error) {
	out := e.opts.Out
	eng := e.System.Engine
	start := time.Now()
	var res Result
	if _, err := e.wait(ctx, session.Attract); err != nil {
		return res, err
	}
	say(out, "1. attract screen: the terminal waits for a card")
	if err := e.waitReader(ctx); err != nil {
		return res, err
	}
	if err := e.Stack.Reader.Place(e.opts.Card); err != nil {
		return res, fmt.Errorf("demo: place card: %w", err)
	}
	say(out, "2. the citizen places card %d of the deck on the reader", e.opts.Card)
	v, err := e.wait(ctx, session.DataShown)
	if err != nil {
		return res, err
	}
	say(out, "3. the card was read over the pty (GA 467); shown masked: %s %s, %s", v.Card.Name, v.Card.NameEN, v.Card.Number)
	if res.CardPhoto = v.Card.Photo != nil; res.CardPhoto {
		say(out, "   the card photo decoded (the simulator's test decoder: a chip-like 102×126 JPEG, not WLT); the face will be compared with it")
	}
	e.step(session.DataShown)
	eng.Send(session.Tap{Action: session.ActConfirm})
	if _, err := e.wait(ctx, session.Consent); err != nil {
		return res, err
	}
	say(out, "4. \"this is me\"; the privacy notice is shown")
	e.step(session.Consent)
	eng.Send(session.Tap{Action: session.ActAgree})
	if _, err := e.wait(ctx, session.FaceCapture); err != nil {
		return res, err
	}
	if e.opts.Face == nil {
		say(out, "5. consent given; face capture with liveness on the camera (a real webcam recording through OpenCV)")
	} else {
		say(out, "5. consent given; face capture with liveness")
	}
	e.step(session.FaceCapture)
	v, err = e.waitFace(ctx)
	if err != nil && v.State == session.Failed && v.Fault == session.FaultFaceMismatch {
		return e.refused(ctx, res, start)
	}
	if err != nil {
		return res, err
	}
	say(out, "6. portrait captured (%d bytes JPEG); review", len(v.Portrait))
	if res.CardPhoto {
		say(out, "   the face matched the card photo (1:1 at the kiosk; the citizen sees the decision, never a score)")
	}
	e.step(session.Review)
	eng.Send(session.Tap{Action: session.ActKeep})
	v, err = e.wait(ctx, session.ReceiptShown)
	if err != nil {
		return res, err
	}
	res.EnrollmentID, res.Short = v.Receipt.EnrollmentID, v.Receipt.Short
	say(out, "7. sealed (HPKE to the authority, signed by the device key) and saved in the outbox: receipt %s", res.Short)
	say(out, "   enrollment %s; QR payload %q", res.EnrollmentID, v.Receipt.QR)
	receiptQR := v.Receipt.QR
	e.step(session.ReceiptShown)
	e.Stack.Reader.Remove()
	eng.Send(session.Tap{Action: session.ActDone})
	if _, err := e.wait(ctx, session.Attract); err != nil {
		return res, err
	}
	say(out, "8. the citizen takes the card; the visit is wiped; back to attract")
	if err := e.waitUpload(ctx, res.EnrollmentID); err != nil {
		return res, err
	}
	res.AtAuthority = true
	d, err := e.Stack.Authority.Intake.Show(ctx, res.EnrollmentID, false)
	if err != nil {
		return res, err
	}
	say(out, "9. the uplink delivered it over mTLS; the authority verified, opened and stored it:")
	say(out, "   authority %s, store %s", e.Stack.AuthorityURL, e.Stack.Dir+"/authority/authority.db")
	say(out, "   enrollment %s (%s) from device %s, station %s; %s, %s; portrait %d bytes, %d evidence frames; flags %v",
		d.EnrollmentID, d.Short, d.DeviceID, d.StationID, d.Name, d.Number, d.PortraitSz, d.Evidence, d.Flags)
	res.Flags = d.Flags
	say(out, "   face at the authority: %s", faceFlags(d.Flags))
	if res.Status, err = e.Stack.Authority.Review.Status(ctx, res.EnrollmentID); err != nil {
		return res, err
	}
	say(out, "   status at the authority: %s (officers: `authority review list --data DIR/authority`)", res.Status)
	if err := e.phoneEID(ctx, &res, receiptQR); err != nil {
		return res, err
	}
	res.Duration = time.Since(start)
	if e.tmp != "" && !e.opts.Keep {
		say(out, "   (the demo directory is removed at the end; `kioskctl demo --keep` keeps it, e.g. for `authority enrollments list --data DIR/authority`)")
	}
	say(out, "done in %s", res.Duration.Round(100*time.Millisecond))
	return res, nil
}

// refused narrates the end of a visit whose face did not match the card
// photo twice.
func (e *Env) refused(ctx context.Context, res Result, start time.Time) (Result, error) {
	out := e.opts.Out
	res.FaceRefused = true
	say(out, "6. the face did not match the card photo, again after one more capture: the kiosk shows")
	say(out, "   \"the face does not match the card: please see an officer\"; nothing was sealed, the visit's data is wiped")
	e.step(session.Failed)
	e.Stack.Reader.Remove()
	e.System.Engine.Send(session.Tap{Action: session.ActDone})
	if _, err := e.wait(ctx, session.Attract); err != nil {
		return res, err
	}
	say(out, "7. the citizen takes the card; back to attract")
	res.Duration = time.Since(start)
	say(out, "done in %s", res.Duration.Round(100*time.Millisecond))
	return res, nil
}

// faceFlags says what the authority's face check concluded.
func faceFlags(flags []string) string {
	for _, f := range flags {
		switch f {
		case "face_mismatch":
			return "face_mismatch: the capture is not the person of the reference photo"
		case "face_refer":
			return "face_refer: inconclusive, an officer must look"
		case "face_unchecked":
			return "face_unchecked: nothing could be compared, an officer must look"
		}
	}
	return "the capture matched the registered reference photo (no face flag)"
}

func (e *Env) step(s session.State) {
	if e.opts.Step != nil {
		e.opts.Step(s)
	}
}

// wait returns the first view in state want; a Failed or Unavailable view
// ends the demo with its reason.
func (e *Env) wait(ctx context.Context, want session.State) (session.View, error) {
	cur := e.System.Engine.View()
	if cur.State == want {
		return cur, nil
	}
	for {
		select {
		case <-ctx.Done():
			return session.View{}, fmt.Errorf("demo: waiting for %s (at %s): %w", want, e.System.Engine.View().State, ctx.Err())
		case v := <-e.views:
			if v.State == want {
				return v, nil
			}
			if v.State == session.Failed || v.State == session.Unavailable {
				return v, fmt.Errorf("demo: the kiosk showed %s (%s) while waiting for %s", v.State, v.Fault, want)
			}
		}
	}
}

// waitFace narrates the capture and returns the Review view.
func (e *Env) waitFace(ctx context.Context) (session.View, error) {
	last := ""
	for {
		select {
		case <-ctx.Done():
			return session.View{}, fmt.Errorf("demo: face capture: %w", ctx.Err())
		case v := <-e.views:
			switch v.State {
			case session.Review:
				return v, nil
			case session.Failed, session.Unavailable:
				return v, fmt.Errorf("demo: face capture ended in %s (%s)", v.State, v.Fault)
			case session.FaceCapture:
				line := ""
				if v.Face.Challenge != "" {
					line = fmt.Sprintf("   challenge %d/%d: %s", v.Face.Step, v.Face.Steps, v.Face.Challenge)
				}
				if v.Retry {
					line = fmt.Sprintf("   attempt %d of %d", v.Attempt, v.Attempts)
				}
				if line != "" && line != last {
					say(e.opts.Out, "%s", line)
					last = line
				}
			}
		}
	}
}

func (e *Env) waitReader(ctx context.Context) error {
	for !e.System.Engine.View().ReaderOK {
		select {
		case <-ctx.Done():
			return fmt.Errorf("demo: reader never answered: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

func (e *Env) waitUpload(ctx context.Context, id string) error {
	for {
		// Acknowledged: the authority answered with its receipt, after its
		// own checks (the face check among them) ran and flagged.
		if st, _, err := e.System.Outbox.State(ctx, id); err == nil && st == outbox.Acked {
			return nil
		}
		select {
		case <-ctx.Done():
			st := e.System.Uplink.Status()
			return fmt.Errorf("demo: enrollment not delivered (uplink: online=%v last error %q): %w", st.Online, st.LastError, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func say(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, format+"\n", args...)
}

var _ = idcard.KindResident
