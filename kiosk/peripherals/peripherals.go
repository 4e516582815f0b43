// Package peripherals translates between the visit and the kiosk's simple
// peripherals: it maps the configuration's [gpio] and [printer] sections to
// the drivers' own options (drivers/gpio, drivers/printer), the visit's
// states to LED modes, beeps and the IR light (Signals), the GPIO inputs to
// session events (Inputs), and the engine's "print the receipt" effect to
// the receipt printer (Receipts).
//
// It holds the meanings, not the mechanics: blink timing, debouncing and
// ESC/POS live in the drivers, the visit's rules in kiosk/session. It opens
// no device itself except through the drivers' Open functions, and it never
// sees personal data (a receipt carries none).
package peripherals

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"eidkiosk/drivers/gpio"
	"eidkiosk/drivers/printer"
	"eidkiosk/kiosk/config"
	"eidkiosk/kiosk/session"
)

// Layout names the configured pins in the driver's terms.
func Layout(c config.GPIOConfig) gpio.Layout {
	spec := func(key string) gpio.PinSpec { return gpio.PinSpec{Name: c.Pin(key), ActiveLow: c.IsActiveLow(key)} }
	return gpio.Layout{
		Green: spec("led_green"), Amber: spec("led_amber"), Red: spec("led_red"),
		Buzzer: spec("buzzer"), IR: spec("ir_light"),
		Presence: spec("presence"), Tamper: spec("tamper"),
	}
}

// OpenGPIO opens the configured pins. A pin the board does not have is the
// driver's *gpio.PinError, wrapped in a message naming the configuration
// key (gpio.<peripheral>).
func OpenGPIO(c config.GPIOConfig, log *slog.Logger) (gpio.Pins, error) {
	pins, err := gpio.Open(Layout(c), log)
	var pe *gpio.PinError
	if errors.As(err, &pe) {
		return gpio.Pins{}, fmt.Errorf("configuration key gpio.%s: %w", pe.Peripheral, err)
	}
	return pins, err
}

// GPIOOptions are the driver options the [gpio] section sets; the caller
// adds the clock, the logger and the tamper hook.
func GPIOOptions(c config.GPIOConfig) gpio.Options {
	return gpio.Options{Debounce: c.Debounce.Duration, PollInterval: c.PollInterval.Duration}
}

// PrinterOptions turns the [printer] section into the driver's options.
func PrinterOptions(c config.PrinterConfig) printer.Options {
	return printer.Options{RasterQR: c.QR == "raster", ASCII: c.Charset == "ascii", SkipStatus: !c.StatusCheck}
}

// ModeFor maps a visit state to an LED mode.
func ModeFor(s session.State) gpio.Mode {
	switch s {
	case session.Attract:
		return gpio.ModeIdle
	case session.Failed:
		return gpio.ModeAttention
	case session.Unavailable:
		return gpio.ModeFault
	default: // the steps of a visit, and technician mode
		return gpio.ModeBusy
	}
}

// Signals shows the visit on the peripherals: the LED mode of each state,
// the IR light during face capture, a beep when the card was read, when the
// enrollment was saved and on an error screen (not while the tamper alarm
// sounds). It implements session.Signals.
type Signals struct{ P *gpio.Peripherals }

var _ session.Signals = Signals{}

// StateChanged implements session.Signals.
func (s Signals) StateChanged(from, to session.State) {
	s.P.SetMode(ModeFor(to))
	s.P.SetIR(to == session.FaceCapture)
	switch {
	case from == session.CardReading && to == session.DataShown:
		s.P.Beep(gpio.BeepCardRead)
	case to == session.ReceiptShown && from != session.ReceiptShown:
		s.P.Beep(gpio.BeepSuccess)
	case (to == session.Failed || to == session.Unavailable) && from != to && !s.P.Tampered():
		s.P.Beep(gpio.BeepError)
	}
}

// Inputs returns a gpio.Watch callback that sends the presence sensor and
// the tamper switch to the engine as session.Presence and session.Tamper.
func Inputs(send func(session.Event)) func(gpio.Reading) {
	return func(r gpio.Reading) {
		switch r.Sensor {
		case gpio.SensorPresence:
			send(session.Presence{Present: r.Active})
		case gpio.SensorTamper:
			send(session.Tamper{Open: r.Active})
		}
	}
}

// ReceiptPrinter is what Receipts needs of a printer; *printer.Printer is one.
type ReceiptPrinter interface {
	Print(ctx context.Context, r printer.Receipt) error
}

// Receipts prints the citizen's receipt when the engine asks for it. It
// implements session.ReceiptPrinter; the printing runs in the background.
type Receipts struct {
	Printer ReceiptPrinter
	// Station is the heading printed on each receipt; called per receipt,
	// since provisioning may name the station after start.
	Station func() string
	// Done is called with the outcome of each receipt (nil: printed), from
	// the printing goroutine: the kiosk shows the printer's blink code and
	// notes the error.
	Done func(err error)
	// Timeout bounds one receipt; 20 s when 0.
	Timeout time.Duration
}

var _ session.ReceiptPrinter = (*Receipts)(nil)

// Receipt is what the printer is given of a saved enrollment.
func Receipt(r session.Receipt, station string) printer.Receipt {
	return printer.Receipt{Station: station, Number: r.Short, QR: r.QR, At: r.Queued, Sent: r.Sent}
}

// PrintReceipt implements session.ReceiptPrinter: it starts printing r and
// returns at once.
func (p *Receipts) PrintReceipt(r session.Receipt) {
	go p.print(r)
}

func (p *Receipts) print(r session.Receipt) {
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = 20 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	station := ""
	if p.Station != nil {
		station = p.Station()
	}
	err := p.Printer.Print(ctx, Receipt(r, station))
	if err != nil {
		err = fmt.Errorf("peripherals: printing receipt %s: %w", r.Short, err)
	}
	if p.Done != nil {
		p.Done(err)
	}
}
