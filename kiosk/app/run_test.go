package app

import (
	"context"
	"testing"
	"time"

	"eidkiosk/kiosk/session"
)

// slowSeal is a Submitter that takes a while and reports whether its
// context was still live when it finished writing.
type slowSeal struct {
	started chan struct{}
	release chan struct{}
	live    chan bool
}

func (s slowSeal) Submit(ctx context.Context, _ *session.Enrollment) (session.Receipt, error) {
	close(s.started)
	<-s.release
	s.live <- ctx.Err() == nil
	return session.Receipt{EnrollmentID: "x"}, ctx.Err()
}

// TestSealGuardFinishesOnStop: a stop (the engine's context ending) during
// sealing lets the sealing finish with a live context, and Close's wait
// returns only once it has.
func TestSealGuardFinishesOnStop(t *testing.T) {
	inner := slowSeal{started: make(chan struct{}), release: make(chan struct{}), live: make(chan bool, 1)}
	g := &sealGuard{inner: inner, timeout: 5 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() { _, err := g.Submit(ctx, &session.Enrollment{}); res <- err }()
	<-inner.started
	cancel() // SIGTERM
	waited := make(chan error, 1)
	go func() { waited <- g.wait() }()
	select {
	case <-waited:
		t.Fatal("wait returned while the sealing was still writing")
	case <-time.After(100 * time.Millisecond):
	}
	close(inner.release)
	if !<-inner.live {
		t.Error("the sealing's context ended with the kiosk's: the enrollment would be lost")
	}
	if err := <-res; err != nil {
		t.Errorf("Submit: %v", err)
	}
	if err := <-waited; err != nil {
		t.Errorf("wait: %v", err)
	}
}
