package lease

import (
	"errors"
	"testing"
	"time"

	"eidkiosk/internal/clock"
	"eidkiosk/kiosk/session"
)

func TestLeaseExpiresWhenStuck(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC))
	l := New(clk, 10*time.Minute)
	if l.Held() {
		t.Fatal("new lease is held")
	}
	if err := l.Acquire(); err != nil {
		t.Fatal(err)
	}
	if err := l.TryAcquire("update"); !errors.Is(err, ErrHeld) {
		t.Fatalf("update took a held lease: %v", err)
	}
	if got, want := l.Expiry(), clk.Now().Add(10*time.Minute); !got.Equal(want) {
		t.Fatalf("expiry %s, want %s", got, want)
	}
	clk.Advance(9 * time.Minute)
	if err := l.Renew(Visit); err != nil {
		t.Fatal(err)
	}
	clk.Advance(9 * time.Minute)
	if !l.Held() {
		t.Fatal("renewed lease ran out early")
	}
	// The visit gets stuck: nobody renews or releases.
	clk.Advance(2 * time.Minute)
	if l.Held() {
		t.Fatal("stuck lease did not expire")
	}
	if err := l.TryAcquire("update"); err != nil {
		t.Fatalf("update blocked by an expired lease: %v", err)
	}
	if s := l.Snapshot(); s.Holder != "update" || s.Expired != 1 {
		t.Fatalf("snapshot %+v", s)
	}
	if err := l.Renew(Visit); !errors.Is(err, ErrNotHolder) {
		t.Fatalf("renew by non-holder: %v", err)
	}
	l.Release(Visit) // not the holder: no effect
	if !l.Held() {
		t.Fatal("release by non-holder freed the lease")
	}
	l.Release("update")
	if l.Held() || !l.Expiry().IsZero() {
		t.Fatal("release did not free the lease")
	}
}

func TestLeaseFollowsVisitStates(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC))
	l := New(clk, 5*time.Minute)
	l.StateChanged(session.Attract, session.CardWait)
	if s := l.Snapshot(); s.Holder != Visit {
		t.Fatalf("visit did not take the lease: %+v", s)
	}
	clk.Advance(4 * time.Minute)
	l.StateChanged(session.CardWait, session.CardReading)
	clk.Advance(4 * time.Minute)
	if !l.Held() {
		t.Fatal("state change did not renew the lease")
	}
	l.StateChanged(session.ReceiptShown, session.Attract)
	if l.Held() {
		t.Fatal("return to attract did not release")
	}
	// While the update agent holds it, a visit cannot take it.
	if err := l.TryAcquire("update"); err != nil {
		t.Fatal(err)
	}
	l.StateChanged(session.Attract, session.CardWait)
	if s := l.Snapshot(); s.Holder != "update" {
		t.Fatalf("visit stole the update's lease: %+v", s)
	}
}
