package gpio

import (
	"errors"
	"strings"
	"testing"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

// board is the pin layout of the kiosk's reference wiring (docs/operations.md).
var board = Layout{
	Green: PinSpec{Name: "GPIO17"}, Amber: PinSpec{Name: "GPIO27"}, Red: PinSpec{Name: "GPIO22"},
	Buzzer: PinSpec{Name: "GPIO18"}, IR: PinSpec{Name: "GPIO25"},
	Presence: PinSpec{Name: "GPIO23"}, Tamper: PinSpec{Name: "GPIO24"},
}

func TestOpenOnBoardWithoutGPIO(t *testing.T) {
	var lb logBuf
	pins, err := Open(board, lb.logger())
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
	p.SetMode(ModeBusy)
	if p.Present() {
		t.Fatal("Present without pins")
	}
}

func TestOpenNothingConfigured(t *testing.T) {
	var lb logBuf
	pins, err := Open(Layout{}, lb.logger())
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

	l := Layout{Green: PinSpec{Name: "GPIO17"}, Red: PinSpec{Name: "GPIO22", ActiveLow: true}, Tamper: PinSpec{Name: "GPIO24"}}
	pins, err := resolve(l, byName, all)
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

	l.Tamper.Name = "GPIO99"
	_, err = resolve(l, byName, all)
	var pe *PinError
	if !errors.As(err, &pe) || !errors.Is(err, ErrNoSuchPin) || pe.Peripheral != "tamper" {
		t.Fatalf("err = %v", err)
	}
	msg := err.Error()
	for _, want := range []string{"tamper", `"GPIO99"`, "GPIO17"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %s", msg, want)
		}
	}
}
