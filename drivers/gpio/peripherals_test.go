package gpio

import (
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"eidkiosk/internal/clock"
)

type rig struct {
	clk                           *clock.Fake
	green, amber, red, buzzer, ir *recPin
	p                             *Peripherals
}

func newRig(t *testing.T) *rig {
	t.Helper()
	clk := clock.NewFake(t0)
	r := &rig{clk: clk, green: newRec("G", clk), amber: newRec("A", clk), red: newRec("R", clk),
		buzzer: newRec("B", clk), ir: newRec("IR", clk)}
	pins := Pins{
		Green: &Out{Key: "led_green", Pin: r.green}, Amber: &Out{Key: "led_amber", Pin: r.amber},
		Red: &Out{Key: "led_red", Pin: r.red}, Buzzer: &Out{Key: "buzzer", Pin: r.buzzer},
		IR: &Out{Key: "ir_light", Pin: r.ir},
	}
	r.p = New(pins, Options{Clock: clk, Log: discard})
	t.Cleanup(func() { r.p.Close() })
	return r
}

func (r *rig) leds() [3]gpio.Level {
	return [3]gpio.Level{r.green.level(), r.amber.level(), r.red.level()}
}

func TestModeToLEDs(t *testing.T) {
	H, L := gpio.High, gpio.Low
	cases := []struct {
		mode Mode
		leds [3]gpio.Level // green, amber, red, held over 3s
	}{
		{ModeIdle, [3]gpio.Level{H, L, L}},
		{ModeBusy, [3]gpio.Level{L, H, L}},
		{ModeFault, [3]gpio.Level{L, L, H}},
	}
	for _, c := range cases {
		r := newRig(t)
		r.p.SetMode(c.mode)
		if got := r.p.Indication().Mode; got != c.mode {
			t.Errorf("mode %v, want %v", got, c.mode)
		}
		for i := 0; i < 6; i++ {
			if got := r.leds(); got != c.leds {
				t.Errorf("%v at +%v: leds %v, want %v", c.mode, time.Duration(i)*500*time.Millisecond, got, c.leds)
			}
			step(r.clk, 500*time.Millisecond)
		}
	}
}

func TestAttentionBlinksAmber(t *testing.T) {
	r := newRig(t)
	r.p.SetMode(ModeAttention)
	r.amber.reset()
	// Setting the same mode again must not restart the blink.
	step(r.clk, 250*time.Millisecond)
	r.p.SetMode(ModeAttention)
	step(r.clk, 1750*time.Millisecond)
	expect(t, "amber", r.amber.changes(),
		change{ms(500), gpio.Low}, change{ms(1000), gpio.High}, change{ms(1500), gpio.Low}, change{ms(2000), gpio.High})
	if r.green.level() != gpio.Low || r.red.level() != gpio.Low {
		t.Fatal("only amber should be lit in the attention mode")
	}
}

func TestBuzzerPatterns(t *testing.T) {
	errorBeeps := []change{{0, gpio.High}, {ms(150), gpio.Low}, {ms(250), gpio.High},
		{ms(400), gpio.Low}, {ms(500), gpio.High}, {ms(650), gpio.Low}}
	cases := []struct {
		pat  Pattern
		want []change
	}{
		{BeepCardRead, []change{{0, gpio.High}, {ms(80), gpio.Low}}},
		{BeepSuccess, []change{{0, gpio.High}, {ms(120), gpio.Low}, {ms(200), gpio.High}, {ms(600), gpio.Low}}},
		{BeepError, errorBeeps},
	}
	for _, c := range cases {
		r := newRig(t)
		r.buzzer.reset()
		r.p.Beep(c.pat)
		step(r.clk, 3*time.Second)
		expect(t, c.pat.Name, r.buzzer.changes(), c.want...)
		if r.buzzer.level() != gpio.Low {
			t.Errorf("%v: buzzer left on", c.pat.Name)
		}
		if got := r.p.Indication().Buzzer; got != c.pat.Name {
			t.Errorf("%v: Indication().Buzzer %q", c.pat.Name, got)
		}
	}
	// A beep plays from its start even when the same pattern is playing.
	r := newRig(t)
	r.p.Beep(BeepError)
	step(r.clk, 300*time.Millisecond)
	r.buzzer.reset()
	r.p.Beep(BeepError)
	step(r.clk, 3*time.Second)
	var shifted []change
	for _, c := range errorBeeps {
		shifted = append(shifted, change{c.At + ms(300), c.L})
	}
	expect(t, "restarted error", r.buzzer.changes(), shifted...)
}

func TestIRLight(t *testing.T) {
	r := newRig(t)
	for _, on := range []bool{false, true, true, false, true, false} {
		r.p.SetIR(on)
		if r.ir.level() != gpio.Level(on) {
			t.Errorf("SetIR(%v): IR %v", on, r.ir.level())
		}
		if r.p.Indication().IR != on {
			t.Errorf("SetIR(%v): Indication().IR wrong", on)
		}
	}
}

func TestDeviceFaultBlinkCode(t *testing.T) {
	r := newRig(t)
	r.red.reset()
	r.p.DeviceFault(DeviceCamera, true)
	step(r.clk, 2000*time.Millisecond)
	// Two blinks then a long pause: 200 on, 200 off, 200 on, 1200 off.
	expect(t, "camera code", r.red.changes(),
		change{0, gpio.High}, change{ms(200), gpio.Low}, change{ms(400), gpio.High}, change{ms(600), gpio.Low},
		change{ms(1800), gpio.High}, change{ms(2000), gpio.Low})
	if r.green.level() != gpio.High {
		t.Fatal("the green LED should still show idle beside a device fault")
	}
	// The reader's code (one blink) takes precedence.
	r.red.reset()
	r.p.DeviceFault(DeviceReader, true)
	step(r.clk, 1600*time.Millisecond)
	expect(t, "reader code", r.red.changes(),
		change{ms(2000), gpio.High}, change{ms(2200), gpio.Low}, change{ms(3400), gpio.High}, change{ms(3600), gpio.Low})
	if f := r.p.Indication().Faults; len(f) != 2 || f[0] != DeviceReader || f[1] != DeviceCamera {
		t.Fatalf("faults %v", f)
	}
	r.p.DeviceFault(DeviceReader, false)
	r.p.DeviceFault(DeviceCamera, false)
	step(r.clk, 2*time.Second)
	if r.red.level() != gpio.Low {
		t.Fatal("red LED still lit after the faults cleared")
	}
}

func TestActiveLowOutputs(t *testing.T) {
	clk := clock.NewFake(t0)
	g, b := newRec("G", clk), newRec("B", clk)
	p := New(Pins{Green: &Out{Key: "led_green", Pin: g, ActiveLow: true}, Buzzer: &Out{Key: "buzzer", Pin: b, ActiveLow: true}},
		Options{Clock: clk, Log: discard})
	p.SetMode(ModeIdle)
	if g.level() != gpio.Low {
		t.Fatal("active-low green LED should be driven low when lit")
	}
	if b.level() != gpio.High {
		t.Fatal("active-low buzzer should rest high")
	}
	p.SetMode(ModeBusy)
	p.Beep(BeepCardRead)
	if b.level() != gpio.Low {
		t.Fatal("active-low buzzer should be driven low when sounding")
	}
	if g.level() != gpio.High {
		t.Fatal("green LED should be off (high) while busy")
	}
}

func TestAbsentPeripheralsAreSilent(t *testing.T) {
	p := New(Pins{}, Options{Clock: clock.NewFake(t0), Log: discard})
	if p.Present() {
		t.Fatal("no pins, yet Present")
	}
	for m := ModeIdle; m <= ModeFault; m++ {
		p.SetMode(m)
	}
	p.SetMode(ModeBusy)
	p.SetIR(true)
	p.DeviceFault(DeviceReader, true)
	p.Beep(BeepError)
	if ind := p.Indication(); ind.Mode != ModeBusy || ind.Red != "off" || ind.IR || len(ind.Faults) != 1 {
		t.Fatalf("indication %+v", ind)
	}
}

type failPin struct{ n int }

func (f *failPin) Out(gpio.Level) error { f.n++; return errTest }

func TestOutputWriteErrorLoggedOnce(t *testing.T) {
	var lb logBuf
	fp := &failPin{}
	clk := clock.NewFake(t0)
	p := New(Pins{Red: &Out{Key: "led_red", Pin: fp}}, Options{Clock: clk, Log: lb.logger()})
	p.DeviceFault(DeviceCamera, true)
	step(clk, 5*time.Second)
	if fp.n < 5 {
		t.Fatalf("only %d writes tried", fp.n)
	}
	if n := countLines(lb.String(), "writing an output failed"); n != 1 {
		t.Fatalf("logged %d times, want once:\n%s", n, lb.String())
	}
}
