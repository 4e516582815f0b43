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

	"eidkiosk/kiosk/config"
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
	Key       string // configuration key, e.g. "led_red"
	Pin       Output
	ActiveLow bool
}

// In is one input peripheral: its pin and polarity.
type In struct {
	Key       string // "presence" or "tamper"
	Pin       Input
	ActiveLow bool
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

// PinError is a configured pin that cannot be used.
type PinError struct {
	Key   string   // configuration key, e.g. "gpio.tamper"
	Name  string   // the configured pin name
	Known []string // a few names the board has, for the message
	Err   error
}

func (e *PinError) Error() string {
	s := fmt.Sprintf("gpio: %s: pin %q: %v", e.Key, e.Name, e.Err)
	if len(e.Known) > 0 {
		s += " (this board has e.g. " + strings.Join(e.Known, ", ") + ")"
	}
	return s
}

func (e *PinError) Unwrap() error { return e.Err }

// Open initialises periph.io's host drivers and looks up the configured
// pins. On a board without GPIO it logs that once and returns no pins and
// no error: the kiosk runs with its peripherals off. A configured name the
// board does not know is a *PinError wrapping ErrNoSuchPin.
func Open(cfg config.GPIOConfig, log *slog.Logger) (Pins, error) {
	if log == nil {
		log = slog.Default()
	}
	configured := false
	for _, k := range config.GPIOKeys {
		configured = configured || cfg.Pin(k) != ""
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
	return resolve(cfg, func(n string) gpio.PinIO { return gpioreg.ByName(n) }, all)
}

// resolve looks up every configured name with byName.
func resolve(cfg config.GPIOConfig, byName func(string) gpio.PinIO, all []gpio.PinIO) (Pins, error) {
	var p Pins
	for _, k := range config.GPIOKeys {
		name := cfg.Pin(k)
		if name == "" {
			continue
		}
		pin := byName(name)
		if pin == nil {
			return Pins{}, &PinError{Key: "gpio." + k, Name: name, Known: someNames(all, 8), Err: ErrNoSuchPin}
		}
		low := cfg.IsActiveLow(k)
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
