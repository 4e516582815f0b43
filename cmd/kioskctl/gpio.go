package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"eidkiosk/drivers/gpio"
	"eidkiosk/drivers/printer"
	"eidkiosk/internal/cli"
	"eidkiosk/internal/clock"
	"eidkiosk/kiosk/config"
	"eidkiosk/kiosk/peripherals"
)

// Technician tests of the peripherals: `gpio test` and `printer test`. Stop
// the kiosk first (systemctl stop eidkiosk-kiosk): it holds the pins and
// the printer's port.
func init() {
	var (
		path  string
		watch time.Duration
		port  string
		baud  int
	)
	loadConfig := func() (config.Config, error) {
		c, err := config.Load(path)
		if errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(app.Stdout, "no %s: using the default configuration\n", path)
			return config.Default(), nil
		}
		return c, err
	}
	app.Register(&cli.Command{
		Name:    "gpio test",
		Summary: "blink each LED, show the LED modes, sound each beep, switch the IR light, then show the presence and tamper inputs",
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&path, "config", config.DefaultPath, "configuration file naming the pins ([gpio])")
			fs.DurationVar(&watch, "watch", 15*time.Second, "then print presence and tamper changes for this long (0: do not watch)")
		},
		Run: func(ctx context.Context, args []string) error {
			c, err := loadConfig()
			if err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(app.Stderr, nil))
			pins, err := peripherals.OpenGPIO(c.GPIO, log)
			if err != nil {
				return err
			}
			if !pins.Any() {
				return errors.New("gpio: no peripherals to test on this board")
			}
			opt := peripherals.GPIOOptions(c.GPIO)
			opt.Clock, opt.Log = clock.Real{}, log
			p := gpio.New(pins, opt)
			defer p.Close()
			if err := p.Exercise(ctx, func(s string) { fmt.Fprintln(app.Stdout, s) }); err != nil {
				return err
			}
			if watch <= 0 {
				return nil
			}
			fmt.Fprintf(app.Stdout, "watching presence and tamper for %s: wave at the sensor, open and close the enclosure\n", watch)
			wctx, cancel := context.WithTimeout(ctx, watch)
			defer cancel()
			return p.Watch(wctx, func(r gpio.Reading) {
				switch r.Sensor {
				case gpio.SensorPresence:
					fmt.Fprintf(app.Stdout, "%s presence: %v\n", time.Now().Format("15:04:05.000"), r.Active)
				case gpio.SensorTamper:
					fmt.Fprintf(app.Stdout, "%s tamper open: %v\n", time.Now().Format("15:04:05.000"), r.Active)
				}
			})
		},
	}, &cli.Command{
		Name:    "printer test",
		Summary: "ask the receipt printer for paper and cover state, then print a test receipt (no personal data)",
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&path, "config", config.DefaultPath, "configuration file ([printer] and [station])")
			fs.StringVar(&port, "port", "", "serial device of the printer (default: printer.port of the configuration)")
			fs.IntVar(&baud, "baud", 0, "baud rate (default: printer.baud of the configuration)")
		},
		Run: func(ctx context.Context, args []string) error {
			c, err := loadConfig()
			if err != nil {
				return err
			}
			if port == "" {
				port = c.Printer.Port
			}
			if baud == 0 {
				baud = c.Printer.Baud
			}
			if port == "" {
				return errors.New("printer: no printer configured (printer.port) and no --port given")
			}
			p, err := printer.Open(port, baud, peripherals.PrinterOptions(c.Printer))
			if err != nil {
				return err
			}
			defer p.Close()
			if !c.Printer.StatusCheck {
				fmt.Fprintln(app.Stdout, "status check off (printer.status_check = false)")
			} else {
				st, err := p.Status(ctx)
				if err != nil {
					return err
				}
				fmt.Fprintf(app.Stdout, "paper out: %v, paper low: %v, cover open: %v, fault: %v\n", st.PaperOut, st.PaperLow, st.CoverOpen, st.Fault)
			}
			r := printer.Receipt{Station: c.Station.Name, Number: "TEST-0000-00", QR: "eidkiosk:printer-test", At: time.Now()}
			if err := p.Print(ctx, r); err != nil {
				return err
			}
			fmt.Fprintln(app.Stdout, "test receipt printed")
			return nil
		},
	})
}
