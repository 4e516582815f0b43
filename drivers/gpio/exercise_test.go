package gpio

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"eidkiosk/internal/clock"
)

func TestExercise(t *testing.T) {
	clk := clock.NewFake(t0)
	g, r, b := newRec("G", clk), newRec("R", clk), newRec("B", clk)
	tamp := newSwitch("T", gpio.High, false)
	p := New(Pins{Green: &Out{Key: "led_green", Pin: g}, Red: &Out{Key: "led_red", Pin: r}, Buzzer: &Out{Key: "buzzer", Pin: b},
		Tamper: &In{Key: "tamper", Pin: tamp}}, Options{Clock: clk, Log: discard})
	g.reset()
	var mu sync.Mutex
	var lines []string
	done := make(chan error)
	go func() {
		done <- p.Exercise(context.Background(), func(s string) { mu.Lock(); lines = append(lines, s); mu.Unlock() })
	}()
	for finished := false; !finished; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			finished = true
		default:
			clk.Advance(20 * time.Millisecond)
			time.Sleep(20 * time.Microsecond)
		}
	}
	out := strings.Join(lines, "\n")
	for _, want := range []string{"led_green: on for 1s", "led_amber: not configured", "mode attention", "buzzer: tamper",
		"ir_light: not configured", "tamper: OPEN", "presence: not configured"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if c := g.changes(); len(c) < 4 || c[0].L != gpio.High || c[1].L != gpio.Low || c[1].At-c[0].At != time.Second {
		t.Errorf("green LED %v: want on for 1s first", c)
	}
	if len(b.changes()) < 12 {
		t.Errorf("buzzer changed only %d times", len(b.changes()))
	}
	for _, pin := range []*recPin{g, r, b} {
		if pin.level() != gpio.Low {
			t.Errorf("%s left on", pin.Name())
		}
	}
}

func TestExerciseCancelled(t *testing.T) {
	clk := clock.NewFake(t0)
	g := newRec("G", clk)
	p := New(Pins{Green: &Out{Key: "led_green", Pin: g}}, Options{Clock: clk, Log: discard})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Exercise(ctx, func(string) {}); err != context.Canceled {
		t.Fatalf("err = %v", err)
	}
	if g.level() != gpio.Low {
		t.Fatal("LED left on after cancel")
	}
}
