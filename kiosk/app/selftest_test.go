package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	kgpio "eidkiosk/drivers/gpio"
	"eidkiosk/internal/clock"
	"eidkiosk/kiosk/tamper"
	"eidkiosk/provisioning/selftest"
)

// The enclosure check reads the real driver's tamper input (a gpiotest pin
// at its electrical level) and the persisted lock in a real state dir.
func TestEnclosureCheck(t *testing.T) {
	// gpiotest.Pin.In sets the level to the pull (an unconnected input);
	// the switch holds the line, so the level is set after In.
	pin := &switchPin{Pin: gpiotest.Pin{N: "GPIO17"}, level: gpio.Low}
	wired := kgpio.Pins{Tamper: &kgpio.In{Key: "tamper", Pin: pin}}
	read := func(p kgpio.Pins) func() (bool, error) { return func() (bool, error) { return kgpio.ReadTamper(p) } }
	dir := t.TempDir()
	lock := tamper.New(dir, nil, "", clock.Real{})
	run := func() selftest.Result { return enclosureCheck(read(wired), lock).Run(context.Background()) }

	if r := run(); r.Status != selftest.Pass || !strings.Contains(r.Value, "closed") {
		t.Errorf("closed: %+v", r)
	}
	if pin.P != gpio.PullUp {
		t.Errorf("the input was read with pull %v, want up (a cut wire then reads open)", pin.P)
	}
	pin.level = gpio.High
	if r := run(); r.Status != selftest.Fail || !strings.Contains(r.Value, "open") || r.Fix == "" {
		t.Errorf("open: %+v", r)
	}
	if r := enclosureCheck(read(kgpio.Pins{}), lock).Run(context.Background()); r.Status != selftest.Skip || !strings.Contains(r.Value, "no tamper switch") {
		t.Errorf("not wired: %+v", r)
	}
	pin.level = gpio.Low
	if err := lock.Lock(); err != nil {
		t.Fatal(err)
	}
	if r := run(); r.Status != selftest.Fail || !strings.Contains(r.Value, "locked since "+time.Now().UTC().Format("2006-01-02")) {
		t.Errorf("locked: %+v", r)
	}
}

// switchPin is a gpiotest pin whose line a switch holds at level.
type switchPin struct {
	gpiotest.Pin
	level gpio.Level
}

func (p *switchPin) Read() gpio.Level { return p.level }
