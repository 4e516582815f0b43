package gpio

import (
	"errors"
	"strings"
	"testing"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"eidkiosk/kiosk/config"
)

func TestOpenOnBoardWithoutGPIO(t *testing.T) {
	var lb logBuf
	pins, err := Open(config.Default().GPIO, lb.logger())
	if err != nil {
		t.Fatal(err)
	}
	if len(gpioreg.All()) > 0 {
		t.Skip("this machine has GPIO pins; the no-GPIO path cannot be checked here")
	}
	if pins.Any() {
		t.Fatalf("pins %+v on a board without GPIO", pins)
	}
	if n := countLines(lb.String(), "no GPIO on this board"); n != 1 {
		t.Fatalf("logged %d times, want once:\n%s", n, lb.String())
	}
	// The kiosk keeps running with everything off.
	p := New(pins, Options{Log: discard})
	p.StateChanged(0, 1)
	if p.Present() {
		t.Fatal("Present without pins")
	}
}

func TestOpenNothingConfigured(t *testing.T) {
	var lb logBuf
	pins, err := Open(config.GPIOConfig{}, lb.logger())
	if err != nil || pins.Any() {
		t.Fatalf("pins %+v err %v", pins, err)
	}
	if countLines(lb.String(), "no peripherals configured") != 1 {
		t.Fatalf("log: %s", lb.String())
	}
}

func TestResolvePins(t *testing.T) {
	board := map[string]gpio.PinIO{}
	var all []gpio.PinIO
	for _, n := range []string{"GPIO17", "GPIO22", "GPIO24"} {
		p := &gpiotest.Pin{N: n}
		board[n] = p
		all = append(all, p)
	}
	byName := func(n string) gpio.PinIO { return board[n] }

	cfg := config.GPIOConfig{LEDGreen: "GPIO17", LEDRed: "GPIO22", Tamper: "GPIO24", ActiveLow: []string{"led_red"}}
	pins, err := resolve(cfg, byName, all)
	if err != nil {
		t.Fatal(err)
	}
	if pins.Green == nil || pins.Green.Pin != board["GPIO17"] || pins.Green.ActiveLow {
		t.Fatalf("green %+v", pins.Green)
	}
	if pins.Red == nil || !pins.Red.ActiveLow || pins.Tamper == nil || pins.Tamper.Pin != board["GPIO24"] {
		t.Fatalf("red %+v tamper %+v", pins.Red, pins.Tamper)
	}
	if pins.Amber != nil || pins.Buzzer != nil || pins.IR != nil || pins.Presence != nil {
		t.Fatal("absent peripherals should stay nil")
	}

	cfg.Tamper = "GPIO99"
	_, err = resolve(cfg, byName, all)
	var pe *PinError
	if !errors.As(err, &pe) || !errors.Is(err, ErrNoSuchPin) {
		t.Fatalf("err = %v", err)
	}
	msg := err.Error()
	for _, want := range []string{"gpio.tamper", `"GPIO99"`, "GPIO17"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %s", msg, want)
		}
	}
}
