package peripherals_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	gpiodrv "eidkiosk/drivers/gpio"
	"eidkiosk/drivers/printer"
	"eidkiosk/drivers/printer/sim"
	"eidkiosk/internal/clock"
	"eidkiosk/kiosk/config"
	"eidkiosk/kiosk/peripherals"
	"eidkiosk/kiosk/session"
)

type leds struct{ green, amber, red, buzzer, ir *gpiotest.Pin }

func newPeripherals(t *testing.T) (*gpiodrv.Peripherals, leds) {
	t.Helper()
	l := leds{out("G"), out("A"), out("R"), out("B"), out("IR")}
	p := gpiodrv.New(gpiodrv.Pins{
		Green: &gpiodrv.Out{Key: "led_green", Pin: l.green}, Amber: &gpiodrv.Out{Key: "led_amber", Pin: l.amber},
		Red: &gpiodrv.Out{Key: "led_red", Pin: l.red}, Buzzer: &gpiodrv.Out{Key: "buzzer", Pin: l.buzzer},
		IR: &gpiodrv.Out{Key: "ir_light", Pin: l.ir},
	}, gpiodrv.Options{Clock: clock.NewFake(time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)), Log: discard})
	t.Cleanup(func() { p.Close() })
	return p, l
}

func TestStateToLEDs(t *testing.T) {
	H, L := gpio.High, gpio.Low
	cases := []struct {
		to   session.State
		mode gpiodrv.Mode
		leds [3]gpio.Level // green, amber, red
	}{
		{session.Attract, gpiodrv.ModeIdle, [3]gpio.Level{H, L, L}},
		{session.CardWait, gpiodrv.ModeBusy, [3]gpio.Level{L, H, L}},
		{session.CardReading, gpiodrv.ModeBusy, [3]gpio.Level{L, H, L}},
		{session.FaceCapture, gpiodrv.ModeBusy, [3]gpio.Level{L, H, L}},
		{session.Sealing, gpiodrv.ModeBusy, [3]gpio.Level{L, H, L}},
		{session.ReceiptShown, gpiodrv.ModeBusy, [3]gpio.Level{L, H, L}},
		{session.Technician, gpiodrv.ModeBusy, [3]gpio.Level{L, H, L}},
		{session.Failed, gpiodrv.ModeAttention, [3]gpio.Level{L, H, L}}, // the blink starts lit
		{session.Unavailable, gpiodrv.ModeFault, [3]gpio.Level{L, L, H}},
	}
	for _, c := range cases {
		p, l := newPeripherals(t)
		peripherals.Signals{P: p}.StateChanged(session.Attract, c.to)
		if got := peripherals.ModeFor(c.to); got != c.mode {
			t.Errorf("ModeFor(%v) = %v, want %v", c.to, got, c.mode)
		}
		if got := p.Indication().Mode; got != c.mode {
			t.Errorf("%v: mode %v, want %v", c.to, got, c.mode)
		}
		if got := [3]gpio.Level{l.green.Read(), l.amber.Read(), l.red.Read()}; got != c.leds {
			t.Errorf("%v: leds %v, want %v", c.to, got, c.leds)
		}
	}
}

func TestBeepsFollowTheVisit(t *testing.T) {
	cases := []struct {
		from, to session.State
		want     string // buzzer pattern; "off" for quiet transitions
	}{
		{session.CardReading, session.DataShown, gpiodrv.BeepCardRead.Name},
		{session.Sealing, session.ReceiptShown, gpiodrv.BeepSuccess.Name},
		{session.FaceCapture, session.Failed, gpiodrv.BeepError.Name},
		{session.Attract, session.Unavailable, gpiodrv.BeepError.Name},
		{session.Attract, session.CardWait, "off"},
		{session.DataShown, session.Consent, "off"},
		{session.Unavailable, session.Unavailable, "off"},
		{session.ReceiptShown, session.ReceiptShown, "off"},
	}
	for _, c := range cases {
		p, l := newPeripherals(t)
		peripherals.Signals{P: p}.StateChanged(c.from, c.to)
		ind := p.Indication()
		if ind.Buzzer != c.want {
			t.Errorf("%v→%v: buzzer %q, want %q", c.from, c.to, ind.Buzzer, c.want)
		}
		if (c.want != "off") != (l.buzzer.Read() == gpio.High) {
			t.Errorf("%v→%v: buzzer pin %v", c.from, c.to, l.buzzer.Read())
		}
	}
}

func TestIRLightOnlyDuringFaceCapture(t *testing.T) {
	p, l := newPeripherals(t)
	sig := peripherals.Signals{P: p}
	seq := []session.State{session.Attract, session.CardWait, session.CardReading, session.DataShown,
		session.Consent, session.FaceCapture, session.Review, session.FaceCapture, session.Failed, session.Attract}
	for i := 1; i < len(seq); i++ {
		sig.StateChanged(seq[i-1], seq[i])
		want := gpio.Level(seq[i] == session.FaceCapture)
		if l.ir.Read() != want {
			t.Errorf("after %v: IR %v, want %v", seq[i], l.ir.Read(), want)
		}
	}
}

func TestInputsBecomeEvents(t *testing.T) {
	var got []session.Event
	in := peripherals.Inputs(func(ev session.Event) { got = append(got, ev) })
	in(gpiodrv.Reading{Sensor: gpiodrv.SensorPresence, Active: true})
	in(gpiodrv.Reading{Sensor: gpiodrv.SensorTamper, Active: true})
	in(gpiodrv.Reading{Sensor: gpiodrv.SensorTamper, Active: false})
	want := []session.Event{session.Presence{Present: true}, session.Tamper{Open: true}, session.Tamper{Open: false}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

func TestConfigToDriverOptions(t *testing.T) {
	c := config.Default()
	c.GPIO.ActiveLow = []string{"led_red", "tamper"}
	l := peripherals.Layout(c.GPIO)
	if l.Green.Name != c.GPIO.LEDGreen || l.IR.Name != c.GPIO.IRLight || l.Tamper.Name != c.GPIO.Tamper ||
		l.Presence.Name != c.GPIO.Presence || l.Buzzer.Name != c.GPIO.Buzzer {
		t.Fatalf("layout %+v from %+v", l, c.GPIO)
	}
	if !l.Red.ActiveLow || !l.Tamper.ActiveLow || l.Green.ActiveLow || l.Presence.ActiveLow {
		t.Fatalf("active-low %+v", l)
	}
	if o := peripherals.GPIOOptions(c.GPIO); o.Debounce != c.GPIO.Debounce.Duration || o.PollInterval != c.GPIO.PollInterval.Duration {
		t.Fatalf("gpio options %+v", o)
	}
	c.Printer.QR, c.Printer.Charset, c.Printer.StatusCheck = "raster", "ascii", false
	if o := peripherals.PrinterOptions(c.Printer); !o.RasterQR || !o.ASCII || !o.SkipStatus {
		t.Fatalf("printer options %+v", o)
	}
	c.Printer.QR, c.Printer.Charset, c.Printer.StatusCheck = "native", "gb18030", true
	if o := peripherals.PrinterOptions(c.Printer); o.RasterQR || o.ASCII || o.SkipStatus {
		t.Fatalf("printer options %+v", o)
	}
}

func TestOpenGPIONothingConfigured(t *testing.T) {
	pins, err := peripherals.OpenGPIO(config.GPIOConfig{}, discard)
	if err != nil || pins.Any() {
		t.Fatalf("pins %+v err %v", pins, err)
	}
}

// printerOnPty opens the real ESC/POS driver on the simulator's pty.
func printerOnPty(t *testing.T) (*printer.Printer, *sim.Printer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	o := peripherals.PrinterOptions(config.Default().Printer)
	o.Location = time.UTC
	p, s, err := sim.Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, s
}

// TestReceiptsPrintOverPty is the engine's print effect through the real
// driver to the simulated printer: the receipt carries the station, the
// enrollment number and the QR payload, and the outcome is reported.
func TestReceiptsPrintOverPty(t *testing.T) {
	p, s := printerOnPty(t)
	done := make(chan error, 1)
	rp := &peripherals.Receipts{Printer: p, Station: func() string { return "Demo station" }, Done: func(err error) { done <- err }}
	r := session.Receipt{EnrollmentID: "01JD2X7K3Q9D", Short: "NS01-7K3Q-9D", QR: "eidbind:v1:01JD2X7K3Q9D:Zk3q",
		Queued: time.Date(2026, 11, 23, 8, 5, 0, 0, time.UTC)}
	rp.PrintReceipt(r)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("receipt not printed")
	}
	want, err := p.Render(peripherals.Receipt(r, "Demo station"))
	if err != nil {
		t.Fatal(err)
	}
	waitBytes(t, s, 6+len(want)) // two status requests, then the receipt
	doc, err := s.Document()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	var qr string
	for _, it := range doc.Items {
		if it.QR != nil {
			qr = string(it.QR)
		} else {
			lines = append(lines, it.Text)
		}
	}
	all := strings.Join(lines, "\n")
	for _, want := range []string{"Demo station", "NS01-7K3Q-9D", "2026-11-23 08:05"} {
		if !strings.Contains(all, want) {
			t.Errorf("receipt lacks %q:\n%s", want, all)
		}
	}
	if qr != "eidbind:v1:01JD2X7K3Q9D:Zk3q" {
		t.Errorf("QR %q", qr)
	}

	// Out of paper: nothing is printed, and the sentinel reaches Done.
	s.SetPaper(true, false)
	before := s.Len()
	rp.PrintReceipt(session.Receipt{Short: "NS01-0000-00", QR: "x"})
	select {
	case err := <-done:
		if !errors.Is(err, printer.ErrPaperOut) || !strings.Contains(err.Error(), "NS01-0000-00") {
			t.Fatalf("err = %v, want ErrPaperOut naming the receipt", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no outcome")
	}
	waitBytes(t, s, before+6)
	time.Sleep(50 * time.Millisecond) // anything more would have arrived by now
	if s.Len() != before+6 {          // two status requests (DLE EOT n), nothing else
		t.Fatalf("%d bytes sent without paper", s.Len()-before)
	}
}

// waitBytes waits until the simulator has received n bytes.
func waitBytes(t *testing.T, s *sim.Printer, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitLen(ctx, n); err != nil {
		t.Fatal(err)
	}
}
