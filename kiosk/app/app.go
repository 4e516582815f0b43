// Package app assembles one kiosk from its configuration: the card reader,
// the camera and face pipeline, the GPIO peripherals and the receipt
// printer, the session engine, the sealing submitter, outbox and uplink,
// certificate renewal, heartbeat, metrics and the update agent. cmd/kiosk
// and the demo build a System and run it; the Fyne UI (package ui) is
// attached by the caller because it must own the main thread.
//
// It holds no logic of its own beyond adapting the parts' events and
// statuses to one another. app.go builds a System, run.go runs its loops,
// adapters.go turns one part's events and states into another's (reader to
// engine, health to heartbeat and update gate, gate, signals); the
// peripherals' meanings are in kiosk/peripherals.
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
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"eidkiosk/drivers/camera"
	"eidkiosk/drivers/gpio"
	"eidkiosk/drivers/idcard"
	"eidkiosk/drivers/printer"
	"eidkiosk/enroll"
	"eidkiosk/internal/clock"
	"eidkiosk/internal/health"
	"eidkiosk/internal/logging"
	"eidkiosk/kiosk/audit"
	"eidkiosk/kiosk/config"
	facecap "eidkiosk/kiosk/face"
	"eidkiosk/kiosk/heartbeat"
	"eidkiosk/kiosk/lease"
	"eidkiosk/kiosk/metrics"
	"eidkiosk/kiosk/outbox"
	"eidkiosk/kiosk/peripherals"
	"eidkiosk/kiosk/session"
	"eidkiosk/kiosk/submit"
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
	// PhotoDecoder replaces the configured card photo decoder (the
	// simulator's test decoder in the demo).
	PhotoDecoder idcard.PhotoDecoder
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
	hb       *heartbeat.Sender // made once by heartbeat(); the update agent kicks it
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
	// Metrics is the Prometheus registry; Run serves it on metrics.addr.
	Metrics *metrics.Metrics
	// Face is the capture pipeline; the UI takes its live preview from it
	// when it has one.
	Face session.FaceCapturer

	log     *slog.Logger
	clk     clock.Clock
	camera  *camera.Camera
	match   *matchFrames // the capture's samples for the card-photo comparison; nil: no comparison
	client  *http.Client
	started time.Time

	mu      sync.Mutex
	views   []func(session.View)
	lastErr []string
	closers []func() error

	audit      *auditor // the audit log's writer (audit.go); nil: no log
	auditAcked uint64   // the last AuditAck.Have seen
	auditAlert string   // and its alert
	// tamperOpened: the enclosure was reported open (its closing is audited).
	tamperOpened atomic.Bool

	// health is the parts' live health (reader, camera), for the heartbeat,
	// the update gate and technician mode.
	health health.Board
	// printerFault: the last receipt did not print (metrics).
	printerFault atomic.Bool
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
		views: append([]func(session.View){}, o.OnView...)}
	fail := func(err error) (*System, error) {
		s.Close()
		return nil, err
	}
	if err := os.MkdirAll(cfg.State.Dir, 0o700); err != nil {
		return fail(fmt.Errorf("app: state directory: %w", err))
	}
	s.Metrics = s.newMetrics()
	s.views = append(s.views, s.Metrics.Visits.Observe)

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
	s.openAudit()

	// Outbox, sealing and uplink.
	ob, err := outbox.Open(ctx, outbox.DirIn(cfg.State.Dir), cfg.Outbox, o.Clock)
	if err != nil {
		return fail(err)
	}
	s.Outbox = ob
	ob.SetLogger(s.log)
	s.closers = append(s.closers, ob.Close)
	var submitter session.Submitter = notProvisioned{}
	if id != nil {
		sealer, err := enroll.NewSealer(id.Signer, id.Certificate(), id.IntakePublicKey, id.DeviceID, id.StationID, rand.Reader)
		if err != nil {
			return fail(fmt.Errorf("app: sealer: %w", err))
		}
		submitter = submit.NewSubmitter(sealer, ob, Version, o.Clock, rand.Reader)
		s.Uplink, err = uplink.New(uplink.Options{
			URL: s.uplinkURL(), Certificate: id.TLSCertificate(), Roots: id.RootCAs,
			ReceiptKey: ed25519.PublicKey(id.ReceiptPublicKey), Queue: s.Metrics.Visits.Queue(ob),
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
		pins, err = peripherals.OpenGPIO(cfg.GPIO, s.log)
		if err != nil {
			return fail(fmt.Errorf("app: %w", err))
		}
	}
	gopt := peripherals.GPIOOptions(cfg.GPIO)
	gopt.Clock, gopt.Log, gopt.OnTamper = o.Clock, s.log, s.onTamper
	s.GPIO = gpio.New(pins, gopt)
	s.closers = append(s.closers, s.GPIO.Close)

	// Receipt printer (optional): the engine's print effect.
	var receipts session.ReceiptPrinter
	if cfg.Printer.Port != "" {
		p, err := printer.Open(cfg.Printer.Port, cfg.Printer.Baud, peripherals.PrinterOptions(cfg.Printer))
		if err != nil {
			s.log.Warn("receipt printer not available; receipts are shown on screen only", "err", err)
		} else {
			s.Printer = p
			s.closers = append(s.closers, p.Close)
			receipts = &peripherals.Receipts{Printer: p, Station: s.stationName, Done: s.printed}
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
	if o.PhotoDecoder != nil {
		photo = o.PhotoDecoder
	}
	match, err := s.buildCardMatcher(photo)
	if match != nil {
		s.match = &matchFrames{}
	}
	if err != nil {
		return fail(err)
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
	s.views = append(s.views, s.auditView())

	// The engine.
	s.Engine = session.New(session.Options{
		Timeouts:   cfg.Timeouts,
		Face:       s.Metrics.Visits.Face(s.sampleForMatch(face)),
		Submit:     submitter,
		Gate:       gate{s},
		Signals:    signals{peripherals.Signals{P: s.GPIO}, s.Lease},
		Print:      receipts,
		Clock:      o.Clock,
		Logger:     s.log,
		Lang:       cfg.UI.Language,
		PIN:        s.auditedPIN(s.technicianPIN()),
		TamperLock: s.tamperLock(),
		OnView:     s.onView, // with s.auditView among the observers
		Match:      s.Metrics.Visits.Matcher(match),
	})
	if u, ok := face.(facecap.Unavailable); ok {
		// The face pipeline could not start (a model missing or altered):
		// the engine knows the camera side is down before the first visit.
		s.Engine.Send(session.CameraFault{Err: u.Err})
	}

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
			OfflineGrace: cfg.Update.OfflineGrace.Duration, MaxTarget: cfg.Update.MaxSize, OnStatus: s.onUpdateStatus(),
			Clock: o.Clock, Lease: s.Lease, Checks: s.healthChecks(), Log: s.log,
			OnConfig: func(ctx context.Context, data []byte, version int64) error {
				if err := applyRemoteConfig(o.ConfigPath, data, version, s.log); err != nil {
					return err
				}
				s.record(audit.EventConfigChanged, "version", strconv.FormatInt(version, 10), "applies", "next start")
				return nil
			},
		})
		if err != nil {
			s.log.Warn("update agent not started", "err", err)
			s.Update = nil
		}
	}
	if s.Update == nil && !o.NoUpdate && cfg.State.Dir != "" && update.RunningSlot(cfg.State.Dir) != "" {
		// Updates are off, yet this process may run a release the Debian
		// package put on trial: an agent that only settles the trial
		// (health checks, commit or roll back) and fetches nothing.
		s.Update, err = update.New(update.Options{
			StateDir: cfg.State.Dir, ConfirmOnly: true, Version: Version, HealthWindow: cfg.Update.HealthWindow.Duration,
			OnStatus: s.onUpdateStatus(), Clock: o.Clock, Lease: s.Lease, Checks: s.healthChecks(), Log: s.log,
		})
		if err != nil {
			s.log.Warn("update agent (trial only) not started", "err", err)
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
