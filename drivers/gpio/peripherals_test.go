package gpio

import (
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"eidkiosk/internal/clock"
	"eidkiosk/kiosk/session"
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

func TestStateToLEDs(t *testing.T) {
	H, L := gpio.High, gpio.Low
	cases := []struct {
		to   session.State
		mode Mode
		leds [3]gpio.Level // green, amber, red, held over 3s
	}{
		{session.Attract, ModeIdle, [3]gpio.Level{H, L, L}},
		{session.CardWait, ModeBusy, [3]gpio.Level{L, H, L}},
		{session.CardReading, ModeBusy, [3]gpio.Level{L, H, L}},
		{session.FaceCapture, ModeBusy, [3]gpio.Level{L, H, L}},
		{session.Sealing, ModeBusy, [3]gpio.Level{L, H, L}},
		{session.ReceiptShown, ModeBusy, [3]gpio.Level{L, H, L}},
		{session.Technician, ModeBusy, [3]gpio.Level{L, H, L}},
		{session.Unavailable, ModeFault, [3]gpio.Level{L, L, H}},
	}
	for _, c := range cases {
		r := newRig(t)
		r.p.StateChanged(session.Attract, c.to)
		if got := r.p.Indication().Mode; got != c.mode {
			t.Errorf("%v: mode %v, want %v", c.to, got, c.mode)
		}
		for i := 0; i < 6; i++ {
			if got := r.leds(); got != c.leds {
				t.Errorf("%v at +%v: leds %v, want %v", c.to, time.Duration(i)*500*time.Millisecond, got, c.leds)
			}
			step(r.clk, 500*time.Millisecond)
		}
	}
}

func TestAttentionBlinksAmber(t *testing.T) {
	r := newRig(t)
	r.p.StateChanged(session.CardReading, session.Failed)
	r.amber.reset()
	// Re-entering the same mode must not restart the blink.
	step(r.clk, 250*time.Millisecond)
	r.p.StateChanged(session.Failed, session.Failed)
	step(r.clk, 1750*time.Millisecond)
	expect(t, "amber", r.amber.changes(),
		change{ms(500), gpio.Low}, change{ms(1000), gpio.High}, change{ms(1500), gpio.Low}, change{ms(2000), gpio.High})
	if r.green.level() != gpio.Low || r.red.level() != gpio.Low {
		t.Fatal("only amber should be lit on an error screen")
	}
}

func TestBuzzerPatterns(t *testing.T) {
	cases := []struct {
		from, to session.State
		want     []change
	}{
		{session.CardReading, session.DataShown, []change{{0, gpio.High}, {ms(80), gpio.Low}}},
		{session.Sealing, session.ReceiptShown, []change{{0, gpio.High}, {ms(120), gpio.Low}, {ms(200), gpio.High}, {ms(600), gpio.Low}}},
		{session.FaceCapture, session.Failed, []change{{0, gpio.High}, {ms(150), gpio.Low}, {ms(250), gpio.High},
			{ms(400), gpio.Low}, {ms(500), gpio.High}, {ms(650), gpio.Low}}},
		{session.Attract, session.Unavailable, []change{{0, gpio.High}, {ms(150), gpio.Low}, {ms(250), gpio.High},
			{ms(400), gpio.Low}, {ms(500), gpio.High}, {ms(650), gpio.Low}}},
		// Quiet transitions.
		{session.Attract, session.CardWait, nil},
		{session.DataShown, session.Consent, nil},
		{session.Unavailable, session.Unavailable, nil},
	}
	for _, c := range cases {
		r := newRig(t)
		r.buzzer.reset()
		r.p.StateChanged(c.from, c.to)
		step(r.clk, 3*time.Second)
		expect(t, c.from.String()+"→"+c.to.String(), r.buzzer.changes(), c.want...)
		if r.buzzer.level() != gpio.Low {
			t.Errorf("%v→%v: buzzer left on", c.from, c.to)
		}
	}
}

func TestIRLightOnlyDuringFaceCapture(t *testing.T) {
	r := newRig(t)
	seq := []session.State{session.Attract, session.CardWait, session.CardReading, session.DataShown,
		session.Consent, session.FaceCapture, session.Review, session.FaceCapture, session.Failed, session.Attract}
	for i := 1; i < len(seq); i++ {
		r.p.StateChanged(seq[i-1], seq[i])
		want := gpio.Level(seq[i] == session.FaceCapture)
		if r.ir.level() != want {
			t.Errorf("after %v: IR %v, want %v", seq[i], r.ir.level(), want)
		}
		if r.p.Indication().IR != bool(want) {
			t.Errorf("after %v: Indication().IR wrong", seq[i])
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
	p.StateChanged(session.Attract, session.Attract)
	if g.level() != gpio.Low {
		t.Fatal("active-low green LED should be driven low when lit")
	}
	if b.level() != gpio.High {
		t.Fatal("active-low buzzer should rest high")
	}
	p.StateChanged(session.CardReading, session.DataShown)
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
	for s := session.Attract; s <= session.Technician; s++ {
		p.StateChanged(session.Attract, s)
	}
	p.DeviceFault(DeviceReader, true)
	p.Beep(BeepError)
	if ind := p.Indication(); ind.Mode != ModeBusy || ind.Red != "off" || len(ind.Faults) != 1 {
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
