package gpio

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/host/v3"
)

// Output is what an LED, the buzzer or the IR light needs of a pin
// (satisfied by periph's gpio.PinIO and gpiotest.Pin).
type Output interface {
	Out(l gpio.Level) error
}

// Input is what the presence sensor and the tamper switch need of a pin.
type Input interface {
	In(pull gpio.Pull, edge gpio.Edge) error
	Read() gpio.Level
	WaitForEdge(timeout time.Duration) bool
}

// Out is one output peripheral: its pin and polarity.
type Out struct {
	Key       string // peripheral name, e.g. "led_red"
	Pin       Output
	ActiveLow bool
}

// In is one input peripheral: its pin and polarity.
type In struct {
	Key       string // "presence" or "tamper"
	Pin       Input
	ActiveLow bool
}

// PinSpec names the board pin of one peripheral. An empty Name leaves the
// peripheral out.
type PinSpec struct {
	Name      string // periph.io gpioreg name, e.g. "GPIO17" or "17"
	ActiveLow bool   // the peripheral is active (lit, sounding, present, open) at the low level
}

// Layout names the pin of every peripheral, by what the peripheral is.
type Layout struct {
	Green, Amber, Red, Buzzer, IR PinSpec
	Presence, Tamper              PinSpec
}

// Peripheral names, in the order Open looks them up (outputs, then inputs).
// They name pins in logs, errors and the technician's test.
var Peripheral = []string{"led_green", "led_amber", "led_red", "buzzer", "ir_light", "presence", "tamper"}

// spec returns the pin of the peripheral named k (one of Peripheral).
func (l Layout) spec(k string) PinSpec {
	switch k {
	case "led_green":
		return l.Green
	case "led_amber":
		return l.Amber
	case "led_red":
		return l.Red
	case "buzzer":
		return l.Buzzer
	case "ir_light":
		return l.IR
	case "presence":
		return l.Presence
	case "tamper":
		return l.Tamper
	}
	return PinSpec{}
}

// Pins are the peripherals found. A nil field is an absent peripheral.
type Pins struct {
	Green, Amber, Red, Buzzer, IR *Out
	Presence, Tamper              *In
}

// Any reports whether at least one peripheral is present.
func (p Pins) Any() bool {
	return p.Green != nil || p.Amber != nil || p.Red != nil || p.Buzzer != nil || p.IR != nil ||
		p.Presence != nil || p.Tamper != nil
}

// ErrNoSuchPin is wrapped by a *PinError for a name the board does not have.
var ErrNoSuchPin = errors.New("no such pin on this board")

// PinError is a pin of the Layout that cannot be used.
type PinError struct {
	Peripheral string   // e.g. "tamper" (one of Peripheral)
	Name       string   // the pin name asked for
	Known      []string // a few names the board has, for the message
	Err        error
}

func (e *PinError) Error() string {
	s := fmt.Sprintf("gpio: %s: pin %q: %v", e.Peripheral, e.Name, e.Err)
	if len(e.Known) > 0 {
		s += " (this board has e.g. " + strings.Join(e.Known, ", ") + ")"
	}
	return s
}

func (e *PinError) Unwrap() error { return e.Err }

// Open initialises periph.io's host drivers and looks up the pins of the
// layout. On a board without GPIO it logs that once and returns no pins and
// no error: the kiosk runs with its peripherals off. A name the board does
// not know is a *PinError wrapping ErrNoSuchPin.
func Open(l Layout, log *slog.Logger) (Pins, error) {
	if log == nil {
		log = slog.Default()
	}
	configured := false
	for _, k := range Peripheral {
		configured = configured || l.spec(k).Name != ""
	}
	if !configured {
		log.Info("gpio: no peripherals configured; LEDs, buzzer, presence, tamper and IR light are off")
		return Pins{}, nil
	}
	if _, err := host.Init(); err != nil {
		log.Warn("gpio: no GPIO on this board; LEDs, buzzer, presence, tamper and IR light are off", "err", err)
		return Pins{}, nil
	}
	all := gpioreg.All()
	if len(all) == 0 {
		log.Warn("gpio: no GPIO on this board; LEDs, buzzer, presence, tamper and IR light are off")
		return Pins{}, nil
	}
	return resolve(l, func(n string) gpio.PinIO { return gpioreg.ByName(n) }, all)
}

// resolve looks up every named pin with byName.
func resolve(l Layout, byName func(string) gpio.PinIO, all []gpio.PinIO) (Pins, error) {
	var p Pins
	for _, k := range Peripheral {
		spec := l.spec(k)
		name := spec.Name
		if name == "" {
			continue
		}
		pin := byName(name)
		if pin == nil {
			return Pins{}, &PinError{Peripheral: k, Name: name, Known: someNames(all, 8), Err: ErrNoSuchPin}
		}
		low := spec.ActiveLow
		switch k {
		case "presence":
			p.Presence = &In{Key: k, Pin: pin, ActiveLow: low}
		case "tamper":
			p.Tamper = &In{Key: k, Pin: pin, ActiveLow: low}
		default:
			o := &Out{Key: k, Pin: pin, ActiveLow: low}
			switch k {
			case "led_green":
				p.Green = o
			case "led_amber":
				p.Amber = o
			case "led_red":
				p.Red = o
			case "buzzer":
				p.Buzzer = o
			case "ir_light":
				p.IR = o
			}
		}
	}
	return p, nil
}

func someNames(all []gpio.PinIO, n int) []string {
	var names []string
	for _, p := range all {
		names = append(names, p.Name())
	}
	sort.Strings(names)
	if len(names) > n {
		names = append(names[:n], "…")
	}
	return names
}

// ErrNotWired is returned by ReadTamper when no tamper switch is configured.
var ErrNotWired = errors.New("gpio: no tamper switch configured")

// ReadTamper reads the enclosure switch once: open is true when the
// enclosure is open (or the switch's wire is cut: the input then floats to
// its pull, which reads as open). It configures the input with its pull
// first, as Watch does.
func ReadTamper(p Pins) (open bool, err error) {
	in := p.Tamper
	if in == nil {
		return false, ErrNotWired
	}
	if err := in.Pin.In(pullFor(in, gpio.PullUp), gpio.NoEdge); err != nil {
		return false, fmt.Errorf("gpio: tamper: %w", err)
	}
	return (in.Pin.Read() == gpio.High) != in.ActiveLow, nil
}
