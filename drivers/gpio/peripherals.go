package gpio

import (
	"log/slog"
	"sort"
	"sync"
	"time"

	"eidkiosk/internal/clock"
)

// Mode is what the status LEDs show.
type Mode int

const (
	ModeIdle      Mode = iota // green steady: ready for a visit
	ModeBusy                  // amber steady: a visit is in progress
	ModeAttention             // amber blinking: look at the screen (an error screen)
	ModeFault                 // red steady: no visits (disabled, outbox full, tampered)
)

func (m Mode) String() string {
	if m < 0 || int(m) >= 4 {
		return "mode(?)"
	}
	return [...]string{"idle", "busy", "attention", "fault"}[m]
}

// Device is a part whose fault the red LED can show as a blink code.
type Device int

const (
	DeviceReader  Device = 1 // one blink
	DeviceCamera  Device = 2 // two blinks
	DevicePrinter Device = 3 // three blinks
)

func (d Device) String() string {
	switch d {
	case DeviceReader:
		return "reader"
	case DeviceCamera:
		return "camera"
	case DevicePrinter:
		return "printer"
	}
	return "device(?)"
}

// Options configures Peripherals. The zero value works: real clock, the
// default logger, 50ms debounce, 100ms polling.
type Options struct {
	Clock        clock.Clock
	Log          *slog.Logger
	Debounce     time.Duration
	PollInterval time.Duration
	// EdgeWait bounds one wait for an edge interrupt (real time); it bounds
	// how long Watch takes to return after its context ends. Default 250ms.
	EdgeWait time.Duration
	// OnTamper is called on every debounced change of the tamper switch,
	// and once at the start of Watch with the initial state (open true).
	// Wire it to the uplink so the authority learns of it. It is called
	// from the tamper watcher and should return quickly.
	OnTamper func(open bool, at time.Time)
	// OnSample, when set, is called with every raw (not yet debounced)
	// sample of an input, from its watcher: for diagnostics and tests.
	OnSample func(Reading)
}

// Peripherals drives the LEDs, buzzer and IR light and watches the inputs.
// Its methods are safe for concurrent use and never block on hardware
// timing, so they may be called from a state machine's goroutine.
type Peripherals struct {
	pins Pins
	opt  Options
	clk  clock.Clock
	log  *slog.Logger

	green, amber, red, buzzer, ir *player

	mu     sync.Mutex
	mode   Mode
	tamper bool
	faults map[Device]bool
}

// New returns Peripherals on pins, showing the idle mode.
func New(pins Pins, opt Options) *Peripherals {
	if opt.Clock == nil {
		opt.Clock = clock.Real{}
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.Debounce <= 0 {
		opt.Debounce = 50 * time.Millisecond
	}
	if opt.PollInterval <= 0 {
		opt.PollInterval = 100 * time.Millisecond
	}
	if opt.EdgeWait <= 0 {
		opt.EdgeWait = 250 * time.Millisecond
	}
	p := &Peripherals{pins: pins, opt: opt, clk: opt.Clock, log: opt.Log, faults: map[Device]bool{}}
	p.green = newPlayer(pins.Green, p.clk, p.log)
	p.amber = newPlayer(pins.Amber, p.clk, p.log)
	p.red = newPlayer(pins.Red, p.clk, p.log)
	p.buzzer = newPlayer(pins.Buzzer, p.clk, p.log)
	p.ir = newPlayer(pins.IR, p.clk, p.log)
	p.mu.Lock()
	p.ir.play(Off)
	p.buzzer.play(Off)
	p.showLocked()
	p.mu.Unlock()
	return p
}

// Present reports whether any peripheral is present.
func (p *Peripherals) Present() bool { return p.pins.Any() }

// TamperWired reports whether an enclosure switch is configured.
func (p *Peripherals) TamperWired() bool { return p.pins.Tamper != nil }

// SetMode shows m on the status LEDs (unless the tamper switch or a device
// fault overrides the red LED). Setting the mode already shown does not
// restart a blink.
func (p *Peripherals) SetMode(m Mode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = m
	p.showLocked()
}

// SetIR switches the infrared illuminator.
func (p *Peripherals) SetIR(on bool) {
	if on {
		p.ir.play(Steady)
	} else {
		p.ir.play(Off)
	}
}

// Tampered reports whether the tamper switch reads open now.
func (p *Peripherals) Tampered() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tamper
}

// DeviceFault shows (faulted) or clears a device's blink code on the red LED.
// The lowest-numbered faulty device is shown.
func (p *Peripherals) DeviceFault(d Device, faulted bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if faulted {
		p.faults[d] = true
	} else {
		delete(p.faults, d)
	}
	p.showLocked()
}

// Beep plays a buzzer pattern from its start.
func (p *Peripherals) Beep(pat Pattern) { p.buzzer.restart(pat) }

// Indication is what the peripherals show now.
type Indication struct {
	Mode     Mode
	Tamper   bool
	Faults   []Device
	Green    string // pattern names
	Amber    string
	Red      string
	IR       bool
	Buzzer   string // the last buzzer pattern played ("off" when none)
	BuzzerOn bool
}

// Indication returns what the LEDs, IR light and buzzer show now.
func (p *Peripherals) Indication() Indication {
	p.mu.Lock()
	ind := Indication{Mode: p.mode, Tamper: p.tamper}
	for d := range p.faults {
		ind.Faults = append(ind.Faults, d)
	}
	p.mu.Unlock()
	sort.Slice(ind.Faults, func(i, j int) bool { return ind.Faults[i] < ind.Faults[j] })
	g, _ := p.green.current()
	a, _ := p.amber.current()
	r, _ := p.red.current()
	_, ir := p.ir.current()
	bp, bz := p.buzzer.current()
	ind.Green, ind.Amber, ind.Red, ind.IR, ind.Buzzer, ind.BuzzerOn = g.Name, a.Name, r.Name, ir, bp.Name, bz
	return ind
}

// Close switches every output off.
func (p *Peripherals) Close() error {
	for _, pl := range []*player{p.green, p.amber, p.red, p.buzzer, p.ir} {
		pl.restart(Off)
	}
	return nil
}

// showLocked sets the LEDs for the mode, tamper and device faults; p.mu is
// held.
func (p *Peripherals) showLocked() {
	green, amber, red := Off, Off, Off
	switch p.mode {
	case ModeIdle:
		green = Steady
	case ModeBusy:
		amber = Steady
	case ModeAttention:
		amber = BlinkSlow
	case ModeFault:
		red = Steady
	}
	if len(p.faults) > 0 {
		first := Device(1 << 30)
		for d := range p.faults {
			first = min(first, d)
		}
		red = FaultCode(int(first))
	}
	if p.tamper {
		red = BlinkFast
	}
	p.green.play(green)
	p.amber.play(amber)
	p.red.play(red)
}

// setTamper records the tamper switch for the LEDs and sounds the alarm
// when it opens.
func (p *Peripherals) setTamper(open bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	was := p.tamper
	p.tamper = open
	p.showLocked()
	if open && !was {
		p.buzzer.restart(BeepTamper)
	}
}
