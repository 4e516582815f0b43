package gpio

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"eidkiosk/internal/clock"
)

var errTest = errors.New("test: write refused")

func countLines(s, sub string) int {
	n := 0
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			n++
		}
	}
	return n
}

type sample struct {
	key    string
	active bool
}

type watchRig struct {
	t          *testing.T
	clk        *clock.Fake
	pres, tamp *switchPin
	red, buzz  *recPin
	p          *Peripherals
	events     chan Reading
	samples    chan sample
	mu         sync.Mutex
	tampers    []bool
	cancel     context.CancelFunc
	done       chan error
}

func startWatch(t *testing.T, edges bool, presence, tamper gpio.Level) *watchRig {
	t.Helper()
	clk := clock.NewFake(t0)
	w := &watchRig{t: t, clk: clk, pres: newSwitch("PIR", presence, edges), tamp: newSwitch("TAMPER", tamper, edges),
		red: newRec("R", clk), buzz: newRec("B", clk),
		events: make(chan Reading, 64), samples: make(chan sample, 4096), done: make(chan error, 1)}
	w.p = New(Pins{
		Red: &Out{Key: "led_red", Pin: w.red}, Buzzer: &Out{Key: "buzzer", Pin: w.buzz},
		Presence: &In{Key: "presence", Pin: w.pres}, Tamper: &In{Key: "tamper", Pin: w.tamp},
	}, Options{Clock: clk, Log: discard, EdgeWait: 20 * time.Millisecond,
		OnTamper: func(open bool, at time.Time) {
			w.mu.Lock()
			w.tampers = append(w.tampers, open)
			w.mu.Unlock()
		}})
	w.p.opt.OnSample = func(r Reading) {
		select {
		case w.samples <- sample{r.Sensor.String(), r.Active}:
		default:
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	go func() { w.done <- w.p.Watch(ctx, func(ev Reading) { w.events <- ev }) }()
	t.Cleanup(w.stop)
	w.waitSample("presence", presence == gpio.High)
	w.waitSample("tamper", tamper == gpio.High)
	return w
}

func (w *watchRig) stop() {
	w.cancel()
	select {
	case err := <-w.done:
		if err != nil {
			w.t.Errorf("Watch: %v", err)
		}
	case <-time.After(10 * time.Second):
		w.t.Fatal("Watch did not return after its context ended")
	}
	w.done <- nil // a second stop returns at once
}

// waitSample waits until the watcher has sampled key at the given level.
func (w *watchRig) waitSample(key string, active bool) {
	w.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case s := <-w.samples:
			if s.key == key && s.active == active {
				return
			}
		case <-deadline:
			w.t.Fatalf("no sample %s=%v", key, active)
		}
	}
}

// edge delivers a level change as an interrupt would and waits until it has
// been sampled.
func (w *watchRig) edge(pin *switchPin, key string, l gpio.Level) {
	w.t.Helper()
	pin.EdgesChan <- l
	w.waitSample(key, l == gpio.High)
}

func (w *watchRig) drain() []string {
	var got []string
	for {
		select {
		case ev := <-w.events:
			got = append(got, ev.String())
		default:
			return got
		}
	}
}

func (w *watchRig) tamperCalls() []bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]bool(nil), w.tampers...)
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		m[s]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}

func TestWatchEdgesDebounced(t *testing.T) {
	w := startWatch(t, true, gpio.Low, gpio.Low)
	if w.tamp.gotPull() != gpio.PullUp || w.pres.gotPull() != gpio.PullDown {
		t.Fatalf("pulls: tamper %v presence %v; want tamper pulled up (a cut wire reads open), presence down",
			w.tamp.gotPull(), w.pres.gotPull())
	}
	// The initial state is reported once it is stable.
	w.clk.Advance(49 * time.Millisecond)
	if got := w.drain(); len(got) != 0 {
		t.Fatalf("reported before the debounce time: %v", got)
	}
	w.clk.Advance(time.Millisecond)
	if got := w.drain(); !sameSet(got, []string{"presence=false", "tamper=false"}) {
		t.Fatalf("initial events %v", got)
	}
	if c := w.tamperCalls(); len(c) != 1 || c[0] {
		t.Fatalf("OnTamper calls %v, want [false]", c)
	}

	// Someone steps in front.
	w.edge(w.pres, "presence", gpio.High)
	w.clk.Advance(30 * time.Millisecond)
	if got := w.drain(); len(got) != 0 {
		t.Fatalf("presence reported before debounce: %v", got)
	}
	w.clk.Advance(20 * time.Millisecond)
	if got := w.drain(); !sameSet(got, []string{"presence=true"}) {
		t.Fatalf("presence events %v", got)
	}

	// A bounce of the tamper switch shorter than the debounce is nothing.
	w.edge(w.tamp, "tamper", gpio.High)
	w.clk.Advance(20 * time.Millisecond)
	w.edge(w.tamp, "tamper", gpio.Low)
	w.clk.Advance(200 * time.Millisecond)
	if got := w.drain(); len(got) != 0 {
		t.Fatalf("a 20ms bounce was reported: %v", got)
	}
	if w.p.Indication().Tamper {
		t.Fatal("LEDs show tamper after a bounce")
	}

	// The enclosure is opened, with contact bounce.
	w.buzz.reset()
	w.edge(w.tamp, "tamper", gpio.High)
	w.clk.Advance(5 * time.Millisecond)
	w.edge(w.tamp, "tamper", gpio.Low)
	w.clk.Advance(5 * time.Millisecond)
	w.edge(w.tamp, "tamper", gpio.High)
	w.clk.Advance(50 * time.Millisecond)
	if got := w.drain(); !sameSet(got, []string{"tamper=true"}) {
		t.Fatalf("tamper events %v", got)
	}
	if c := w.tamperCalls(); len(c) != 2 || !c[1] {
		t.Fatalf("OnTamper calls %v, want [false true]", c)
	}
	ind := w.p.Indication()
	if !ind.Tamper || ind.Red != BlinkFast.Name {
		t.Fatalf("indication after tamper %+v, want red blinking fast", ind)
	}
	if w.buzz.level() != gpio.High {
		t.Fatal("tamper alarm not sounding")
	}
	w.red.reset()
	step(w.clk, 500*time.Millisecond)
	if n := len(w.red.changes()); n < 3 {
		t.Fatalf("red LED changed %d times in 500ms, want a fast blink", n)
	}
}

func TestWatchPollsWithoutEdges(t *testing.T) {
	w := startWatch(t, false, gpio.Low, gpio.Low)
	w.clk.Advance(50 * time.Millisecond)
	if got := w.drain(); len(got) != 2 {
		t.Fatalf("initial events %v", got)
	}
	w.tamp.set(gpio.High) // no interrupt: only a poll can see it
	w.clk.Advance(40 * time.Millisecond)
	if got := w.drain(); len(got) != 0 {
		t.Fatalf("reported before a poll: %v", got)
	}
	step(w.clk, 150*time.Millisecond)
	if got := w.drain(); !sameSet(got, []string{"tamper=true"}) {
		t.Fatalf("polled tamper events %v", got)
	}
	// A glitch between two polls is never seen.
	w.pres.set(gpio.High)
	w.pres.set(gpio.Low)
	step(w.clk, time.Second)
	if got := w.drain(); len(got) != 0 {
		t.Fatalf("events %v", got)
	}
}

func TestWatchActiveLowInputs(t *testing.T) {
	clk := clock.NewFake(t0)
	tamp := newSwitch("T", gpio.Low, false) // active low: low = open
	p := New(Pins{Tamper: &In{Key: "tamper", Pin: tamp, ActiveLow: true}}, Options{Clock: clk, Log: discard})
	events := make(chan Reading, 8)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	sampled := make(chan struct{}, 64)
	p.opt.OnSample = func(Reading) { sampled <- struct{}{} }
	go func() { done <- p.Watch(ctx, func(ev Reading) { events <- ev }) }()
	<-sampled
	clk.Advance(50 * time.Millisecond)
	if ev := <-events; ev != (Reading{Sensor: SensorTamper, Active: true}) {
		t.Fatalf("event %v", ev)
	}
	if tamp.gotPull() != gpio.PullDown {
		t.Fatal("an active-low tamper input should be pulled down, so a cut wire reads open")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestWatchInputSetupError(t *testing.T) {
	tamp := newSwitch("T", gpio.Low, false)
	tamp.setupErr = errors.New("device busy")
	p := New(Pins{Tamper: &In{Key: "tamper", Pin: tamp}}, Options{Clock: clock.NewFake(t0), Log: discard})
	err := p.Watch(context.Background(), func(Reading) {})
	if err == nil || !strings.Contains(err.Error(), "gpio: tamper") || !strings.Contains(err.Error(), "device busy") {
		t.Fatalf("err = %v", err)
	}
}

func TestWatchWithoutInputsWaits(t *testing.T) {
	p := New(Pins{}, Options{Clock: clock.NewFake(t0), Log: discard})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := p.Watch(ctx, func(Reading) { t.Error("event without inputs") }); err != nil {
		t.Fatal(err)
	}
}

func TestDebouncer(t *testing.T) {
	clk := clock.NewFake(t0)
	var got []bool
	d := newDebouncer(clk, 50*time.Millisecond, func(v bool) { got = append(got, v) })
	d.sample(false)
	clk.Advance(50 * time.Millisecond)
	for i := 0; i < 10; i++ { // chatter
		d.sample(i%2 == 0)
		clk.Advance(10 * time.Millisecond)
	}
	d.sample(true)
	clk.Advance(49 * time.Millisecond)
	d.sample(true) // same level again: does not restart the wait
	clk.Advance(time.Millisecond)
	d.sample(true)
	clk.Advance(time.Second)
	if fmt.Sprint(got) != "[false true]" {
		t.Fatalf("reported %v, want [false true]", got)
	}
	d.stop()
	d.sample(false)
	clk.Advance(time.Second)
	if len(got) != 2 {
		t.Fatal("reported after stop")
	}
}

func TestWatchWithoutPullResistors(t *testing.T) {
	var lb logBuf
	clk := clock.NewFake(t0)
	tamp := newSwitch("T", gpio.High, true)
	tamp.noPull = true
	p := New(Pins{Tamper: &In{Key: "tamper", Pin: tamp}}, Options{Clock: clk, Log: lb.logger(), EdgeWait: 20 * time.Millisecond})
	events := make(chan Reading, 8)
	sampled := make(chan bool, 4096)
	p.opt.OnSample = func(r Reading) {
		select {
		case sampled <- r.Active:
		default:
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Watch(ctx, func(ev Reading) { events <- ev }) }()
	<-sampled
	clk.Advance(50 * time.Millisecond)
	if ev := <-events; ev != (Reading{Sensor: SensorTamper, Active: true}) {
		t.Fatalf("event %v", ev)
	}
	if tamp.gotPull() != gpio.PullNoChange {
		t.Fatalf("pull %v, want PullNoChange after the board refused the pull-up", tamp.gotPull())
	}
	// Edges still work without the pull.
	tamp.EdgesChan <- gpio.Low
	for <-sampled {
	}
	clk.Advance(50 * time.Millisecond)
	if ev := <-events; ev != (Reading{Sensor: SensorTamper, Active: false}) {
		t.Fatalf("event %v", ev)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if countLines(lb.String(), "external one") != 1 || countLines(lb.String(), "polling") != 0 {
		t.Fatalf("log:\n%s", lb.String())
	}
}
