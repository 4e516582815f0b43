package clock

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestFakeFiresInOrderAndStops(t *testing.T) {
	c := NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var a, b atomic.Int32
	c.AfterFunc(2*time.Second, func() { a.Add(1) })
	tb := c.AfterFunc(5*time.Second, func() { b.Add(1) })
	c.Advance(time.Second)
	if a.Load() != 0 {
		t.Fatal("fired early")
	}
	c.Advance(time.Second)
	if a.Load() != 1 {
		t.Fatal("did not fire at deadline")
	}
	if !tb.Stop() {
		t.Fatal("Stop of armed timer returned false")
	}
	c.Advance(time.Hour)
	if b.Load() != 0 {
		t.Fatal("stopped timer fired")
	}
	if c.Pending() != 0 {
		t.Fatalf("pending = %d", c.Pending())
	}
	if got := c.Now(); !got.Equal(time.Date(2026, 1, 1, 1, 0, 2, 0, time.UTC)) {
		t.Fatalf("now = %v", got)
	}
}

func TestSleep(t *testing.T) {
	c := NewFake(time.Unix(0, 0))
	done := make(chan error, 1)
	go func() { done <- Sleep(context.Background(), c, time.Second) }()
	for c.Pending() == 0 {
		time.Sleep(time.Millisecond)
	}
	c.Advance(999 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("returned before its time: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	c.Advance(time.Millisecond)
	if err := <-done; err != nil {
		t.Fatalf("Sleep: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- Sleep(ctx, c, time.Hour) }()
	for c.Pending() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep after cancel: %v, want context.Canceled", err)
	}
	if n := c.Pending(); n != 0 {
		t.Fatalf("%d timers left pending after cancel", n)
	}
}

func TestSleepNonPositiveDoesNotWait(t *testing.T) {
	c := NewFake(time.Unix(0, 0))
	for _, d := range []time.Duration{0, -time.Second} {
		if err := Sleep(context.Background(), c, d); err != nil {
			t.Fatalf("Sleep(%v) = %v", d, err)
		}
	}
	if n := c.Pending(); n != 0 {
		t.Fatalf("a non-positive sleep armed %d timers", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, c, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep(0) on a cancelled context = %v", err)
	}
}
