package gpio

import (
	"context"
	"fmt"
	"time"

	"periph.io/x/conn/v3/gpio"

	"eidkiosk/internal/clock"
)

// Exercise runs the technician's test (`kioskctl gpio test`): each LED on in
// turn, the four LED modes, every buzzer pattern, the IR light, then the
// inputs' current levels. report gets one line per step; absent
// peripherals are reported as such. It leaves every output off and returns
// early with ctx's error.
func (p *Peripherals) Exercise(ctx context.Context, report func(string)) error {
	sleep := func(d time.Duration) error { return clock.Sleep(ctx, p.clk, d) }
	leds := []struct {
		name string
		pl   *player
	}{{"led_green", p.green}, {"led_amber", p.amber}, {"led_red", p.red}}
	for _, l := range leds {
		if l.pl == nil {
			report(l.name + ": not configured")
			continue
		}
		report(l.name + ": on for 1s")
		l.pl.restart(Steady)
		err := sleep(time.Second)
		l.pl.restart(Off)
		if err != nil {
			return err
		}
	}
	for _, m := range []struct {
		mode Mode
		show func()
	}{
		{ModeIdle, func() { p.green.restart(Steady) }},
		{ModeBusy, func() { p.amber.restart(Steady) }},
		{ModeAttention, func() { p.amber.restart(BlinkSlow) }},
		{ModeFault, func() { p.red.restart(Steady) }},
	} {
		report(fmt.Sprintf("mode %s for 3s", m.mode))
		m.show()
		err := sleep(3 * time.Second)
		for _, l := range leds {
			l.pl.restart(Off)
		}
		if err != nil {
			return err
		}
	}
	report("device fault code 2 (camera) on the red LED for 4s")
	p.red.restart(FaultCode(int(DeviceCamera)))
	err := sleep(4 * time.Second)
	p.red.restart(Off)
	if err != nil {
		return err
	}
	if p.buzzer == nil {
		report("buzzer: not configured")
	} else {
		for _, pat := range []Pattern{BeepCardRead, BeepSuccess, BeepError, BeepTamper} {
			report("buzzer: " + pat.Name)
			p.buzzer.restart(pat)
			if err := sleep(patternLength(pat) + time.Second); err != nil {
				p.buzzer.restart(Off)
				return err
			}
		}
	}
	if p.ir == nil {
		report("ir_light: not configured")
	} else {
		report("ir_light: on for 3s (look with a phone camera)")
		p.ir.restart(Steady)
		err := sleep(3 * time.Second)
		p.ir.restart(Off)
		if err != nil {
			return err
		}
	}
	for _, in := range []struct {
		in      *In
		pull    gpio.Pull
		on, off string
	}{{p.pins.Presence, gpio.PullDown, "someone present", "nobody"}, {p.pins.Tamper, gpio.PullUp, "OPEN", "closed"}} {
		if in.in == nil {
			continue
		}
		if err := in.in.Pin.In(pullFor(in.in, in.pull), gpio.NoEdge); err != nil {
			report(fmt.Sprintf("%s: cannot read: %v", in.in.Key, err))
			continue
		}
		state := in.off
		if (in.in.Pin.Read() == gpio.High) != in.in.ActiveLow {
			state = in.on
		}
		report(fmt.Sprintf("%s: %s", in.in.Key, state))
	}
	if p.pins.Presence == nil {
		report("presence: not configured")
	}
	if p.pins.Tamper == nil {
		report("tamper: not configured")
	}
	return nil
}

func patternLength(p Pattern) time.Duration {
	var d time.Duration
	for _, s := range p.Steps {
		d += s.For
	}
	return d
}
