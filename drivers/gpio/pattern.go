package gpio

import (
	"log/slog"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"

	"eidkiosk/internal/clock"
)

// Step is one segment of a pattern: the output on or off for a while. A
// zero For on the last step holds it.
type Step struct {
	On  bool
	For time.Duration
}

// Pattern is a blink or beep sequence. A Repeat pattern loops; otherwise the
// output is switched off after the last step.
type Pattern struct {
	Name   string
	Steps  []Step
	Repeat bool
}

// LED and buzzer patterns; docs/operations.md lists what each means.
var (
	Steady    = Pattern{Name: "steady", Steps: []Step{{On: true}}}
	Off       = Pattern{Name: "off"}
	BlinkSlow = Pattern{Name: "blink-slow", Repeat: true,
		Steps: []Step{{true, 500 * time.Millisecond}, {false, 500 * time.Millisecond}}}
	BlinkFast = Pattern{Name: "blink-fast", Repeat: true,
		Steps: []Step{{true, 125 * time.Millisecond}, {false, 125 * time.Millisecond}}}

	BeepCardRead = Pattern{Name: "card-read", Steps: []Step{{true, 80 * time.Millisecond}}}
	BeepSuccess  = Pattern{Name: "success",
		Steps: []Step{{true, 120 * time.Millisecond}, {false, 80 * time.Millisecond}, {true, 400 * time.Millisecond}}}
	BeepError = Pattern{Name: "error", Steps: []Step{
		{true, 150 * time.Millisecond}, {false, 100 * time.Millisecond},
		{true, 150 * time.Millisecond}, {false, 100 * time.Millisecond},
		{true, 150 * time.Millisecond}}}
	BeepTamper = Pattern{Name: "tamper", Steps: []Step{
		{true, time.Second}, {false, 500 * time.Millisecond},
		{true, time.Second}, {false, 500 * time.Millisecond},
		{true, time.Second}}}
)

// FaultCode is the red LED's blink code for a device fault: n short blinks,
// then a pause, repeated.
func FaultCode(n int) Pattern {
	p := Pattern{Name: "code", Repeat: true}
	for i := 0; i < n; i++ {
		p.Steps = append(p.Steps, Step{true, 200 * time.Millisecond}, Step{false, 200 * time.Millisecond})
	}
	p.Steps[len(p.Steps)-1].For = 1200 * time.Millisecond
	return p
}

// player plays patterns on one output with the injected clock. Playing a new
// pattern replaces the current one at once.
type player struct {
	out *Out
	clk clock.Clock
	log *slog.Logger

	mu      sync.Mutex
	gen     uint64
	pattern Pattern
	timer   clock.Timer
	on      bool
	failed  bool // a write failed; logged once
}

func newPlayer(o *Out, clk clock.Clock, log *slog.Logger) *player {
	if o == nil {
		return nil
	}
	return &player{out: o, clk: clk, log: log}
}

// play starts p unless it is already playing (so a repeated mode does not
// restart a blink). A nil player (absent peripheral) does nothing.
func (pl *player) play(p Pattern) {
	if pl == nil {
		return
	}
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if pl.pattern.Name == p.Name && samePattern(pl.pattern, p) && (p.Repeat || isHold(p)) {
		return
	}
	pl.start(p)
}

// restart plays p from its first step even when it is already playing.
func (pl *player) restart(p Pattern) {
	if pl == nil {
		return
	}
	pl.mu.Lock()
	defer pl.mu.Unlock()
	pl.start(p)
}

func (pl *player) start(p Pattern) {
	pl.gen++
	if pl.timer != nil {
		pl.timer.Stop()
		pl.timer = nil
	}
	pl.pattern = p
	pl.step(pl.gen, 0)
}

// step applies step i of the current pattern; pl.mu is held.
func (pl *player) step(gen uint64, i int) {
	p := pl.pattern
	if i >= len(p.Steps) {
		if p.Repeat && len(p.Steps) > 0 {
			i = 0
		} else {
			pl.set(false)
			return
		}
	}
	s := p.Steps[i]
	pl.set(s.On)
	if s.For <= 0 {
		return
	}
	pl.timer = pl.clk.AfterFunc(s.For, func() {
		pl.mu.Lock()
		defer pl.mu.Unlock()
		if pl.gen != gen {
			return
		}
		pl.step(gen, i+1)
	})
}

func (pl *player) set(on bool) {
	pl.on = on
	lvl := gpio.Level(on != pl.out.ActiveLow)
	if err := pl.out.Pin.Out(lvl); err != nil && !pl.failed {
		pl.failed = true
		pl.log.Warn("gpio: writing an output failed; it stays as it is", "peripheral", pl.out.Key, "err", err)
	}
}

func (pl *player) current() (Pattern, bool) {
	if pl == nil {
		return Off, false
	}
	pl.mu.Lock()
	defer pl.mu.Unlock()
	return pl.pattern, pl.on
}

func isHold(p Pattern) bool { return len(p.Steps) == 0 || p.Steps[len(p.Steps)-1].For == 0 }

func samePattern(a, b Pattern) bool {
	if len(a.Steps) != len(b.Steps) || a.Repeat != b.Repeat {
		return false
	}
	for i := range a.Steps {
		if a.Steps[i] != b.Steps[i] {
			return false
		}
	}
	return true
}
