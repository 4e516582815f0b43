package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"eidkiosk/drivers/gpio"
	"eidkiosk/drivers/idcard"
	"eidkiosk/kiosk/config"
	"eidkiosk/kiosk/peripherals"
	"eidkiosk/kiosk/tamper"
	"eidkiosk/provisioning/selftest"
)

// SelfTest runs the checklist on the running kiosk: the built-in checks
// (disk, clock, authority) and the hardware through the live drivers, and
// sends the report to the authority when provisioned.
func (s *System) SelfTest(ctx context.Context, progress func(name string, i, n int)) selftest.Report {
	rep := selftest.Runner{Timeout: 20 * time.Second, Clock: s.clk, Progress: progress}.Run(ctx, s.selfTestChecks())
	s.mu.Lock()
	s.lastSelfTest = &rep
	s.mu.Unlock()
	if s.Identity != nil {
		if err := selftest.Send(ctx, s.Identity, rep, Version); err != nil {
			s.noteError("selftest", err)
		}
	}
	return rep
}

// selfTestChecks are the checks of the running kiosk's self-test, in order:
// those of `kioskctl selftest`, the hardware through the live drivers.
func (s *System) selfTestChecks() []selftest.Check {
	var checks []selftest.Check
	if s.Identity != nil {
		checks = selftest.Builtin(s.Identity, s.Config.State.Dir, 1<<30, 30*time.Second)
	} else {
		checks = append(checks, selftest.DiskSpace(s.Config.State.Dir, 1<<30))
	}
	checks = append(checks, s.readerCheck(), s.gpioCheck(), enclosureCheck(func() (bool, error) {
		if !s.GPIO.TamperWired() {
			return false, gpio.ErrNotWired
		}
		return s.GPIO.Indication().Tamper, nil
	}, s.tamperLock()))
	if c := s.cameraCheck(); c != nil {
		checks = append(checks, c)
	}
	return checks
}

func (s *System) readerCheck() selftest.Check {
	return selftest.New("reader", func(ctx context.Context) selftest.Result {
		var id string
		err := s.Poller.Do(func(r *idcard.Reader) error {
			if err := r.Status(ctx); err != nil {
				return err
			}
			var err error
			id, err = r.SAMID(ctx)
			return err
		})
		if err != nil {
			return selftest.Failed(err.Error(), fmt.Sprintf("check the reader's cable and that %s exists (udev rule), then run `kioskctl card read --port %s`", s.Config.Reader.Port, s.Config.Reader.Port))
		}
		return selftest.Passed("SAM %s answers on %s", id, s.Config.Reader.Port)
	})
}

func (s *System) gpioCheck() selftest.Check {
	return selftest.New("gpio", func(ctx context.Context) selftest.Result {
		if !s.GPIO.Present() {
			return selftest.Skipped("no GPIO peripherals on this board")
		}
		ind := s.GPIO.Indication()
		return selftest.Passed("LEDs %s/%s/%s", ind.Green, ind.Amber, ind.Red)
	})
}

// HardwareChecks are the hardware checks of `kioskctl selftest`, which runs
// without a kiosk process: they open the reader, the GPIO pins and the
// camera named in cfg themselves (stop the kiosk service first).
func HardwareChecks(cfg config.Config) []selftest.Check {
	// The gpio and enclosure checks share one opening of the pins.
	openPins := sync.OnceValues(func() (gpio.Pins, error) { return peripherals.OpenGPIO(cfg.GPIO, nil) })
	checks := []selftest.Check{
		selftest.New("reader", func(ctx context.Context) selftest.Result {
			return readerOnce(ctx, cfg.Reader)
		}),
		selftest.New("gpio", func(ctx context.Context) selftest.Result {
			pins, err := openPins()
			if err != nil {
				return selftest.Failed(err.Error(), "fix the pin names under [gpio] in the configuration (`kioskctl gpio test` lists them)")
			}
			if !pins.Any() {
				return selftest.Skipped("no GPIO peripherals on this board")
			}
			return selftest.Passed("configured pins found")
		}),
		enclosureCheck(func() (bool, error) {
			pins, err := openPins()
			if err != nil {
				return false, err
			}
			return gpio.ReadTamper(pins)
		}, tamper.New(cfg.State.Dir, nil, "", nil)),
	}
	if c := standaloneCamera(cfg); c != nil {
		checks = append(checks, c)
	}
	return checks
}

// enclosureCheck reports the enclosure: a persisted tamper lock (the
// terminal refuses visits until a technician clears it), the switch open,
// or no switch wired (allowed, but an opened enclosure then goes unnoticed).
func enclosureCheck(readOpen func() (bool, error), lock *tamper.Lock) selftest.Check {
	return selftest.New("enclosure", func(ctx context.Context) selftest.Result {
		if r, ok, err := lock.Record(); ok {
			if err != nil {
				return selftest.Failed("tamper lock present, unreadable: "+err.Error(), "inspect the terminal, then clear the lock in technician mode")
			}
			return selftest.Failed("locked since "+r.LockedAt.UTC().Format(time.RFC3339)+": the enclosure was opened",
				"inspect the terminal for tampering, then clear the lock in technician mode")
		}
		open, err := readOpen()
		switch {
		case errors.Is(err, gpio.ErrNotWired):
			return selftest.Skipped("no tamper switch wired (gpio.tamper is empty): an opened enclosure goes unnoticed")
		case err != nil:
			return selftest.Failed(err.Error(), "fix gpio.tamper in the configuration (`kioskctl gpio test` lists the pins)")
		case open:
			return selftest.Failed("the tamper switch reads open", "close the enclosure; if it is closed, check the switch's wiring to the pin named by gpio.tamper")
		}
		return selftest.Passed("closed; tamper switch wired")
	})
}

func readerOnce(ctx context.Context, rc config.ReaderConfig) selftest.Result {
	fix := fmt.Sprintf("check the reader's cable and power and that %s exists; is the kiosk service still holding it? (systemctl stop eidkiosk-kiosk)", rc.Port)
	port, err := idcard.OpenSerial(rc.Port, rc.Baud)
	if err != nil {
		return selftest.Failed(err.Error(), fix)
	}
	r := idcard.NewReader(port, rc.Baud, idcard.Timeouts{})
	defer r.Close()
	baud, err := r.Probe(ctx)
	if err != nil {
		return selftest.Failed(err.Error(), fix)
	}
	id, err := r.SAMID(ctx)
	if err != nil {
		return selftest.Failed(err.Error(), "the SAM answers but not to SAM ID: the module may be faulty; replace the reader")
	}
	if baud != rc.Baud {
		return selftest.Failed(fmt.Sprintf("SAM %s answers at %d baud, configured %d", id, baud, rc.Baud), fmt.Sprintf("set reader.baud = %d", baud))
	}
	return selftest.Passed("SAM %s answers on %s at %d baud", id, rc.Port, baud)
}
