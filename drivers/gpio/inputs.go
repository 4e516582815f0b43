package gpio

import (
	"context"
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"

	"eidkiosk/internal/clock"
)

// Sensor is one of the two inputs.
type Sensor int

const (
	SensorPresence Sensor = iota + 1 // someone stands in front of the kiosk
	SensorTamper                     // the enclosure switch
)

func (s Sensor) String() string {
	switch s {
	case SensorPresence:
		return "presence"
	case SensorTamper:
		return "tamper"
	}
	return "sensor(?)"
}

// Reading is a debounced level of an input: Active is "someone present"
// for the presence sensor and "open" for the tamper switch.
type Reading struct {
	Sensor Sensor
	Active bool
}

func (r Reading) String() string { return fmt.Sprintf("%s=%v", r.Sensor, r.Active) }

// Watch watches the presence sensor and the tamper switch until ctx ends,
// calling emit with a Reading after debouncing: once at the start with the
// initial state, then on every change. A tamper change also updates the
// LEDs (fast red blink, alarm beep) and calls Options.OnTamper before emit.
// emit is called from the watchers' goroutines, one reading at a time; it
// must not block for long.
//
// Pins with edge interrupts are waited on (WaitForEdge); pins without are
// polled every Options.PollInterval on the injected clock. The tamper input
// is pulled up, so a cut wire reads as open; presence is pulled down. Watch
// returns nil when ctx ends, or an error at once when an input pin cannot be
// set up. With no inputs it just waits for ctx.
func (p *Peripherals) Watch(ctx context.Context, emit func(Reading)) error {
	var emitMu sync.Mutex
	send := func(ev Reading) {
		emitMu.Lock()
		defer emitMu.Unlock()
		emit(ev)
	}
	type watched struct {
		in     *In
		sensor Sensor
		pull   gpio.Pull
		on     func(active bool)
	}
	var ins []watched
	if in := p.pins.Presence; in != nil {
		ins = append(ins, watched{in, SensorPresence, pullFor(in, gpio.PullDown), func(active bool) {
			send(Reading{Sensor: SensorPresence, Active: active})
		}})
	}
	if in := p.pins.Tamper; in != nil {
		ins = append(ins, watched{in, SensorTamper, pullFor(in, gpio.PullUp), func(open bool) {
			p.setTamper(open)
			if p.opt.OnTamper != nil {
				p.opt.OnTamper(open, p.clk.Now())
			}
			send(Reading{Sensor: SensorTamper, Active: open})
		}})
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var debs []*debouncer
	for _, w := range ins {
		edges, err := p.setupInput(w.in, w.pull)
		if err != nil {
			cancel()
			wg.Wait()
			for _, d := range debs {
				d.stop()
			}
			return err
		}
		d := newDebouncer(p.clk, p.opt.Debounce, w.on)
		debs = append(debs, d)
		in, sensor := w.in, w.sensor
		sample := func() {
			active := (in.Pin.Read() == gpio.High) != in.ActiveLow
			d.sample(active)
			if p.opt.OnSample != nil {
				p.opt.OnSample(Reading{Sensor: sensor, Active: active})
			}
		}
		sample()
		wg.Add(1)
		if edges {
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					in.Pin.WaitForEdge(p.opt.EdgeWait)
					if ctx.Err() != nil {
						return
					}
					sample()
				}
			}()
		} else {
			go func() {
				defer wg.Done()
				poll(ctx, p.clk, p.opt.PollInterval, sample)
			}()
		}
	}
	<-ctx.Done()
	wg.Wait()
	for _, d := range debs {
		d.stop()
	}
	return nil
}

// setupInput configures an input, preferring edge interrupts and the
// internal pull resistor, and falling back to polling and to an external
// resistor (sysfs GPIO has neither pulls nor, on some boards, edges). It
// reports whether edges are available.
func (p *Peripherals) setupInput(in *In, pull gpio.Pull) (bool, error) {
	var first error
	for _, try := range []struct {
		pull gpio.Pull
		edge gpio.Edge
	}{{pull, gpio.BothEdges}, {gpio.PullNoChange, gpio.BothEdges}, {pull, gpio.NoEdge}, {gpio.PullNoChange, gpio.NoEdge}} {
		err := in.Pin.In(try.pull, try.edge)
		if err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		if try.pull != pull {
			p.log.Warn("gpio: the board cannot set this input's pull resistor; fit an external one (10 kΩ)",
				"peripheral", in.Key, "pull", pull.String())
		}
		if try.edge == gpio.NoEdge {
			p.log.Info("gpio: no edge interrupts; polling", "peripheral", in.Key, "every", p.opt.PollInterval)
		}
		return try.edge != gpio.NoEdge, nil
	}
	return false, fmt.Errorf("gpio: %s: set up as input: %w", in.Key, first)
}

func pullFor(in *In, pull gpio.Pull) gpio.Pull {
	if in.ActiveLow { // the inactive level is the other rail
		if pull == gpio.PullUp {
			return gpio.PullDown
		}
		return gpio.PullUp
	}
	return pull
}

// poll calls f every d on clk until ctx ends. Each call runs in the timer's
// callback, so a fake clock's Advance returns after the sample is taken.
func poll(ctx context.Context, clk clock.Clock, d time.Duration, f func()) {
	var mu sync.Mutex
	var t clock.Timer
	var tick func()
	tick = func() {
		if ctx.Err() != nil {
			return
		}
		f()
		mu.Lock()
		defer mu.Unlock()
		if ctx.Err() == nil {
			t = clk.AfterFunc(d, tick)
		}
	}
	mu.Lock()
	t = clk.AfterFunc(d, tick)
	mu.Unlock()
	<-ctx.Done()
	mu.Lock()
	t.Stop()
	mu.Unlock()
}

// debouncer reports a level once it has been stable for d. The first stable
// level is always reported.
type debouncer struct {
	clk  clock.Clock
	d    time.Duration
	emit func(bool)

	fireMu  sync.Mutex // serialises emits
	mu      sync.Mutex
	known   bool // stable is valid
	stable  bool
	hasCand bool
	cand    bool
	gen     uint64
	timer   clock.Timer
	stopped bool
}

func newDebouncer(clk clock.Clock, d time.Duration, emit func(bool)) *debouncer {
	return &debouncer{clk: clk, d: d, emit: emit}
}

func (b *debouncer) sample(v bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped || (b.hasCand && v == b.cand) {
		return
	}
	b.cand, b.hasCand = v, true
	b.gen++
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	if b.known && v == b.stable {
		return // bounced back before d: nothing happened
	}
	gen := b.gen
	b.timer = b.clk.AfterFunc(b.d, func() { b.fire(gen) })
}

func (b *debouncer) fire(gen uint64) {
	b.fireMu.Lock()
	defer b.fireMu.Unlock()
	b.mu.Lock()
	if b.stopped || gen != b.gen {
		b.mu.Unlock()
		return
	}
	b.stable, b.known = b.cand, true
	b.timer = nil
	v := b.stable
	b.mu.Unlock()
	b.emit(v)
}

// stop cancels a pending report and waits for one in progress.
func (b *debouncer) stop() {
	b.mu.Lock()
	b.stopped = true
	if b.timer != nil {
		b.timer.Stop()
	}
	b.mu.Unlock()
	b.fireMu.Lock()
	b.fireMu.Unlock() //nolint:staticcheck // waits for a running emit
}
