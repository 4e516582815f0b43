package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"eidkiosk/drivers/gpio"
	reader "eidkiosk/drivers/idcard"
	"eidkiosk/fleetproto"
	"eidkiosk/idcard"
	"eidkiosk/internal/atomicfile"
	"eidkiosk/internal/health"
	"eidkiosk/internal/logging"
	"eidkiosk/kiosk/audit"
	"eidkiosk/kiosk/config"
	"eidkiosk/kiosk/lease"
	"eidkiosk/kiosk/peripherals"
	"eidkiosk/kiosk/session"
	"eidkiosk/kiosk/update"
	"eidkiosk/provisioning"
)

// AddViewObserver adds a function called with every View (non-blocking).
func (s *System) AddViewObserver(f func(session.View)) {
	s.mu.Lock()
	s.views = append(s.views, f)
	s.mu.Unlock()
}

func (s *System) onView(v session.View) {
	s.mu.Lock()
	obs := s.views
	s.mu.Unlock()
	for _, f := range obs {
		f(v)
	}
}

// stationName is the heading of a printed receipt: the name the authority
// gave the station at provisioning, else the configured one.
func (s *System) stationName() string {
	if s.Identity != nil && s.Identity.StationName != "" {
		return s.Identity.StationName
	}
	return s.Config.Station.Name
}

// printed shows the outcome of a receipt on the red LED and in the errors.
func (s *System) printed(err error) {
	s.printerFault.Store(err != nil)
	s.GPIO.DeviceFault(gpio.DevicePrinter, err != nil)
	if err != nil {
		s.noteError("printer", err)
	}
}

func (s *System) noteError(part string, err error) {
	s.log.Warn(part+" error", "err", err)
	s.mu.Lock()
	s.lastErr = append(s.lastErr, part+": "+logging.Scrub(err.Error()))
	if len(s.lastErr) > 10 {
		s.lastErr = s.lastErr[len(s.lastErr)-10:]
	}
	s.mu.Unlock()
}

// onTamper tells the authority at once (the GPIO watcher sends
// session.Tamper to the engine).
func (s *System) onTamper(open bool, at time.Time) {
	if !open {
		if s.tamperOpened.Swap(false) {
			s.record(audit.EventTamper, "state", "closed")
		}
		return
	}
	s.tamperOpened.Store(true)
	s.record(audit.EventTamper, "state", "opened")
	s.noteError("tamper", errors.New("enclosure opened at "+at.UTC().Format(time.RFC3339)))
	// Tell the authority at once, beside the regular heartbeat.
	if s.client != nil {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			hb := s.heartbeatSender()
			if err := hb.Send(ctx, s.collect()); err != nil {
				s.log.Warn("tamper report not delivered; the next heartbeat carries it", "err", err)
			}
		}()
	}
}

// readerEvent hands the reader's events to the engine as they are (the card
// model's reader.Event), keeping the reader's health (fault LED, health
// map) on the way.
func (s *System) readerEvent(ev reader.Event) {
	switch ev.Kind {
	case idcard.ReaderFault:
		s.GPIO.DeviceFault(gpio.DeviceReader, true)
		s.setHealth("reader", ev.Err)
	case idcard.ReaderBack:
		s.GPIO.DeviceFault(gpio.DeviceReader, false)
		s.setHealth("reader", nil)
	}
	s.Engine.Send(session.ReaderEvent(ev.Event))
}

// setHealth records the outcome of a part's last operation (nil: fine),
// scrubbed of anything that looks personal.
func (s *System) setHealth(part string, err error) {
	s.health.Set(health.FromErr(part, err, s.clk.Now(), logging.Scrub))
	if err != nil {
		s.noteError(part, err)
	}
}

// collect builds a heartbeat report: no personal data, only states.
func (s *System) collect() fleetproto.Report {
	s.mu.Lock()
	errs := append([]string(nil), s.lastErr...)
	s.mu.Unlock()
	checks := s.health.List()
	r := fleetproto.Report{
		SentAt: s.clk.Now(), Version: Version, Healthy: health.AllOK(checks), Checks: checks,
		OutboxDepth: s.Outbox.Stats().Pending, LastErrors: errs,
		UptimeSec: int64(s.clk.Now().Sub(s.started) / time.Second), Channel: s.Config.Update.Channel,
	}
	if s.Update != nil {
		st := s.Update.Status()
		r.Update = st.Heartbeat()
		r.Version = cmp.Or(st.Version, r.Version) // the slot's release, whatever the build stamp says
		r.Slot = update.RunningSlot(s.Config.State.Dir)
	}
	ls := s.Lease.Snapshot()
	r.Lease = fleetproto.Lease{Holder: ls.Holder, Expiry: ls.Expiry}
	r.Audit = s.auditBatch()
	if v := s.Engine.View(); v.Tampered {
		r.Healthy = false
		r.LastErrors = append(r.LastErrors, "tamper: enclosure opened; terminal locked")
	}
	return r
}

// healthChecks are what a new software slot must pass before it is
// committed: the update gate's view of the health board, plus the engine
// and the authority probed now.
func (s *System) healthChecks() []update.Check {
	return []update.Check{
		{Name: "reader", Run: func(ctx context.Context) error { return s.health.Get("reader").Err() }},
		{Name: "engine", Run: func(ctx context.Context) error {
			if s.Engine.View().Seq == 0 {
				return errors.New("session engine not running")
			}
			return nil
		}},
		{Name: "authority", Run: func(ctx context.Context) error {
			if s.Uplink == nil {
				return errors.New("no uplink")
			}
			c := provisioning.NewClient(s.Identity, s.uplinkURL())
			_, err := c.Ping(ctx)
			return err
		}},
	}
}

// gate combines the reasons a visit may not start.
type gate struct{ s *System }

func (g gate) Admit() error {
	s := g.s
	if s.Identity == nil {
		return ErrNotProvisioned
	}
	if st := s.Lease.Snapshot(); st.Holder == update.Holder {
		return fmt.Errorf("app: %w", session.ErrUpdating)
	}
	return s.Outbox.Admit()
}

// signals fans state changes out to the peripherals and the lease.
type signals struct {
	periph peripherals.Signals
	lease  *lease.Lease
}

func (sg signals) StateChanged(from, to session.State) {
	sg.lease.StateChanged(from, to)
	sg.periph.StateChanged(from, to)
}

// notProvisioned refuses to seal: there is no intake key yet.
type notProvisioned struct{}

func (notProvisioned) Submit(context.Context, *session.Enrollment) (session.Receipt, error) {
	return session.Receipt{}, ErrNotProvisioned
}

// applyRemoteConfig validates a signed configuration from the update
// repository and writes it durably over the kiosk's file; a configuration
// the kiosk would refuse at start is refused here and never written.
func applyRemoteConfig(path string, data []byte, version int64, log *slog.Logger) error {
	if path == "" {
		return errors.New("app: no configuration file to apply a remote configuration to")
	}
	if _, err := config.Parse(string(data)); err != nil {
		return fmt.Errorf("app: remote configuration %d refused: %w", version, err)
	}
	if err := atomicfile.Write(path, data, 0o600); err != nil {
		return fmt.Errorf("app: remote configuration %d: %w", version, err)
	}
	log.Info("remote configuration written; it applies at the next start", "version", version)
	return nil
}
