// Package app assembles one kiosk from its configuration: the card reader,
// the camera and face pipeline, the GPIO peripherals and the receipt
// printer, the session engine, the sealing submitter, outbox and uplink,
// certificate renewal, heartbeat, metrics and the update agent. cmd/kiosk
// and the demo build a System and run it; the Fyne UI (package ui) is
// attached by the caller because it must own the main thread.
//
// It holds no logic of its own beyond adapting the parts' events and
// statuses to one another.
package app

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"eidkiosk/drivers/camera"
	"eidkiosk/drivers/gpio"
	"eidkiosk/drivers/idcard"
	"eidkiosk/drivers/printer"
	"eidkiosk/enroll"
	"eidkiosk/internal/clock"
	"eidkiosk/internal/logging"
	"eidkiosk/kiosk/config"
	"eidkiosk/kiosk/heartbeat"
	"eidkiosk/kiosk/lease"
	"eidkiosk/kiosk/metrics"
	"eidkiosk/kiosk/outbox"
	"eidkiosk/kiosk/sdnotify"
	"eidkiosk/kiosk/session"
	"eidkiosk/kiosk/update"
	"eidkiosk/kiosk/uplink"
	"eidkiosk/provisioning"
)

// Version is the kiosk software version, set at build time with
// -ldflags "-X eidkiosk/kiosk/app.Version=...".
var Version = "0.1.0-dev"

// Options are what a System is built from.
type Options struct {
	Config config.Config
	Logger *slog.Logger
	Tail   *logging.Tail // log lines for technician mode; may be nil
	Clock  clock.Clock   // nil: real time
	// Face captures portraits; nil builds the OpenCV pipeline from Config.
	Face session.FaceCapturer
	// Pins replaces the GPIO pins found from Config (simulated pins).
	Pins *gpio.Pins
	// OpenPort replaces the serial open of the reader (nil: real serial).
	OpenPort func(path string, baud int) (idcard.Port, error)
	// OnView observers besides the UI (the demo's scripted citizen).
	OnView []func(session.View)
	// NoUpdate disables the update agent (demo, tests).
	NoUpdate bool
	// ConfigPath is the file a signed remote configuration is written to
	// (validated first); it takes effect at the next start.
	ConfigPath string
}

// System is one assembled kiosk.
type System struct {
	Config   config.Config
	Engine   *session.Engine
	Identity *provisioning.Identity // nil when not provisioned
	Outbox   *outbox.Outbox
	Uplink   *uplink.Uplink
	Poller   *idcard.Poller
	GPIO     *gpio.Peripherals
	Printer  *printer.Printer
	Lease    *lease.Lease
	Update   *update.Agent
	Tail     *logging.Tail
	// Face is the capture pipeline; the UI takes its live preview from it
	// when it has one.
	Face session.FaceCapturer

	log     *slog.Logger
	clk     clock.Clock
	camera  *camera.Camera
	client  *http.Client
	started time.Time

	mu      sync.Mutex
	views   []func(session.View)
	lastErr []string
	health  map[string]error
	closers []func() error
	// lastPrinted is the enrollment whose receipt was printed last.
	lastPrinted string
}

// ErrNotProvisioned is the gate's reason before provisioning.
var ErrNotProvisioned = fmt.Errorf("app: terminal not provisioned (run kioskctl provision): %w", session.ErrDisabled)

// Build assembles a System. Required configuration that is wrong fails
// here; optional hardware that is missing is logged and left off.
func Build(ctx context.Context, o Options) (*System, error) {
	cfg := o.Config
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	s := &System{Config: cfg, log: o.Logger, clk: o.Clock, Tail: o.Tail, started: o.Clock.Now(),
		views: append([]func(session.View){}, o.OnView...), health: map[string]error{}}
	fail := func(err error) (*System, error) {
		s.Close()
		return nil, err
	}
	if err := os.MkdirAll(cfg.State.Dir, 0o700); err != nil {
		return fail(fmt.Errorf("app: state directory: %w", err))
	}

	// Identity (provisioning) — without it the kiosk runs but refuses visits.
	id, err := provisioning.LoadIdentity(cfg.State.Dir)
	switch {
	case err == nil:
		s.Identity = id
		s.closers = append(s.closers, id.Close)
		s.client = &http.Client{Timeout: cfg.Uplink.Timeout.Duration, Transport: &http.Transport{
			TLSClientConfig: id.TLSConfig(), ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 2}}
	case errors.Is(err, provisioning.ErrNotProvisioned):
		s.log.Warn("terminal not provisioned: visits refused until `kioskctl provision` runs")
	default:
		return fail(fmt.Errorf("app: device identity: %w", err))
	}

	// Outbox, sealing and uplink.
	ob, err := outbox.Open(ctx, outbox.DirIn(cfg.State.Dir), cfg.Outbox, o.Clock)
	if err != nil {
		return fail(err)
	}
	s.Outbox = ob
	ob.SetLogger(s.log)
	s.closers = append(s.closers, ob.Close)
	var submit session.Submitter = notProvisioned{}
	if id != nil {
		sealer, err := enroll.NewSealer(id.Signer, id.Certificate(), id.IntakePublicKey, id.DeviceID, id.StationID, rand.Reader)
		if err != nil {
			return fail(fmt.Errorf("app: sealer: %w", err))
		}
		submit = enroll.NewSubmitter(sealer, ob, Version, o.Clock, rand.Reader)
		s.Uplink, err = uplink.New(uplink.Options{
			URL: s.uplinkURL(), Certificate: id.TLSCertificate(), Roots: id.RootCAs,
			ReceiptKey: ed25519.PublicKey(id.ReceiptPublicKey), Queue: ob,
			MinBackoff: cfg.Uplink.MinBackoff.Duration, MaxBackoff: cfg.Uplink.MaxBackoff.Duration,
			Timeout: cfg.Uplink.Timeout.Duration, Clock: o.Clock, Logger: s.log,
		})
		if err != nil {
			return fail(err)
		}
	}

	// GPIO peripherals (optional hardware).
	pins := Pins{}
	if o.Pins != nil {
		pins = *o.Pins
	} else {
		pins, err = gpio.Open(cfg.GPIO, s.log)
		if err != nil {
			return fail(err)
		}
	}
	s.GPIO = gpio.New(pins, gpio.Options{Clock: o.Clock, Log: s.log, OnTamper: s.onTamper,
		Debounce: cfg.GPIO.Debounce.Duration, PollInterval: cfg.GPIO.PollInterval.Duration})
	s.closers = append(s.closers, s.GPIO.Close)

	// Receipt printer (optional).
	if cfg.Printer.Port != "" {
		p, err := printer.Open(cfg.Printer.Port, cfg.Printer.Baud, printer.FromConfig(cfg.Printer))
		if err != nil {
			s.log.Warn("receipt printer not available; receipts are shown on screen only", "err", err)
		} else {
			s.Printer = p
			s.closers = append(s.closers, p.Close)
		}
	}

	// Card reader.
	var photo idcard.PhotoDecoder
	if cfg.Reader.PhotoDecoder != "" {
		photo, err = idcard.NewPhotoDecoder(cfg.Reader.PhotoDecoder, cfg.Reader.PhotoDecoderTimeout.Duration)
		if err != nil {
			return fail(fmt.Errorf("app: reader.photo_decoder: %w", err))
		}
	}
	s.Poller = idcard.NewPoller(idcard.Options{
		Port: cfg.Reader.Port, Baud: cfg.Reader.Baud, Interval: cfg.Reader.PollInterval.Duration,
		Fingerprint: cfg.Reader.Fingerprint, NoProbe: !cfg.Reader.ProbeBaud,
		Photo: photo, Open: o.OpenPort, Clock: o.Clock, Log: s.log,
	})

	// The visit lease: held during a visit, taken by the update agent to switch.
	s.Lease = lease.New(o.Clock, cfg.Timeouts.FaceCapture.Duration*time.Duration(cfg.Timeouts.FaceAttempts)+10*time.Minute)

	// Face capture.
	face := o.Face
	if face == nil {
		face, err = s.buildFace(cfg)
		if err != nil {
			return fail(err)
		}
	}

	s.Face = face

	// The engine.
	s.Engine = session.New(session.Options{
		Timeouts:   cfg.Timeouts,
		Face:       face,
		Submit:     submit,
		Gate:       gate{s},
		Signals:    signals{s.GPIO, s.Lease},
		Clock:      o.Clock,
		Logger:     s.log,
		Lang:       cfg.UI.Language,
		PIN:        s.technicianPIN(),
		TamperLock: s.tamperLock(),
		OnView:     s.onView,
	})

	// Updates.
	if !o.NoUpdate && cfg.Update.Enabled && id != nil && len(id.TUFRoot) > 0 {
		repo := cfg.Update.RepoURL
		if repo == "" {
			repo = s.uplinkURL() + "/tuf/"
		}
		s.Update, err = update.New(update.Options{
			StateDir: cfg.State.Dir, TrustedRoot: id.TUFRoot, RepoURL: repo, Client: s.client,
			Version: Version, DeviceID: id.DeviceID, Station: id.StationID, Channel: cfg.Update.Channel,
			PollInterval: cfg.Update.PollInterval.Duration, HealthWindow: cfg.Update.HealthWindow.Duration,
			OfflineGrace: cfg.Update.OfflineGrace.Duration, MaxTarget: cfg.Update.MaxSize,
			Clock: o.Clock, Lease: s.Lease, Checks: s.healthChecks(), Log: s.log,
			OnConfig: func(ctx context.Context, data []byte, version int64) error {
				return applyRemoteConfig(o.ConfigPath, data, version, s.log)
			},
		})
		if err != nil {
			s.log.Warn("update agent not started", "err", err)
			s.Update = nil
		}
	}
	return s, nil
}

// Pins, Out and In are the GPIO pin set (re-exported for callers building
// simulated pins).
type (
	Pins = gpio.Pins
	Out  = gpio.Out
	In   = gpio.In
)

func (s *System) uplinkURL() string {
	if s.Identity != nil && s.Identity.AuthorityURL != "" && s.Config.Authority.URL == config.Default().Authority.URL {
		return s.Identity.AuthorityURL
	}
	return s.Config.Authority.URL
}

// Logger is the kiosk's logger.
func (s *System) Logger() *slog.Logger { return s.log }

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
	if v.State == session.ReceiptShown && v.Receipt != nil && s.Printer != nil {
		r := *v.Receipt
		go s.printReceipt(r)
	}
}

// printReceipt prints each receipt once (the receipt screen publishes
// several views).
func (s *System) printReceipt(r session.Receipt) {
	s.mu.Lock()
	dup := s.lastPrinted == r.EnrollmentID
	s.lastPrinted = r.EnrollmentID
	s.mu.Unlock()
	if dup {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	station := s.Config.Station.Name
	if s.Identity != nil && s.Identity.StationName != "" {
		station = s.Identity.StationName
	}
	if err := s.Printer.Print(ctx, r, station); err != nil {
		s.GPIO.DeviceFault(gpio.DevicePrinter, true)
		s.noteError("printer", err)
		return
	}
	s.GPIO.DeviceFault(gpio.DevicePrinter, false)
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

// onTamper tells the authority at once (Watch itself sends session.Tamper
// to the engine).
func (s *System) onTamper(open bool, at time.Time) {
	if !open {
		return
	}
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

// Run runs every loop until ctx ends; it returns the first unexpected error.
func (s *System) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	run := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && !errors.Is(err, context.Canceled) && ctx.Err() == nil {
				errc <- fmt.Errorf("app: %s: %w", name, err)
			}
		}()
	}
	run("session", s.Engine.Run)
	run("reader", func(ctx context.Context) error { return s.Poller.Run(ctx, s.readerEvent) })
	run("gpio", func(ctx context.Context) error { return s.GPIO.Watch(ctx, s.Engine.Send) })
	run("outbox-watch", s.watchOutbox)
	if s.Uplink != nil {
		run("uplink", s.Uplink.Run)
		run("heartbeat", s.heartbeatSender().Run)
		run("renewal", s.renewLoop)
	}
	if s.Update != nil {
		run("update", s.Update.Run)
	}
	if s.Config.Metrics.Addr != "" {
		m := metrics.New(metrics.Sources{
			Version: Version,
			Lease:   s.Lease.Snapshot,
			Outbox:  func() (int, int64) { st := s.Outbox.Stats(); return st.Pending, st.Bytes },
			Update: func() update.Status {
				if s.Update == nil {
					return update.Status{}
				}
				return s.Update.Status()
			},
		})
		run("metrics", func(ctx context.Context) error {
			if err := m.Serve(ctx, s.Config.Metrics.Addr, nil); err != nil && ctx.Err() == nil {
				s.noteError("metrics", err) // optional: never stops the kiosk
			}
			return nil
		})
	}
	if n := sdnotify.New(); n.Enabled() {
		defer n.Stopping()
		run("systemd", func(ctx context.Context) error { return s.superviseSystemd(ctx, n) })
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		cancel()
	}
	wg.Wait()
	return err
}

// readerEvent adapts the reader's events to the engine's.
func (s *System) readerEvent(ev idcard.Event) {
	switch ev.Kind {
	case idcard.CardPlaced:
		s.Engine.Send(session.CardPlaced{})
	case idcard.CardRead:
		s.Engine.Send(session.CardRead{Card: ev.Card, Photo: ev.Photo})
	case idcard.CardReadFailed:
		s.Engine.Send(session.CardReadFailed{Err: ev.Err, Invalid: ev.Invalid})
	case idcard.CardRemoved:
		s.Engine.Send(session.CardRemoved{})
	case idcard.ReaderFault:
		s.GPIO.DeviceFault(gpio.DeviceReader, true)
		s.setHealth("reader", ev.Err)
		s.Engine.Send(session.ReaderFault{Err: ev.Err})
	case idcard.ReaderBack:
		s.GPIO.DeviceFault(gpio.DeviceReader, false)
		s.setHealth("reader", nil)
		s.Engine.Send(session.ReaderBack{})
	}
}

func (s *System) setHealth(part string, err error) {
	s.mu.Lock()
	s.health[part] = err
	s.mu.Unlock()
	if err != nil {
		s.noteError(part, err)
	}
}

// watchOutbox asks the engine to re-check admission whenever the outbox changes.
func (s *System) watchOutbox(ctx context.Context) error {
	ch, stop := s.Outbox.Subscribe()
	defer stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
			s.Engine.Send(session.Recheck{})
		}
	}
}

func (s *System) renewLoop(ctx context.Context) error {
	r := &provisioning.Renewer{Identity: s.Identity, URL: s.uplinkURL(), Clock: s.clk, Log: s.log}
	t := time.NewTicker(6 * time.Hour)
	defer t.Stop()
	for {
		if _, err := r.Check(ctx); err != nil && ctx.Err() == nil {
			s.noteError("renewal", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (s *System) heartbeatSender() *heartbeat.Sender {
	return &heartbeat.Sender{Authority: s.uplinkURL(), Client: s.client, Collect: s.collect, Clock: s.clk, Log: s.log}
}

// collect builds a heartbeat report: no personal data, only states.
func (s *System) collect() heartbeat.Report {
	s.mu.Lock()
	errs := append([]string(nil), s.lastErr...)
	var checks []heartbeat.Check
	healthy := true
	for name, err := range s.health {
		c := heartbeat.Check{Name: name, OK: err == nil}
		if err != nil {
			c.Error = logging.Scrub(err.Error())
			healthy = false
		}
		checks = append(checks, c)
	}
	s.mu.Unlock()
	r := heartbeat.Report{
		SentAt: s.clk.Now(), Version: Version, Healthy: healthy, Checks: checks,
		OutboxDepth: s.Outbox.Stats().Pending, LastErrors: errs,
		UptimeSec: int64(s.clk.Now().Sub(s.started) / time.Second), Channel: s.Config.Update.Channel,
	}
	if s.Update != nil {
		st := s.Update.Status()
		r.Update = st.Heartbeat()
		r.Slot = update.RunningSlot(s.Config.State.Dir)
	}
	ls := s.Lease.Snapshot()
	r.Lease = heartbeat.Lease{Holder: ls.Holder, Expiry: ls.Expiry}
	if v := s.Engine.View(); v.Tampered {
		r.Healthy = false
		r.LastErrors = append(r.LastErrors, "tamper: enclosure opened; terminal locked")
	}
	return r
}

// healthChecks are what a new software slot must pass before it is committed.
func (s *System) healthChecks() []update.Check {
	return []update.Check{
		{Name: "reader", Run: func(ctx context.Context) error { return s.healthOf("reader") }},
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

// Healthy is nil while the kiosk can serve citizens or says why it cannot
// (systemd's watchdog is fed only while healthy; a dead reader is shown on
// screen instead, so it does not count here).
func (s *System) Healthy() error {
	if s.Engine.View().Seq == 0 {
		return errors.New("session engine not running")
	}
	return nil
}

func (s *System) healthOf(part string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.health[part]
}

// Close releases devices and files.
func (s *System) Close() error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		if err := s.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	s.closers = nil
	return errors.Join(errs...)
}

// TLSCertificate is the device certificate, for callers that talk to the
// authority themselves (self-test).
func (s *System) TLSCertificate() (tls.Certificate, bool) {
	if s.Identity == nil {
		return tls.Certificate{}, false
	}
	return s.Identity.TLSCertificate(), true
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
	gpio  *gpio.Peripherals
	lease *lease.Lease
}

func (sg signals) StateChanged(from, to session.State) {
	sg.lease.StateChanged(from, to)
	sg.gpio.StateChanged(from, to)
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
	if err := outbox.WriteFileDurable(path, data); err != nil {
		return fmt.Errorf("app: remote configuration %d: %w", version, err)
	}
	log.Info("remote configuration written; it applies at the next start", "version", version)
	return nil
}
