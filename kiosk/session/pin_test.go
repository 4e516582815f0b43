package session

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"eidkiosk/internal/clock"
	"eidkiosk/kiosk/config"
)

// pinEngine runs an engine with the given PIN options and returns a
// function that taps the technician corner with a PIN and returns the
// settled view.
func pinEngine(t *testing.T, pin PINChecker, plain string) func(string) View {
	t.Helper()
	views := make(chan View, 256)
	e := New(Options{
		Timeouts: config.Default().Timeouts, Face: &fakeFace{calls: make(chan *faceCall, 4)}, Submit: &fakeSubmit{},
		Clock: clock.NewFake(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		PIN: pin, TechnicianPIN: plain, OnView: func(v View) { views <- v },
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	next := func() View {
		select {
		case v := <-views:
			return v
		case <-time.After(10 * time.Second):
			t.Fatal("no view")
			return View{}
		}
	}
	for v := next(); v.State != Attract; v = next() {
	}
	return func(p string) View {
		e.Send(Tap{Action: ActTechnician, PIN: p})
		return next()
	}
}

type pinSet string

func (p pinSet) CheckPIN(pin string) bool { return pin == string(p) }

func TestNoPINKeepsTechnicianModeClosed(t *testing.T) {
	tap := pinEngine(t, nil, "")
	for _, p := range []string{"", "246810", "0000"} {
		if v := tap(p); v.State != Attract || v.Notice != "technician.no_pin" {
			t.Fatalf("PIN %q without a PIN set: %v %q, want Attract and technician.no_pin", p, v.State, v.Notice)
		}
	}
}

func TestPINCheckerOpensTechnicianMode(t *testing.T) {
	tap := pinEngine(t, pinSet("731946"), "2468") // the checker wins over a plain PIN
	if v := tap("2468"); v.State != Attract || v.Notice != "technician.pin_wrong" {
		t.Fatalf("plain PIN beside a checker: %v %q", v.State, v.Notice)
	}
	if v := tap("731946"); v.State != Technician {
		t.Fatalf("the set PIN: %v %q", v.State, v.Notice)
	}
}
