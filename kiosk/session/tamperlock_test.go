package session

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"eidkiosk/internal/clock"
	"eidkiosk/kiosk/config"
	"eidkiosk/kiosk/tamper"
)

// lockedEngine runs an engine on a persisted tamper lock until the test's
// stop; it returns a function that sends an event and waits for a view
// matching ok (nil: no wait).
func lockedEngine(t *testing.T, lock TamperLock) (send func(Event, func(View) bool) View, stop func()) {
	t.Helper()
	views := make(chan View, 256)
	e := New(Options{
		Timeouts: config.Default().Timeouts, Face: &fakeFace{calls: make(chan *faceCall, 4)}, Submit: &fakeSubmit{},
		Clock: clock.NewFake(time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		PIN: pinSet("731946"), TamperLock: lock, OnView: func(v View) { views <- v },
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	send = func(ev Event, ok func(View) bool) View {
		if ev != nil {
			e.Send(ev)
		}
		if ok == nil {
			return View{}
		}
		for {
			select {
			case v := <-views:
				if ok(v) {
					return v
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no matching view")
			}
		}
	}
	return send, stop
}

func TestTamperLockSurvivesRestartUntilATechnicianClearsIt(t *testing.T) {
	dir := t.TempDir()
	locked := func(v View) bool { return v.State == Unavailable && v.Fault == FaultTamper && v.Tampered }

	send, stop := lockedEngine(t, tamper.New(dir, nil, "", nil))
	send(nil, func(v View) bool { return v.State == Attract })
	send(Tamper{Open: true}, locked)
	stop()

	// The restart (or power cut): a new engine on the same state directory.
	send, stop = lockedEngine(t, tamper.New(dir, nil, "", nil))
	send(nil, locked)
	send(Tamper{Open: false}, nil) // closing the enclosure is not enough: the next view is still locked
	send(Recheck{}, locked)
	send(Tap{Action: ActTechnician, PIN: "731946"}, func(v View) bool { return v.State == Technician })
	send(Tap{Action: ActClearTamper}, func(v View) bool { return v.State == Technician && !v.Tampered })
	stop()

	send, _ = lockedEngine(t, tamper.New(dir, nil, "", nil))
	send(nil, func(v View) bool { return v.State == Attract && !v.Tampered })
}
