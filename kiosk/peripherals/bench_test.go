package peripherals_test

import (
	"testing"

	"periph.io/x/conn/v3/gpio/gpiotest"

	gpiodrv "eidkiosk/drivers/gpio"
	"eidkiosk/internal/clock"
	"eidkiosk/kiosk/peripherals"
	"eidkiosk/kiosk/session"
)

// BenchmarkStateChanged measures what a state change costs the engine's
// goroutine (it must not block): with every peripheral present, against a
// board without GPIO (the baseline: nothing to drive).
func BenchmarkStateChanged(b *testing.B) {
	full := func() gpiodrv.Pins {
		o := func(k string) *gpiodrv.Out { return &gpiodrv.Out{Key: k, Pin: &gpiotest.Pin{N: k}} }
		return gpiodrv.Pins{Green: o("led_green"), Amber: o("led_amber"), Red: o("led_red"), Buzzer: o("buzzer"), IR: o("ir_light")}
	}
	seq := []session.State{session.Attract, session.CardWait, session.CardReading, session.DataShown, session.Consent,
		session.FaceCapture, session.Review, session.Sealing, session.ReceiptShown, session.Failed}
	for _, c := range []struct {
		name string
		pins gpiodrv.Pins
	}{{"baseline-no-gpio", gpiodrv.Pins{}}, {"all-peripherals", full()}} {
		b.Run(c.name, func(b *testing.B) {
			p := gpiodrv.New(c.pins, gpiodrv.Options{Clock: clock.Real{}, Log: discard})
			defer p.Close()
			sig := peripherals.Signals{P: p}
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				sig.StateChanged(seq[i%len(seq)], seq[(i+1)%len(seq)])
			}
		})
	}
}
